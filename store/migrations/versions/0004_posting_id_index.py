"""ERP postings: posting_id is indexed, not unique; the business key is the only unique key.

posting_id is derived from (kind, reference), so it is unique whenever the business key is. As a
second unique constraint it broke the postings' upsert under concurrency on PostgreSQL: ON CONFLICT
settles races on its one arbiter index only, and two first attempts of the same posting could fail
on the other with a unique violation instead of merging.

Revision ID: 0004_posting_id_index
Revises: 0003_webhooks
Create Date: 2025-01-13
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0004_posting_id_index"
down_revision: str | None = "0003_webhooks"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("erp_postings") as batch:
        batch.drop_constraint("uq_erp_postings_posting_id", type_="unique")
        batch.create_index("ix_erp_postings_posting_id", ["posting_id"])


def downgrade() -> None:
    with op.batch_alter_table("erp_postings") as batch:
        batch.drop_index("ix_erp_postings_posting_id")
        batch.create_unique_constraint("uq_erp_postings_posting_id", ["posting_id"])
