"""riders' earnings ledger, and the rider's fee and trip fixed on each order's search

Revision ID: 0016_rider_earnings
Revises: 0015_fee_refunds
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

import app.db

revision = "0016_rider_earnings"
down_revision = "0015_fee_refunds"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Searches started before this have no fee yet: their next round fixes it, and a delivery
    # of such an order earns the fee its rider accepted.
    with op.batch_alter_table("dispatch_searches") as batch:
        batch.add_column(sa.Column("rider_fee", sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column("trip_km", sa.Float(), nullable=True))
    op.create_table(
        "rider_earnings",
        sa.Column("id", app.db.IdType, primary_key=True, autoincrement=True),
        sa.Column("rider_id", app.db.IdType, nullable=False),
        sa.Column("order_id", app.db.IdType, nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(12), nullable=False),
        sa.Column("at", app.db.UTCDateTime(), nullable=False),
        sa.Column("delivery_of", app.db.IdType, nullable=True),
        sa.Column("note", sa.String(200), nullable=True),
        sa.Column("created_at", app.db.UTCDateTime(), nullable=False),
        sa.Column("updated_at", app.db.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rider_earnings")),
        sa.ForeignKeyConstraint(
            ["rider_id"],
            ["users.id"],
            name=op.f("fk_rider_earnings_rider_id_users"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["orders.id"],
            name=op.f("fk_rider_earnings_order_id_orders"),
            ondelete="CASCADE",
        ),
        sa.UniqueConstraint("delivery_of", name=op.f("uq_rider_earnings_delivery_of")),
    )
    op.create_index(
        op.f("ix_rider_earnings_rider_id_at"), "rider_earnings", ["rider_id", "at"]
    )
    op.create_index(op.f("ix_rider_earnings_order_id"), "rider_earnings", ["order_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_rider_earnings_order_id"), table_name="rider_earnings")
    op.drop_index(op.f("ix_rider_earnings_rider_id_at"), table_name="rider_earnings")
    op.drop_table("rider_earnings")
    with op.batch_alter_table("dispatch_searches") as batch:
        batch.drop_column("trip_km")
        batch.drop_column("rider_fee")
