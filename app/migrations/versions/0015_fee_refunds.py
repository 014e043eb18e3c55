"""stores deliver within a radius with fees by distance; orders refunded in part

Revision ID: 0015_fee_refunds
Revises: 0014_store_hours
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

import app.db

revision = "0015_fee_refunds"
down_revision = "0014_store_hours"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Every existing store delivers 3 km around it at its flat fee (no tiers: one fee up to
    # the radius), which is what the defaults of a new store are.
    with op.batch_alter_table("stores") as batch:
        batch.add_column(
            sa.Column(
                "delivery_radius_km", sa.Double(), nullable=False, server_default=sa.text("3")
            )
        )
        batch.add_column(
            sa.Column(
                "delivery_fee_tiers", sa.String(1000), nullable=False, server_default=sa.text("'[]'")
            )
        )
    with op.batch_alter_table("orders") as batch:
        batch.add_column(
            sa.Column("refunded_amount", sa.BigInteger(), nullable=False, server_default="0")
        )
    op.create_table(
        "order_refunds",
        sa.Column("id", app.db.IdType, primary_key=True, autoincrement=True),
        sa.Column("order_id", app.db.IdType, nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("points", sa.BigInteger(), nullable=False),
        sa.Column("card", sa.BigInteger(), nullable=False),
        sa.Column("lines_json", sa.Text(), nullable=True),
        sa.Column("reason", sa.String(300), nullable=False),
        sa.Column("reference", sa.String(64), nullable=False),
        sa.Column("card_status", sa.String(16), nullable=False),
        sa.Column("refunded_by", app.db.IdType, nullable=False),
        sa.Column("idempotency_key", sa.String(255), nullable=True),
        sa.Column("request_digest", sa.String(64), nullable=True),
        sa.Column("created_at", app.db.UTCDateTime(), nullable=False),
        sa.Column("updated_at", app.db.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_order_refunds")),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["orders.id"],
            name=op.f("fk_order_refunds_order_id_orders"),
            ondelete="CASCADE",
        ),
        sa.UniqueConstraint("reference", name=op.f("uq_order_refunds_reference")),
        sa.UniqueConstraint(
            "order_id",
            "idempotency_key",
            name=op.f("uq_order_refunds_order_id_idempotency_key"),
        ),
    )
    op.create_index(op.f("ix_order_refunds_order_id"), "order_refunds", ["order_id"])
    op.create_index(op.f("ix_order_refunds_card_status"), "order_refunds", ["card_status"])
    # A part refund restores points once per refund, and an order may have several: the
    # ledger's once-per-(order, reason) rule gains the refund (0 for every other movement).
    with op.batch_alter_table("point_ledger") as batch:
        batch.add_column(
            sa.Column("refund_id", sa.BigInteger(), nullable=False, server_default="0")
        )
        batch.drop_constraint("uq_point_ledger_order_id_reason", type_="unique")
        batch.create_unique_constraint(
            "uq_point_ledger_order_id_reason_refund_id", ["order_id", "reason", "refund_id"]
        )


def downgrade() -> None:
    with op.batch_alter_table("point_ledger") as batch:
        batch.drop_constraint("uq_point_ledger_order_id_reason_refund_id", type_="unique")
        batch.create_unique_constraint("uq_point_ledger_order_id_reason", ["order_id", "reason"])
        batch.drop_column("refund_id")
    op.drop_index(op.f("ix_order_refunds_card_status"), table_name="order_refunds")
    op.drop_index(op.f("ix_order_refunds_order_id"), table_name="order_refunds")
    op.drop_table("order_refunds")
    with op.batch_alter_table("orders") as batch:
        batch.drop_column("refunded_amount")
    with op.batch_alter_table("stores") as batch:
        batch.drop_column("delivery_fee_tiers")
        batch.drop_column("delivery_radius_km")
