"""The one configuration object, read from O2C_* environment variables.

Every default makes the local stack work with no configuration at all. Secrets shown here are
DEV DEFAULTS ONLY: override them through the environment anywhere else.
"""

from functools import lru_cache

from pydantic import BaseModel, Field, NonNegativeFloat
from pydantic_settings import BaseSettings, SettingsConfigDict

DEV_API_KEYS: dict[str, list[str]] = {
    "commerce-dev-key": ["orders:write", "orders:read"],
    "support-dev-key": ["orders:read", "orders:cancel", "orders:support", "codec"],
    "finance-dev-key": ["finance:read"],
    "admin-dev-key": ["webhooks:admin"],
}
DEV_FULFILLMENT_WEBHOOK_SECRET = "whsec_bzJjLWRldi1mdWxmaWxsbWVudC1zZWNyZXQ="


class CodecKey(BaseModel):
    """One AES-256 key of the payload codec; O2C_CODEC_KEYS is a JSON list of these.

    `key` is standard base64 of 32 random bytes. It is checked by the codec (workflows/codec.py)
    when a client is made, not here, so a malformed key never appears in a validation error.
    """

    id: str = Field(pattern=r"^[A-Za-z0-9._:-]{1,64}$")
    """Written into each payload's metadata, so a reader knows which key decrypts it."""
    key: str = Field(repr=False)


# DEV DEFAULT ONLY: encrypts the local stack's payloads. Anywhere else set O2C_CODEC_KEYS to keys
# from a secret store; with this key anyone who has the repository can read the data.
DEV_CODEC_KEY = CodecKey(id="dev-1", key="euiWsgMexWgRorEBGCTeyOxoly/2GLICKzah+CFy7tY=")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="O2C_", extra="ignore")

    # Temporal
    temporal_address: str = "127.0.0.1:7233"
    temporal_namespace: str = "default"
    task_queue: str = "o2c-orders"
    temporal_ui_url: str = "http://127.0.0.1:8233"

    # HTTP front
    api_host: str = "127.0.0.1"
    api_port: int = 8000
    api_keys: dict[str, list[str]] = Field(default_factory=lambda: dict(DEV_API_KEYS))
    fulfillment_webhook_secret: str = DEV_FULFILLMENT_WEBHOOK_SECRET
    webhook_tolerance_s: int = 300
    accept_timeout_s: float = 10.0

    # Payload encryption and the codec endpoint the Temporal UI decodes through (README "Support").
    codec_keys: list[CodecKey] = Field(default_factory=lambda: [DEV_CODEC_KEY], min_length=1)
    """Newest first: the first key encrypts, every listed key decrypts (rotation)."""
    ui_origin: str = "http://127.0.0.1:8233"
    """The Temporal UI's origin, the only one granted CORS on /codec (plus its localhost/127.0.0.1 twin)."""
    codec_dev_trust_ui_origin: bool = False
    """DEV ONLY: let requests from ui_origin use /codec without an API key (the local UI cannot send
    one). Anyone who can reach the API can forge an Origin header, so never enable it elsewhere."""

    # Vendors (the sandbox by default)
    sandbox_url: str = "http://127.0.0.1:8100"
    vendor_timeout_s: float = 5.0

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

    # Outbound webhooks (README "Outbound webhooks")
    webhook_retry_schedule_s: list[NonNegativeFloat] = Field(
        default_factory=lambda: [0.0, 5.0, 300.0, 1800.0, 7200.0, 18000.0, 36000.0, 36000.0], min_length=1
    )
    """Delay before each delivery attempt, counted from the previous one: Standard Webhooks' schedule
    (immediately, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h). JSON list; tests use fractions of seconds."""
    webhook_delivery_timeout_s: float = Field(default=5.0, gt=0)
    """How long one delivery attempt waits for the receiver's answer."""
    local_marketing_webhook: bool = True
    """`o2c run` registers the sandbox marketing receiver as a webhook endpoint (once) and hands the
    sandbox its signing secret, so the local stack delivers events with nothing configured."""

    # Worker
    max_concurrent_activities: int = 200
    max_concurrent_workflow_tasks: int = 100
    graceful_shutdown_s: float = 10.0

    # Local stack
    data_dir: str = ".data"
    sandbox_port: int = 8100
    temporal_port: int = 7233
    temporal_ui_port: int = 8233
    log_level: str = "INFO"

    def store_url(self) -> str:
        """The store's database: O2C_DATABASE_URL, else a SQLite file in the data dir (local stack)."""
        return self.database_url or f"sqlite:///{self.data_dir}/o2c.db"

    def vendor_url(self, vendor: str) -> str:
        return f"{self.sandbox_url.rstrip('/')}/{vendor}"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
