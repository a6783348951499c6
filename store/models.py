"""The store's tables (the schema itself is made by the migrations in store/migrations).

Money is BIGINT minor units; every timestamp is timezone-aware UTC in and out, on PostgreSQL
(timestamptz) and on SQLite (naive UTC text, converted by UtcDateTime).
"""

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator, TypeEngine

# Named constraints, so migrations (and their downgrades) can refer to them on every database.
NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# BIGINT identity on PostgreSQL; SQLite only autoincrements a column declared INTEGER PRIMARY KEY.
Id = BigInteger().with_variant(Integer(), "sqlite")


class UtcDateTime(TypeDecorator[datetime]):
    """Refuses naive datetimes; always returns aware UTC."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; use timezone-aware UTC")
        value = value.astimezone(UTC)
        # SQLite keeps text: one fixed UTC form, so comparing the text compares the instants.
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        return dialect.type_descriptor(DateTime(timezone=True))


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class ErpPosting(Base):
    """One row per business posting (kind + reference), however often the activity ran."""

    __tablename__ = "erp_postings"

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    """Insertion order: the list's sort key and its cursor."""
    posting_id: Mapped[str] = mapped_column(String(40))
    """Derived from (kind, reference), so unique with it; deliberately not a second unique key (0004)."""
    order_id: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))
    reference: Mapped[str] = mapped_column(String(200))
    shipment_id: Mapped[str | None] = mapped_column(String(64))
    amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[str] = mapped_column(String(16))
    erp_document_number: Mapped[str | None] = mapped_column(String(64))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    status_since: Mapped[datetime] = mapped_column(UtcDateTime)
    """When the row entered its current status: how long a posting has been retrying."""
    posted_at: Mapped[datetime | None] = mapped_column(UtcDateTime)

    __table_args__ = (
        UniqueConstraint("kind", "reference", name="uq_erp_postings_business_key"),
        CheckConstraint("kind IN ('sales_order', 'invoice', 'credit_memo')", name="kind"),
        CheckConstraint("status IN ('pending', 'posted', 'retrying', 'failed', 'cancelled')", name="status"),
        CheckConstraint("amount >= 0", name="amount"),
        # One index per filter of GET /v1/erp-postings, each ending in the sort key so a filtered
        # page is an index range scan; created_at serves the daily summary.
        Index("ix_erp_postings_posting_id", "posting_id"),
        Index("ix_erp_postings_order_id", "order_id", "id"),
        Index("ix_erp_postings_status", "status", "id"),
        Index("ix_erp_postings_kind", "kind", "id"),
        Index("ix_erp_postings_posted_at", "posted_at", "id"),
        Index("ix_erp_postings_created_at", "created_at"),
    )


class ReconciliationRun(Base):
    __tablename__ = "reconciliation_runs"

    run_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    """The workflow id of the run."""
    trigger: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    period_start: Mapped[datetime] = mapped_column(UtcDateTime)
    period_end: Mapped[datetime] = mapped_column(UtcDateTime)
    stuck_after_s: Mapped[float] = mapped_column(Float)
    started_at: Mapped[datetime] = mapped_column(UtcDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    orders_checked: Mapped[int] = mapped_column(Integer, default=0)
    findings_count: Mapped[int] = mapped_column(Integer, default=0)
    counts: Mapped[dict[str, int]] = mapped_column(JSON, default=dict)
    error: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        CheckConstraint("status IN ('running', 'completed', 'failed')", name="status"),
        CheckConstraint("trigger IN ('schedule', 'manual')", name="trigger"),
        Index("ix_reconciliation_runs_started_at", "started_at", "run_id"),
        Index("ix_reconciliation_runs_status", "status", "started_at"),
    )


class ReconciliationRunOrder(Base):
    """The orders a run found to compare (revision 0005): paged through by order id, so no list of every
    order of a period ever travels through Temporal."""

    __tablename__ = "reconciliation_run_orders"

    run_id: Mapped[str] = mapped_column(
        String(128), ForeignKey("reconciliation_runs.run_id", ondelete="CASCADE"), primary_key=True)
    order_id: Mapped[str] = mapped_column(String(64), primary_key=True)


class ReconciliationFinding(Base):
    __tablename__ = "reconciliation_findings"

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    run_id: Mapped[str] = mapped_column(String(128), ForeignKey("reconciliation_runs.run_id", ondelete="CASCADE"))
    type: Mapped[str] = mapped_column(String(40))
    order_id: Mapped[str | None] = mapped_column(String(64))
    reference: Mapped[str] = mapped_column(String(200))
    currency: Mapped[str | None] = mapped_column(String(3))
    provider_amount: Mapped[int | None] = mapped_column(BigInteger)
    erp_amount: Mapped[int | None] = mapped_column(BigInteger)
    store_amount: Mapped[int | None] = mapped_column(BigInteger)
    detail: Mapped[str] = mapped_column(Text)
    suggested_action: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)

    __table_args__ = (
        # A retried activity records the same finding again: the key makes that a no-op.
        UniqueConstraint("run_id", "type", "reference", name="uq_reconciliation_findings_key"),
        Index("ix_reconciliation_findings_run", "run_id", "type"),
        Index("ix_reconciliation_findings_order_id", "order_id"),
    )


# ---- outbound webhooks (revision 0003_webhooks) -----------------------------------------------


class WebhookEndpoint(Base):
    """A receiver of canonical events, registered through /v1/webhook-endpoints."""

    __tablename__ = "webhook_endpoints"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    url: Mapped[str] = mapped_column(String(2000))
    event_types: Mapped[list[str]] = mapped_column(JSON)
    secret_sealed: Mapped[str] = mapped_column(String(400))
    """The signing secret (`whsec_` + base64 of the HMAC key), sealed (store/secret_box.py, revision 0005);
    shown to the admin once, when it is made."""
    previous_secret_sealed: Mapped[str | None] = mapped_column(String(400))
    """The secret before the last rotation, also signed with until previous_secret_expires_at."""
    previous_secret_expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    status: Mapped[str] = mapped_column(String(16))
    disabled_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    disabled_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    kind: Mapped[str] = mapped_column(String(16), default="webhook", server_default="webhook")
    """`webhook`: a signed Standard Webhooks POST to `url`; `bloomreach`: the built-in Bloomreach destination
    (revision 0009), tracked through the marketing adapter with the credentials of the settings."""

    __table_args__ = (
        CheckConstraint("status IN ('active', 'disabled')", name="status"),
        CheckConstraint("kind IN ('webhook', 'bloomreach')", name="kind"),
        Index("ix_webhook_endpoints_created_at", "created_at", "id"),
    )


class WebhookEvent(Base):
    """Every canonical event published, once (the audit trail behind the deliveries)."""

    __tablename__ = "webhook_events"

    event_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    type: Mapped[str] = mapped_column(String(40))
    order_id: Mapped[str] = mapped_column(String(64))
    correlation_id: Mapped[str] = mapped_column(String(200))
    occurred_at: Mapped[datetime] = mapped_column(UtcDateTime)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    recorded_at: Mapped[datetime] = mapped_column(UtcDateTime)

    __table_args__ = (Index("ix_webhook_events_order_id", "order_id", "occurred_at"),)


class WebhookDelivery(Base):
    """One event to one endpoint: its state across every attempt and manual retry."""

    __tablename__ = "webhook_deliveries"

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    """Insertion order: the list's sort key and its cursor."""
    delivery_id: Mapped[str] = mapped_column(String(40), unique=True)
    endpoint_id: Mapped[str] = mapped_column(String(40), ForeignKey("webhook_endpoints.id", ondelete="CASCADE"))
    event_id: Mapped[str] = mapped_column(String(64))
    event_type: Mapped[str] = mapped_column(String(40))
    order_id: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    runs: Mapped[int] = mapped_column(Integer, default=1)
    """Delivery runs started: 1 for the automatic schedule, one more per manual retry."""
    run_attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    """Attempts made in the current run: where the delivery stands in the retry schedule."""
    last_status_code: Mapped[int | None] = mapped_column(Integer)
    last_response: Mapped[str | None] = mapped_column(Text)
    last_error: Mapped[str | None] = mapped_column(Text)
    last_attempt_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    delivered_at: Mapped[datetime | None] = mapped_column(UtcDateTime)

    __table_args__ = (
        UniqueConstraint("endpoint_id", "event_id", name="uq_webhook_deliveries_endpoint_event"),
        CheckConstraint("status IN ('pending', 'delivered', 'failed')", name="status"),
        Index("ix_webhook_deliveries_endpoint_status", "endpoint_id", "status", "id"),
        Index("ix_webhook_deliveries_event_id", "event_id"),
        Index("ix_webhook_deliveries_order_id", "order_id", "id"),
        Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),
    )


# ---- inbound webhooks (revision 0005) ---------------------------------------------------------


class InboundDeadLetter(Base):
    """A correctly signed inbound event that could not be applied, kept with the reason for support.

    The sender does not retry a 4xx, so without this row the event would be lost unseen."""

    __tablename__ = "inbound_dead_letters"

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    """Insertion order: the list's sort key and its cursor."""
    source: Mapped[str] = mapped_column(String(32))
    webhook_id: Mapped[str] = mapped_column(String(255))
    event_type: Mapped[str | None] = mapped_column(String(100))
    order_id: Mapped[str | None] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(String(40))
    detail: Mapped[str] = mapped_column(Text)
    errors: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    payload: Mapped[str] = mapped_column(Text)
    """The body as received (bounded by O2C_MAX_WEBHOOK_BODY_BYTES)."""
    deliveries: Mapped[int] = mapped_column(Integer)
    received_at: Mapped[datetime] = mapped_column(UtcDateTime)
    last_received_at: Mapped[datetime] = mapped_column(UtcDateTime)

    __table_args__ = (
        UniqueConstraint("source", "webhook_id", name="uq_inbound_dead_letters_source_webhook_id"),
        Index("ix_inbound_dead_letters_order_id", "order_id", "id"),
    )


# ---- vendor health (revision 0008) --------------------------------------------------------------


class VendorCallBucket(Base):
    """One worker process's calls to one vendor in one time bucket: counts by outcome and a latency
    histogram over fixed bounds (canonical/vendor_health.py), so every worker's figures add up."""

    __tablename__ = "vendor_call_buckets"

    worker_id: Mapped[str] = mapped_column(String(120), primary_key=True)
    vendor: Mapped[str] = mapped_column(String(32), primary_key=True)
    bucket_start: Mapped[datetime] = mapped_column(UtcDateTime, primary_key=True)
    ok: Mapped[int] = mapped_column(Integer, default=0)
    business_rejection: Mapped[int] = mapped_column(Integer, default=0)
    transient: Mapped[int] = mapped_column(Integer, default=0)
    contract_violation: Mapped[int] = mapped_column(Integer, default=0)
    circuit_open: Mapped[int] = mapped_column(Integer, default=0)
    latency_histogram: Mapped[list[int]] = mapped_column(JSON)
    """Calls per latency bucket (canonical.vendor_health.LATENCY_BOUNDS_MS, then one open-ended bucket)."""

    __table_args__ = (Index("ix_vendor_call_buckets_bucket_start", "bucket_start"),)


class VendorBreakerState(Base):
    """One worker process's breaker for one vendor, as it last reported it; reported_at tells the living."""

    __tablename__ = "vendor_breaker_states"

    worker_id: Mapped[str] = mapped_column(String(120), primary_key=True)
    vendor: Mapped[str] = mapped_column(String(32), primary_key=True)
    state: Mapped[str] = mapped_column(String(16))
    open_until: Mapped[datetime | None] = mapped_column(UtcDateTime)
    last_failure: Mapped[str | None] = mapped_column(Text)
    reported_at: Mapped[datetime] = mapped_column(UtcDateTime)

    __table_args__ = (
        CheckConstraint("state IN ('closed', 'half_open', 'open')", name="state"),
        Index("ix_vendor_breaker_states_reported_at", "reported_at"),
    )


# ---- contract checks (revision 0010) ------------------------------------------------------------


class ContractCheckRun(Base):
    """One run of a vendor role's contract suite (the daily schedule, or `o2c certify` recorded), with every
    check's finding; the latest run per role and adapter is what the ops page and the metrics show."""

    __tablename__ = "contract_checks"

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    run_id: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(32))
    adapter: Mapped[str] = mapped_column(String(32))
    base_url: Mapped[str] = mapped_column(Text)
    mode: Mapped[str] = mapped_column(String(16))
    started_at: Mapped[datetime] = mapped_column(UtcDateTime)
    finished_at: Mapped[datetime] = mapped_column(UtcDateTime)
    checks: Mapped[int] = mapped_column(Integer)
    failures: Mapped[int] = mapped_column(Integer)
    findings: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    """Every check's finding (canonical.contract_checks.CheckFinding)."""

    __table_args__ = (
        CheckConstraint("mode IN ('full', 'non_mutating')", name="mode"),
        Index("ix_contract_checks_role_adapter_finished_at", "role", "adapter", "finished_at"),
    )
