"""Outbound destinations get a kind: `webhook` (signed Standard Webhooks POST, every endpoint so far) or
`bloomreach` (the built-in Bloomreach Engagement destination of O2C_MARKETING_ADAPTER=bloomreach, delivered
through the same outbox with the Bloomreach adapter).

Revision ID: 0009_marketing_destination
Revises: 0008_vendor_health
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009_marketing_destination"
down_revision: str | None = "0008_vendor_health"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("webhook_endpoints") as batch:
        batch.add_column(sa.Column("kind", sa.String(16), nullable=False, server_default="webhook"))
        batch.create_check_constraint("kind", "kind IN ('webhook', 'bloomreach')")


def downgrade() -> None:
    # The built-in destination has no meaning without the column: drop it and its deliveries first.
    op.execute("DELETE FROM webhook_deliveries WHERE endpoint_id IN "
               "(SELECT id FROM webhook_endpoints WHERE kind <> 'webhook')")
    op.execute("DELETE FROM webhook_endpoints WHERE kind <> 'webhook'")
    with op.batch_alter_table("webhook_endpoints") as batch:
        batch.drop_constraint(op.f("ck_webhook_endpoints_kind"), type_="check")
        batch.drop_column("kind")
