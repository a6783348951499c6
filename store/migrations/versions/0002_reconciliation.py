"""Reconciliation runs and their findings.

Revision ID: 0002_reconciliation
Revises: 0001_erp_postings
Create Date: 2025-01-10
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002_reconciliation"
down_revision: str | None = "0001_erp_postings"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "reconciliation_runs",
        sa.Column("run_id", sa.String(128), nullable=False),
        sa.Column("trigger", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("period_start", TS, nullable=False),
        sa.Column("period_end", TS, nullable=False),
        sa.Column("stuck_after_s", sa.Float(), nullable=False),
        sa.Column("started_at", TS, nullable=False),
        sa.Column("finished_at", TS, nullable=True),
        sa.Column("orders_checked", sa.Integer(), nullable=False),
        sa.Column("findings_count", sa.Integer(), nullable=False),
        sa.Column("counts", sa.JSON(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("run_id", name="pk_reconciliation_runs"),
        sa.CheckConstraint(
            "status IN ('running', 'completed', 'failed')", name=op.f("ck_reconciliation_runs_status")
        ),
        sa.CheckConstraint("trigger IN ('schedule', 'manual')", name=op.f("ck_reconciliation_runs_trigger")),
    )
    op.create_index("ix_reconciliation_runs_started_at", "reconciliation_runs", ["started_at", "run_id"])
    op.create_index("ix_reconciliation_runs_status", "reconciliation_runs", ["status", "started_at"])
    op.create_table(
        "reconciliation_findings",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("run_id", sa.String(128), nullable=False),
        sa.Column("type", sa.String(40), nullable=False),
        sa.Column("order_id", sa.String(64), nullable=True),
        sa.Column("reference", sa.String(200), nullable=False),
        sa.Column("currency", sa.String(3), nullable=True),
        sa.Column("provider_amount", sa.BigInteger(), nullable=True),
        sa.Column("erp_amount", sa.BigInteger(), nullable=True),
        sa.Column("store_amount", sa.BigInteger(), nullable=True),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("suggested_action", sa.Text(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_reconciliation_findings"),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["reconciliation_runs.run_id"],
            ondelete="CASCADE",
            name="fk_reconciliation_findings_run_id_reconciliation_runs",
        ),
        sa.UniqueConstraint("run_id", "type", "reference", name="uq_reconciliation_findings_key"),
    )
    op.create_index("ix_reconciliation_findings_run", "reconciliation_findings", ["run_id", "type"])
    op.create_index("ix_reconciliation_findings_order_id", "reconciliation_findings", ["order_id"])


def downgrade() -> None:
    op.drop_table("reconciliation_findings")
    op.drop_table("reconciliation_runs")
