"""ERP postings: one row per business posting.

Revision ID: 0001_erp_postings
Revises:
Create Date: 2025-01-10
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001_erp_postings"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "erp_postings",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("posting_id", sa.String(40), nullable=False),
        sa.Column("order_id", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("reference", sa.String(200), nullable=False),
        sa.Column("shipment_id", sa.String(64), nullable=True),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("erp_document_number", sa.String(64), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("next_attempt_at", TS, nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.Column("status_since", TS, nullable=False),
        sa.Column("posted_at", TS, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_erp_postings"),
        sa.UniqueConstraint("posting_id", name="uq_erp_postings_posting_id"),
        sa.UniqueConstraint("kind", "reference", name="uq_erp_postings_business_key"),
        sa.CheckConstraint(
            "kind IN ('sales_order', 'invoice', 'credit_memo')", name=op.f("ck_erp_postings_kind")
        ),
        sa.CheckConstraint(
            "status IN ('pending', 'posted', 'retrying', 'failed')", name=op.f("ck_erp_postings_status")
        ),
        sa.CheckConstraint("amount >= 0", name=op.f("ck_erp_postings_amount")),
    )
    op.create_index("ix_erp_postings_order_id", "erp_postings", ["order_id", "id"])
    op.create_index("ix_erp_postings_status", "erp_postings", ["status", "id"])
    op.create_index("ix_erp_postings_kind", "erp_postings", ["kind", "id"])
    op.create_index("ix_erp_postings_posted_at", "erp_postings", ["posted_at", "id"])
    op.create_index("ix_erp_postings_created_at", "erp_postings", ["created_at"])


def downgrade() -> None:
    op.drop_table("erp_postings")
