"""orders, payments, idempotency keys

Revision ID: 0005_orders
Revises: 0004_rewards
Create Date: 2026-11-24
"""

import sqlalchemy as sa
from alembic import op

import app.db

revision = "0005_orders"
down_revision = "0004_rewards"
branch_labels = None
depends_on = None


def _stamps() -> list[sa.Column]:
    return [
        sa.Column("created_at", app.db.UTCDateTime(), nullable=False),
        sa.Column("updated_at", app.db.UTCDateTime(), nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "orders",
        sa.Column("id", app.db.IdType, primary_key=True, autoincrement=True),
        sa.Column("customer_id", app.db.IdType, sa.ForeignKey("users.id", name=op.f("fk_orders_customer_id_users")), nullable=False),
        sa.Column("store_id", app.db.IdType, sa.ForeignKey("stores.id", name=op.f("fk_orders_store_id_stores")), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("dispatch", sa.String(12), nullable=False),
        sa.Column("rider_id", app.db.IdType, sa.ForeignKey("users.id", name=op.f("fk_orders_rider_id_users")), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("subtotal", sa.Integer(), nullable=False),
        sa.Column("delivery_fee", sa.Integer(), nullable=False),
        sa.Column("coupon_id", app.db.IdType, nullable=True),
        sa.Column("coupon_discount", sa.Integer(), nullable=False),
        sa.Column("points_used", sa.Integer(), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("paid_amount", sa.Integer(), nullable=False),
        sa.Column("address_text", sa.String(300), nullable=False),
        sa.Column("address_lat", sa.Float(), nullable=False),
        sa.Column("address_lng", sa.Float(), nullable=False),
        sa.Column("prep_minutes", sa.Integer(), nullable=True),
        sa.Column("accepted_at", app.db.UTCDateTime(), nullable=True),
        sa.Column("reason", sa.String(300), nullable=True),
        sa.Column("stream_seq", sa.Integer(), nullable=False),
        sa.Column("rider_lat", sa.Float(), nullable=True),
        sa.Column("rider_lng", sa.Float(), nullable=True),
        sa.Column("rider_located_at", app.db.UTCDateTime(), nullable=True),
        *_stamps(),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_orders")),
        mysql_charset="utf8mb4",
    )
    op.create_index("ix_orders_customer_id_id", "orders", ["customer_id", "id"])
    op.create_index("ix_orders_store_id_id", "orders", ["store_id", "id"])
    op.create_index("ix_orders_rider_id_id", "orders", ["rider_id", "id"])
    op.create_index("ix_orders_status_created_at", "orders", ["status", "created_at"])
    op.create_table(
        "order_items",
        sa.Column("id", app.db.IdType, primary_key=True, autoincrement=True),
        sa.Column("order_id", app.db.IdType, sa.ForeignKey("orders.id", ondelete="CASCADE", name=op.f("fk_order_items_order_id_orders")), nullable=False),
        sa.Column("menu_item_id", app.db.IdType, nullable=False),
        sa.Column("name", sa.String(120), nullable=False),
        sa.Column("price", sa.Integer(), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("options_json", sa.Text(), nullable=False),
        sa.Column("line_total", sa.Integer(), nullable=False),
        *_stamps(),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_order_items")),
        mysql_charset="utf8mb4",
    )
    op.create_index(op.f("ix_order_items_order_id"), "order_items", ["order_id"])
    op.create_table(
        "order_timeline",
        sa.Column("id", app.db.IdType, primary_key=True, autoincrement=True),
        sa.Column("order_id", app.db.IdType, sa.ForeignKey("orders.id", ondelete="CASCADE", name=op.f("fk_order_timeline_order_id_orders")), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("at", app.db.UTCDateTime(), nullable=False),
        *_stamps(),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_order_timeline")),
    )
    op.create_index(op.f("ix_order_timeline_order_id"), "order_timeline", ["order_id"])
    op.create_table(
        "payments",
        sa.Column("id", app.db.IdType, primary_key=True, autoincrement=True),
        sa.Column("order_id", app.db.IdType, sa.ForeignKey("orders.id", ondelete="CASCADE", name=op.f("fk_payments_order_id_orders")), nullable=False),
        sa.Column("method", sa.String(16), nullable=False),
        sa.Column("amount", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("reference", sa.String(64), nullable=False),
        sa.Column("provider_reference", sa.String(64), nullable=True),
        *_stamps(),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payments")),
        sa.UniqueConstraint("order_id", name=op.f("uq_payments_order_id")),
        sa.UniqueConstraint("reference", name=op.f("uq_payments_reference")),
    )
    op.create_table(
        "idempotency_keys",
        sa.Column("id", app.db.IdType, primary_key=True, autoincrement=True),
        sa.Column("user_id", app.db.IdType, nullable=False),
        sa.Column("key", sa.String(255), nullable=False),
        sa.Column("request_hash", sa.String(64), nullable=False),
        sa.Column("state", sa.String(12), nullable=False),
        sa.Column("response_status", sa.Integer(), nullable=True),
        sa.Column("response_body", sa.Text(), nullable=True),
        sa.Column("payment_reference", sa.String(64), nullable=False),
        sa.Column("expires_at", app.db.UTCDateTime(), nullable=False),
        *_stamps(),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_idempotency_keys")),
        sa.UniqueConstraint("user_id", "key", name="uq_idempotency_keys_user_id_key"),
        mysql_charset="utf8mb4",
    )
    op.create_index(op.f("ix_idempotency_keys_expires_at"), "idempotency_keys", ["expires_at"])


def downgrade() -> None:
    for table in ("idempotency_keys", "payments", "order_timeline", "order_items", "orders"):
        op.drop_table(table)
