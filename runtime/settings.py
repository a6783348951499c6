"""The one configuration object, read from O2C_* environment variables.

Every default makes the local stack work with no configuration at all. Secrets shown here are
DEV DEFAULTS ONLY: with O2C_ENV=production the API, the worker and `o2c db upgrade` refuse to start
while any of them is in use (`Settings.refuse_unsafe`).

Secrets are SecretStr (never in a repr, a log line or a dump), and no validation error of this object
shows its input, so a mistyped key is reported by the setting's name alone.
"""

import base64
import binascii
from functools import lru_cache
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, NonNegativeFloat, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from canonical.outbound_urls import DestinationPolicy
from canonical.saga import SagaTimings
from runtime.api_keys import DEV_API_KEYS as DEV_API_KEYS  # re-exported: tests and tools take the dev keys from here
from runtime.api_keys import ApiKey, named_api_keys, production_faults

DEV_FULFILLMENT_WEBHOOK_SECRET = "whsec_bzJjLWRldi1mdWxmaWxsbWVudC1zZWNyZXQ="
# DEV DEFAULTS ONLY: the sandbox's vendors accept these; production refuses them.
DEV_STRIPE_API_KEY = "sk_test_o2c_sandbox_dev_key"
DEV_BLOOMREACH_API_SECRET = "o2c-dev-bloomreach-secret"
DEV_LOYALTY_WEBHOOK_AUTHORIZATION = "Bearer o2c-dev-loyalty-webhook-token"

# The sandbox router each adapter speaks to when the role's URL is unset (None: the role's own router).
SANDBOX_ROUTER_OF_ADAPTER: dict[str, str | None] = {"sandbox": None, "webhooks": None, "stripe": "stripe",
                                                    "bloomreach": "bloomreach"}

Environment = Literal["development", "production"]

KEY_BYTES = 32


class CodecKey(BaseModel):
    """One AES-256 key (the payload codec's O2C_CODEC_KEYS, the store's O2C_WEBHOOK_SECRET_KEYS).

    `key` is standard base64 of 32 random bytes. It is checked where it is used (runtime/codec.py,
    store/secret_box.py), not here, and never appears in a validation error.
    """

    model_config = ConfigDict(hide_input_in_errors=True)

    id: str = Field(pattern=r"^[A-Za-z0-9._:-]{1,64}$")
    """Written next to what it encrypts, so a reader knows which key decrypts it."""
    key: SecretStr

    def material(self) -> bytes:
        """The 32 key bytes; ValueError (naming the key's id, never the key) when malformed."""
        try:
            raw = base64.b64decode(self.key.get_secret_value(), validate=True)
        except (binascii.Error, ValueError):
            raise ValueError(f"key {self.id!r} is not standard base64") from None
        if len(raw) != KEY_BYTES:
            raise ValueError(f"key {self.id!r} must be {KEY_BYTES} bytes (AES-256), got {len(raw)}")
        return raw


# DEV DEFAULT ONLY: encrypts the local stack's payloads. Anywhere else set O2C_CODEC_KEYS to keys
# from a secret store; with this key anyone who has the repository can read the data.
DEV_CODEC_KEY = CodecKey(id="dev-1", key=SecretStr("euiWsgMexWgRorEBGCTeyOxoly/2GLICKzah+CFy7tY="))
# DEV DEFAULT ONLY: encrypts outbound webhook endpoints' signing secrets in the local store.
DEV_WEBHOOK_SECRET_KEY = CodecKey(id="dev-secrets-1",
                                  key=SecretStr("N6mkndzzZbr7Vb+GHD6f0d1cZLBIt+tvxPGTYOZ2Gtg="))


class UnsafeConfiguration(RuntimeError):
    """O2C_ENV=production with a development secret or setting; the message names settings, never values."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="O2C_", extra="ignore", hide_input_in_errors=True)

    env: Environment = "development"
    """`production` refuses the committed development secrets and dev-only settings at start."""

    # Temporal
    temporal_address: str = "127.0.0.1:7233"
    temporal_namespace: str = "default"
    task_queue: str = "o2c-orders"
    temporal_ui_url: str = "http://127.0.0.1:8233"
    # How the client reaches a Temporal cluster (runtime/temporal_connection.py; README "Deploying").
    temporal_profile: str | None = None
    """Name of a Temporal client profile (temporalio.envconfig: TOML file and TEMPORAL_* variables) to
    start from; unset reads neither. Any O2C_TEMPORAL_* setting that is set wins over the profile."""
    temporal_tls: bool | None = None
    """TLS to Temporal: unset means off unless an API key or another O2C_TEMPORAL_TLS_* setting is given."""
    temporal_tls_ca_path: str | None = None
    """PEM file of the CA that signed the server's certificate; unset: the system's roots."""
    temporal_tls_server_name: str | None = None
    """The name the server's certificate must carry, when it is not the address's host."""
    temporal_tls_cert_path: str | None = None
    """mTLS: PEM file of the client certificate (with O2C_TEMPORAL_TLS_KEY_PATH)."""
    temporal_tls_key_path: str | None = None
    """mTLS: PEM file of the client certificate's private key."""
    temporal_api_key: SecretStr | None = None
    """API key sent to Temporal (Temporal Cloud); turns TLS on unless O2C_TEMPORAL_TLS says otherwise."""

    # HTTP front
    api_host: str = "127.0.0.1"
    """Where the API listens: loopback for the local stack; a container or pod needs 0.0.0.0."""
    api_port: int = 8000
    api_keys: dict[str, ApiKey] = Field(default_factory=lambda: dict(DEV_API_KEYS))
    """Named API keys (JSON object): name -> {"key": ..., "scopes": [...]}. The name is who acted in histories,
    views and logs; the key is never shown. The older key -> list of scopes form still works, each such key
    named `key-<digest>` (runtime/api_keys.py)."""
    fulfillment_webhook_secret: SecretStr = SecretStr(DEV_FULFILLMENT_WEBHOOK_SECRET)
    webhook_tolerance_s: int = 300
    accept_timeout_s: float = 10.0
    max_body_bytes: int = Field(default=1024 * 1024, gt=0)
    """Larger request bodies are refused (413) before anything parses or authenticates them."""
    max_webhook_body_bytes: int = Field(default=256 * 1024, gt=0)
    """The same for inbound webhooks (/v1/webhooks/...)."""
    max_order_lines: int = Field(default=200, ge=1, le=1000)
    """Lines an order may have (422 beyond); at most canonical.order.MAX_LINES_CEILING."""
    max_order_units: int = Field(default=10_000, ge=1)
    """Units (sum of quantities) an order may have (422 beyond)."""

    # Payload encryption and the codec endpoint the Temporal UI decodes through (README "Support").
    codec_keys: list[CodecKey] = Field(default_factory=lambda: [DEV_CODEC_KEY], min_length=1)
    """Newest first: the first key encrypts, every listed key decrypts (rotation)."""
    ui_origin: str = "http://127.0.0.1:8233"
    """The Temporal UI's origin, the only one granted CORS on /codec (plus its localhost/127.0.0.1 twin)."""
    codec_dev_trust_ui_origin: bool = False
    """DEV ONLY: let requests from ui_origin use /codec without an API key (the local UI cannot send
    one). Anyone who can reach the API can forge an Origin header, so never enable it elsewhere."""
    webhook_secret_keys: list[CodecKey] = Field(default_factory=lambda: [DEV_WEBHOOK_SECRET_KEY],
                                                min_length=1)
    """Encrypt outbound webhook endpoints' signing secrets in the store; newest first, like codec_keys."""

    # Vendors: which adapter speaks for each role, where its vendor is and with which credentials (README
    # "Adding a vendor"). An unset URL is the sandbox's router for that adapter, so the local stack needs none.
    sandbox_url: str = "http://127.0.0.1:8100"
    vendor_timeout_s: float = 5.0
    loyalty_adapter: Literal["sandbox"] = "sandbox"
    payments_adapter: Literal["sandbox", "stripe"] = "sandbox"
    inventory_adapter: Literal["sandbox"] = "sandbox"
    fulfillment_adapter: Literal["sandbox"] = "sandbox"
    erp_adapter: Literal["sandbox"] = "sandbox"
    marketing_adapter: Literal["webhooks", "bloomreach"] = "webhooks"
    """`webhooks`: marketing subscribes to signed outbound webhooks like any receiver; `bloomreach`: o2c also
    tracks each canonical event as a Bloomreach Engagement customer event, delivered through the outbox."""
    loyalty_url: str | None = None
    payments_url: str | None = None
    """The payments vendor's API base, e.g. https://api.stripe.com for Stripe (test mode with a test key)."""
    inventory_url: str | None = None
    fulfillment_url: str | None = None
    erp_url: str | None = None
    marketing_url: str | None = None
    """e.g. https://api.exponea.com for Bloomreach Engagement."""
    payments_api_key: SecretStr = SecretStr(DEV_STRIPE_API_KEY)
    """The Stripe secret key (sk_test_... for test mode); the sandbox's Stripe router takes any sk_test_ key."""
    marketing_project_token: str = "o2c-sandbox-project"
    """Bloomreach Engagement project token (path of the tracking API)."""
    marketing_api_key_id: str = "o2c-sandbox-key"
    """Bloomreach API key id: the user name of the tracking API's HTTP Basic auth."""
    marketing_api_secret: SecretStr = SecretStr(DEV_BLOOMREACH_API_SECRET)
    """Bloomreach API secret: the password of the tracking API's HTTP Basic auth."""
    loyalty_webhook_authorization: SecretStr = SecretStr(DEV_LOYALTY_WEBHOOK_AUTHORIZATION)
    """The exact Authorization header value the loyalty engine's webhook subscriptions send (Open Loyalty lets
    a subscription carry one); compared in constant time."""
    contract_check_interval_s: float = Field(default=24 * 3600.0, gt=0)
    """How often the contract-check schedule runs every configured vendor's contract suite (non-mutating or
    test-mode checks)."""
    contract_check_cron: str | None = None
    """A cron expression (UTC) for the contract checks instead of the interval."""

    # Business rules and saga clocks; all durations configurable so tests can use seconds.
    point_value_minor: int = Field(default=1, ge=1)
    accept_retry_window_s: float = 20.0
    step_retry_window_s: float = 3600.0
    compensation_retry_window_s: float = 3600.0
    dispatch_sla_s: float = 2 * 24 * 3600.0
    return_window_s: float = 30 * 24 * 3600.0
    """How long after completion returns are accepted, and how long a return waits for the goods."""
    refund_retry_window_s: float = 3600.0
    late_dispatch_window_s: float = 24 * 3600.0
    """How long a cancelled order keeps listening for a node that dispatches anyway (it then parks)."""

    # Finance store (design §7) and reconciliation (§5)
    database_url: str | None = None
    """SQLAlchemy URL of the store; unset means SQLite under data_dir (see store_url())."""
    database_auto_upgrade: bool = True
    """Worker and API run the Alembic migrations at start; turn off where a release job runs
    `o2c db upgrade` instead."""
    reconciliation_interval_s: float = Field(default=24 * 3600.0, gt=0)
    """How often the reconciliation schedule runs, and the length of the period each run checks."""
    reconciliation_cron: str | None = None
    """A cron expression (UTC) for the schedule instead of the interval, e.g. "30 2 * * *"."""
    reconciliation_lag_s: float = Field(default=600.0, ge=0)
    """A scheduled run checks the period ending this long before it starts, so money still moving
    (a capture whose invoice is being posted) is not reported."""
    posting_stuck_after_s: float = Field(default=3600.0, gt=0)
    """An ERP posting retrying for longer than this is a reconciliation finding."""
    reconciliation_max_period_s: float = Field(default=31 * 24 * 3600.0, gt=0)
    """The longest period a run started through the API may check (422 beyond)."""

    # Outbound webhooks (README "Outbound webhooks")
    webhook_retry_schedule_s: list[NonNegativeFloat] = Field(
        default_factory=lambda: [0.0, 5.0, 300.0, 1800.0, 7200.0, 18000.0, 36000.0, 36000.0], min_length=1
    )
    """Delay before each delivery attempt, counted from the previous one: Standard Webhooks' schedule
    (immediately, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h). JSON list; tests use fractions of seconds."""
    webhook_delivery_timeout_s: float = Field(default=5.0, gt=0)
    """One deadline for a whole delivery attempt: connecting, sending and reading the answer."""
    webhook_allowed_hosts: list[str] = Field(default_factory=list)
    """When set, the only destinations outbound webhooks may have: entries `host[:port][/path]` (JSON
    list). An IP entry also permits that non-public address and port; the local stack sets exactly its
    sandbox receiver. Unset: any public destination (canonical/outbound_urls.py)."""
    webhook_secret_grace_s: float = Field(default=24 * 3600.0, ge=0, le=7 * 24 * 3600.0)
    """After a secret rotation, how long deliveries are signed with the previous secret as well."""
    local_marketing_webhook: bool = True
    """`o2c run` registers the sandbox marketing receiver as a webhook endpoint (once) and hands the
    sandbox its signing secret, so the local stack delivers events with nothing configured."""

    # Worker
    max_concurrent_activities: int = 200
    max_concurrent_workflow_tasks: int = 100
    max_workflow_task_polls: int = Field(default=20, ge=2)
    """Most workflow-task pollers the worker scales up to under load."""
    max_activity_task_polls: int = Field(default=10, ge=1)
    graceful_shutdown_s: float = 10.0
    worker_metrics_host: str = "127.0.0.1"
    worker_metrics_port: int = Field(default=9464, ge=0, le=65535)
    """Where the worker serves Prometheus `/metrics` (Temporal's SDK metrics and o2c's); 0 serves none.
    The local stack gives each further worker process the next port."""
    backlog_report_s: float = Field(default=15.0, gt=0)
    """How often the worker refreshes its backlog gauges (orders needing attention, ERP postings and webhook
    deliveries waiting) from Temporal visibility and the store. Every worker reports the same global figures."""

    # Circuit breakers per vendor, per worker process (activities/circuit_breaker.py; README "Operations").
    breaker_failures: int = Field(default=5, ge=1)
    """A vendor's breaker opens after at least this many transient failures within the window (and see
    breaker_failure_ratio)."""
    breaker_window_s: float = Field(default=10.0, gt=0)
    """The rolling window, in seconds, over which a breaker counts calls and transient failures."""
    breaker_failure_ratio: float = Field(default=0.5, gt=0, le=1)
    """...and only when those failures are at least this share of the calls that ended in the window."""
    breaker_open_s: float = Field(default=5.0, gt=0)
    """How long an open breaker fails calls at once (their retry delay is the time left); then one probe call
    decides: success closes it, a transient failure opens it again for as long."""
    vendor_health_report_s: float = Field(default=2.0, gt=0)
    """How often each worker writes its vendor call figures and breaker states to the store (and at once on a
    breaker transition); a worker silent for three of these is taken as gone by GET /v1/ops/vendors."""

    # Local stack
    data_dir: str = ".data"
    sandbox_host: str = "127.0.0.1"
    """Where `o2c sandbox` listens; a container needs 0.0.0.0."""
    sandbox_port: int = 8100
    temporal_port: int = 7233
    temporal_ui_port: int = 8233
    log_level: str = "INFO"

    @field_validator("api_keys", mode="before")
    @classmethod
    def _api_keys_shape(cls, value: Any) -> Any:
        # Checked here rather than by the field's type, whose errors would carry an old-form key as their
        # location: a malformed entry is reported by its position only.
        return named_api_keys(value)

    def unsafe_for_production(self) -> list[str]:
        """What O2C_ENV=production refuses, by setting name; never a value."""
        faults = production_faults(self.api_keys)
        if self.fulfillment_webhook_secret.get_secret_value() == DEV_FULFILLMENT_WEBHOOK_SECRET:
            faults.append("O2C_FULFILLMENT_WEBHOOK_SECRET is the committed development secret")
        if any(k.key == DEV_CODEC_KEY.key for k in self.codec_keys):
            faults.append("O2C_CODEC_KEYS holds the committed development key")
        if any(k.key == DEV_WEBHOOK_SECRET_KEY.key for k in self.webhook_secret_keys):
            faults.append("O2C_WEBHOOK_SECRET_KEYS holds the committed development key")
        if self.payments_adapter == "stripe" and self.payments_api_key.get_secret_value() == DEV_STRIPE_API_KEY:
            faults.append("O2C_PAYMENTS_API_KEY is the committed development key")
        if (self.marketing_adapter == "bloomreach"
                and self.marketing_api_secret.get_secret_value() == DEV_BLOOMREACH_API_SECRET):
            faults.append("O2C_MARKETING_API_SECRET is the committed development secret")
        if self.loyalty_webhook_authorization.get_secret_value() == DEV_LOYALTY_WEBHOOK_AUTHORIZATION:
            faults.append("O2C_LOYALTY_WEBHOOK_AUTHORIZATION is the committed development value")
        if self.codec_dev_trust_ui_origin:
            faults.append("O2C_CODEC_DEV_TRUST_UI_ORIGIN is a development-only setting")
        return faults

    def refuse_unsafe(self) -> None:
        """Called by the API, the worker and `o2c db upgrade` before they start."""
        if self.env != "production":
            return
        faults = self.unsafe_for_production()
        if faults:
            raise UnsafeConfiguration("O2C_ENV=production refuses to start: " + "; ".join(faults))

    def store_url(self) -> str:
        """The store's database: O2C_DATABASE_URL, else a SQLite file in the data dir (local stack)."""
        return self.database_url or f"sqlite:///{self.data_dir}/o2c.db"

    def vendor_url(self, vendor: str) -> str:
        """The base URL of the vendor that plays `vendor`'s role (loyalty, payments, ...)."""
        configured: str | None = getattr(self, f"{vendor}_url")
        if configured:
            return configured.rstrip("/")
        router = SANDBOX_ROUTER_OF_ADAPTER[getattr(self, f"{vendor}_adapter")] or vendor
        return f"{self.sandbox_url.rstrip('/')}/{router}"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()


def saga_timings(settings: Settings) -> SagaTimings:
    """The clocks an order starts with (and keeps, whatever the settings say later)."""
    return SagaTimings.model_validate(settings.model_dump(include=set(SagaTimings.model_fields)))


def destination_policy(settings: Settings) -> DestinationPolicy:
    """Where outbound webhooks may go: the allowlist, and https only in production."""
    return DestinationPolicy.of(settings.webhook_allowed_hosts, https_only=settings.env == "production")
