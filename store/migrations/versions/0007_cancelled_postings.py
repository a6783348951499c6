"""ERP postings: a sales order of a cancelled order is `cancelled` (in the ERP, or never booked there).

Revision ID: 0007_cancelled_postings
Revises: 0006_outbox_drain
Create Date: 2026-12-02
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0007_cancelled_postings"
down_revision: str | None = "0006_outbox_drain"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_WITH = "status IN ('pending', 'posted', 'retrying', 'failed', 'cancelled')"
_WITHOUT = "status IN ('pending', 'posted', 'retrying', 'failed')"


def upgrade() -> None:
    with op.batch_alter_table("erp_postings") as batch:
        batch.drop_constraint(op.f("ck_erp_postings_status"), type_="check")
        batch.create_check_constraint("status", _WITH)


def downgrade() -> None:
    op.execute("UPDATE erp_postings SET status = 'failed' WHERE status = 'cancelled'")
    with op.batch_alter_table("erp_postings") as batch:
        batch.drop_constraint(op.f("ck_erp_postings_status"), type_="check")
        batch.create_check_constraint("status", _WITHOUT)
