"""Security (issue 10): webhook endpoint secrets sealed at rest and rotatable; inbound dead letters;
the orders a reconciliation run pages through.

- webhook_endpoints.secret (clear) becomes secret_sealed (store/secret_box.py, keys O2C_WEBHOOK_SECRET_KEYS,
  given by the caller of store.migrate or read from the settings); previous_secret_sealed and
  previous_secret_expires_at keep the secret before a rotation valid for its grace period. The
  downgrade opens them again.
- inbound_dead_letters: signed inbound events that could not be applied, one row per (source, webhook-id).
- reconciliation_run_orders: (run, order) pairs a run found to compare.

Revision ID: 0005_security
Revises: 0004_posting_id_index
Create Date: 2025-01-20
"""

from collections.abc import Callable, Sequence

import sqlalchemy as sa
from alembic import context, op

from runtime.settings import CodecKey, Settings
from store.secret_box import SecretBox

revision: str = "0005_security"
down_revision: str | None = "0004_posting_id_index"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TS = sa.DateTime(timezone=True)


def _box() -> SecretBox:
    keys: Sequence[CodecKey] | None = context.config.attributes.get("webhook_secret_keys")
    return SecretBox(keys or Settings().webhook_secret_keys)


def _rewrite_secrets(source: str, target: str, convert: Callable[[str, str], str]) -> None:
    connection = op.get_bind()
    rows = connection.execute(sa.text(f"SELECT id, {source} FROM webhook_endpoints")).all()
    for endpoint_id, value in rows:
        connection.execute(sa.text(f"UPDATE webhook_endpoints SET {target} = :v WHERE id = :id"),
                           {"v": convert(value, endpoint_id), "id": endpoint_id})


def upgrade() -> None:
    with op.batch_alter_table("webhook_endpoints") as batch:
        batch.add_column(sa.Column("secret_sealed", sa.String(400), nullable=True))
        batch.add_column(sa.Column("previous_secret_sealed", sa.String(400), nullable=True))
        batch.add_column(sa.Column("previous_secret_expires_at", TS, nullable=True))
    _rewrite_secrets("secret", "secret_sealed", _box().seal)
    with op.batch_alter_table("webhook_endpoints") as batch:
        batch.alter_column("secret_sealed", existing_type=sa.String(400), nullable=False)
        batch.drop_column("secret")

    op.create_table(
        "inbound_dead_letters",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("source", sa.String(32), nullable=False),
        sa.Column("webhook_id", sa.String(255), nullable=False),
        sa.Column("event_type", sa.String(100), nullable=True),
        sa.Column("order_id", sa.String(64), nullable=True),
        sa.Column("reason", sa.String(40), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("errors", sa.JSON(), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("deliveries", sa.Integer(), nullable=False),
        sa.Column("received_at", TS, nullable=False),
        sa.Column("last_received_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_inbound_dead_letters"),
        sa.UniqueConstraint("source", "webhook_id", name="uq_inbound_dead_letters_source_webhook_id"),
    )
    op.create_index("ix_inbound_dead_letters_order_id", "inbound_dead_letters", ["order_id", "id"])

    op.create_table(
        "reconciliation_run_orders",
        sa.Column("run_id", sa.String(128), nullable=False),
        sa.Column("order_id", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("run_id", "order_id", name="pk_reconciliation_run_orders"),
        sa.ForeignKeyConstraint(["run_id"], ["reconciliation_runs.run_id"], ondelete="CASCADE",
                                name="fk_reconciliation_run_orders_run_id_reconciliation_runs"),
    )


def downgrade() -> None:
    op.drop_table("reconciliation_run_orders")
    op.drop_table("inbound_dead_letters")
    with op.batch_alter_table("webhook_endpoints") as batch:
        batch.add_column(sa.Column("secret", sa.String(200), nullable=True))
    _rewrite_secrets("secret_sealed", "secret", _box().open)
    with op.batch_alter_table("webhook_endpoints") as batch:
        batch.alter_column("secret", existing_type=sa.String(200), nullable=False)
        batch.drop_column("previous_secret_expires_at")
        batch.drop_column("previous_secret_sealed")
        batch.drop_column("secret_sealed")
