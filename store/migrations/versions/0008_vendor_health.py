"""Vendor health: each worker process's vendor call figures per time bucket, and its breaker per vendor,
read by GET /v1/ops/vendors and the /ops page.

Revision ID: 0008_vendor_health
Revises: 0007_cancelled_postings
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008_vendor_health"
down_revision: str | None = "0007_cancelled_postings"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = sa.DateTime(timezone=True)
OUTCOMES = ("ok", "business_rejection", "transient", "contract_violation", "circuit_open")


def upgrade() -> None:
    op.create_table(
        "vendor_call_buckets",
        sa.Column("worker_id", sa.String(120), nullable=False),
        sa.Column("vendor", sa.String(32), nullable=False),
        sa.Column("bucket_start", TS, nullable=False),
        *(sa.Column(outcome, sa.Integer(), nullable=False) for outcome in OUTCOMES),
        sa.Column("latency_histogram", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("worker_id", "vendor", "bucket_start", name="pk_vendor_call_buckets"),
    )
    op.create_index("ix_vendor_call_buckets_bucket_start", "vendor_call_buckets", ["bucket_start"])
    op.create_table(
        "vendor_breaker_states",
        sa.Column("worker_id", sa.String(120), nullable=False),
        sa.Column("vendor", sa.String(32), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("open_until", TS, nullable=True),
        sa.Column("last_failure", sa.Text(), nullable=True),
        sa.Column("reported_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("worker_id", "vendor", name="pk_vendor_breaker_states"),
        sa.CheckConstraint("state IN ('closed', 'half_open', 'open')", name=op.f("ck_vendor_breaker_states_state")),
    )
    op.create_index("ix_vendor_breaker_states_reported_at", "vendor_breaker_states", ["reported_at"])


def downgrade() -> None:
    op.drop_table("vendor_breaker_states")
    op.drop_table("vendor_call_buckets")
