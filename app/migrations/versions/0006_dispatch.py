"""dispatch: rider states, searches, offers, history

Revision ID: 0006_dispatch
Revises: 0005_orders
Create Date: 2026-11-24
"""

import sqlalchemy as sa
from alembic import op

import app.db

revision = "0006_dispatch"
down_revision = "0005_orders"
branch_labels = None
depends_on = None


def _stamps() -> list[sa.Column]:
    return [
        sa.Column("created_at", app.db.UTCDateTime(), nullable=False),
        sa.Column("updated_at", app.db.UTCDateTime(), nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "rider_states",
        sa.Column("rider_id", app.db.IdType, sa.ForeignKey("users.id", ondelete="CASCADE", name=op.f("fk_rider_states_rider_id_users")), nullable=False, autoincrement=False),
        sa.Column("online", sa.Boolean(), nullable=False),
        sa.Column("active_order_id", app.db.IdType, nullable=True),
        sa.Column("lat", sa.Float(), nullable=True),
        sa.Column("lng", sa.Float(), nullable=True),
        *_stamps(),
        sa.PrimaryKeyConstraint("rider_id", name=op.f("pk_rider_states")),
    )
    op.create_index(op.f("ix_rider_states_active_order_id"), "rider_states", ["active_order_id"])
    op.create_table(
        "dispatch_searches",
        sa.Column("order_id", app.db.IdType, sa.ForeignKey("orders.id", ondelete="CASCADE", name=op.f("fk_dispatch_searches_order_id_orders")), nullable=False, autoincrement=False),
        sa.Column("round", sa.Integer(), nullable=False),
        sa.Column("radius_km", sa.Float(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("deadline_at", app.db.UTCDateTime(), nullable=False),
        *_stamps(),
        sa.PrimaryKeyConstraint("order_id", name=op.f("pk_dispatch_searches")),
    )
    op.create_index("ix_dispatch_searches_active_deadline_at", "dispatch_searches", ["active", "deadline_at"])
    op.create_table(
        "offers",
        sa.Column("id", app.db.IdType, primary_key=True, autoincrement=True),
        sa.Column("order_id", app.db.IdType, sa.ForeignKey("orders.id", ondelete="CASCADE", name=op.f("fk_offers_order_id_orders")), nullable=False),
        sa.Column("rider_id", app.db.IdType, sa.ForeignKey("users.id", ondelete="CASCADE", name=op.f("fk_offers_rider_id_users")), nullable=False),
        sa.Column("round", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("distance_km", sa.Float(), nullable=False),
        sa.Column("fee", sa.Integer(), nullable=False),
        sa.Column("expires_at", app.db.UTCDateTime(), nullable=False),
        *_stamps(),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_offers")),
    )
    op.create_index("ix_offers_rider_id_status", "offers", ["rider_id", "status"])
    op.create_index("ix_offers_order_id_status", "offers", ["order_id", "status"])
    op.create_table(
        "dispatch_history",
        sa.Column("id", app.db.IdType, primary_key=True, autoincrement=True),
        sa.Column("order_id", app.db.IdType, sa.ForeignKey("orders.id", name=op.f("fk_dispatch_history_order_id_orders")), nullable=False),
        sa.Column("rider_id", app.db.IdType, nullable=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("round", sa.Integer(), nullable=False),
        sa.Column("at", app.db.UTCDateTime(), nullable=False),
        sa.Column("detail", sa.String(200), nullable=True),
        *_stamps(),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dispatch_history")),
        mysql_charset="utf8mb4",
    )
    op.create_index(op.f("ix_dispatch_history_order_id"), "dispatch_history", ["order_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_dispatch_history_order_id"), table_name="dispatch_history")
    op.drop_table("dispatch_history")
    op.drop_index("ix_offers_order_id_status", table_name="offers")
    op.drop_index("ix_offers_rider_id_status", table_name="offers")
    op.drop_table("offers")
    op.drop_index("ix_dispatch_searches_active_deadline_at", table_name="dispatch_searches")
    op.drop_table("dispatch_searches")
    op.drop_index(op.f("ix_rider_states_active_order_id"), table_name="rider_states")
    op.drop_table("rider_states")
