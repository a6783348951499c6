"""Outbound webhooks are drained from the store by the workers' delivery loop, not by a workflow per
delivery: each delivery counts the attempts of its current run (where it is in the retry schedule),
and the loop finds due deliveries by status and time.

Revision ID: 0006_outbox_drain
Revises: 0005_security
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006_outbox_drain"
down_revision: str | None = "0005_security"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("webhook_deliveries") as batch:
        batch.add_column(sa.Column("run_attempts", sa.Integer(), nullable=False, server_default="0"))
        batch.create_index("ix_webhook_deliveries_due", ["status", "next_attempt_at"])


def downgrade() -> None:
    with op.batch_alter_table("webhook_deliveries") as batch:
        batch.drop_index("ix_webhook_deliveries_due")
        batch.drop_column("run_attempts")
