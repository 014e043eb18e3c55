"""orders keep their answer deadline, the kitchen's time and delays, and when they arrive

Revision ID: 0012_eta
Revises: 0010_addresses
Create Date: 2026-11-26
"""

from datetime import timedelta

import sqlalchemy as sa
from alembic import op

import app.db

revision = "0012_eta"
down_revision = "0010_addresses"
branch_labels = None
depends_on = None

# STORE_ACCEPT_TIMEOUT's default: orders waiting for an answer when this runs keep the
# deadline they had under it.
LEGACY_ACCEPT_WITHIN = timedelta(seconds=300)


def upgrade() -> None:
    with op.batch_alter_table("orders") as batch:
        batch.add_column(sa.Column("accept_by", app.db.UTCDateTime(), nullable=True))
        batch.add_column(sa.Column("ready_by", app.db.UTCDateTime(), nullable=True))
        batch.add_column(
            sa.Column("delay_minutes", sa.Integer(), nullable=False, server_default="0")
        )
        batch.add_column(sa.Column("eta", app.db.UTCDateTime(), nullable=True))
    # The sweeper rejects an unanswered order by its `accept_by`: give the ones waiting now
    # theirs (few: an order waits minutes at most).
    orders = sa.table(
        "orders",
        sa.column("id", app.db.IdType),
        sa.column("status", sa.String(16)),
        sa.column("created_at", app.db.UTCDateTime()),
        sa.column("accept_by", app.db.UTCDateTime()),
    )
    bind = op.get_bind()
    waiting = bind.execute(
        sa.select(orders.c.id, orders.c.created_at).where(orders.c.status == "placed")
    ).all()
    for order_id, created_at in waiting:
        bind.execute(
            orders.update()
            .where(orders.c.id == order_id)
            .values(accept_by=created_at + LEGACY_ACCEPT_WITHIN)
        )


def downgrade() -> None:
    with op.batch_alter_table("orders") as batch:
        batch.drop_column("eta")
        batch.drop_column("delay_minutes")
        batch.drop_column("ready_by")
        batch.drop_column("accept_by")
