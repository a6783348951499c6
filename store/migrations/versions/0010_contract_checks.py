"""Contract checks: each run of a vendor role's contract suite with its findings, read by the ops page and the
worker's contract-check gauges.

Revision ID: 0010_contract_checks
Revises: 0008_vendor_health
Create Date: 2026-12-10
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010_contract_checks"
down_revision: str | None = "0009_marketing_destination"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = sa.DateTime(timezone=True)
ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "contract_checks",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("run_id", sa.String(64), nullable=False),
        sa.Column("role", sa.String(32), nullable=False),
        sa.Column("adapter", sa.String(32), nullable=False),
        sa.Column("base_url", sa.Text(), nullable=False),
        sa.Column("mode", sa.String(16), nullable=False),
        sa.Column("started_at", TS, nullable=False),
        sa.Column("finished_at", TS, nullable=False),
        sa.Column("checks", sa.Integer(), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("findings", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contract_checks")),
        sa.UniqueConstraint("run_id", name=op.f("uq_contract_checks_run_id")),
        sa.CheckConstraint("mode IN ('full', 'non_mutating')", name=op.f("ck_contract_checks_mode")),
    )
    op.create_index("ix_contract_checks_role_adapter_finished_at", "contract_checks",
                    ["role", "adapter", "finished_at"])


def downgrade() -> None:
    op.drop_table("contract_checks")
