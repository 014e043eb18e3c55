"""customers' reviews of delivered orders, owners' replies, and each store's rating totals

Revision ID: 0013_reviews
Revises: 0012_eta
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

import app.db

revision = "0013_reviews"
down_revision = "0012_eta"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("stores") as batch:
        batch.add_column(
            sa.Column("review_count", sa.Integer(), nullable=False, server_default="0")
        )
        batch.add_column(
            sa.Column("rating_sum", sa.BigInteger(), nullable=False, server_default="0")
        )
    op.create_table(
        "reviews",
        sa.Column("id", app.db.IdType, primary_key=True, autoincrement=True),
        sa.Column("order_id", app.db.IdType, nullable=False),
        sa.Column("store_id", app.db.IdType, nullable=False),
        sa.Column("customer_id", app.db.IdType, nullable=False),
        sa.Column("rating", sa.Integer(), nullable=False),
        sa.Column("text", sa.String(1000), nullable=True),
        sa.Column("reply_text", sa.String(1000), nullable=True),
        sa.Column("replied_at", app.db.UTCDateTime(), nullable=True),
        sa.Column("created_at", app.db.UTCDateTime(), nullable=False),
        sa.Column("updated_at", app.db.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reviews")),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["orders.id"],
            name=op.f("fk_reviews_order_id_orders"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["store_id"],
            ["stores.id"],
            name=op.f("fk_reviews_store_id_stores"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["users.id"],
            name=op.f("fk_reviews_customer_id_users"),
            ondelete="CASCADE",
        ),
        sa.UniqueConstraint("order_id", name=op.f("uq_reviews_order_id")),
    )
    op.create_index(op.f("ix_reviews_store_id_id"), "reviews", ["store_id", "id"])
    op.create_index(op.f("ix_reviews_customer_id"), "reviews", ["customer_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_reviews_customer_id"), table_name="reviews")
    op.drop_index(op.f("ix_reviews_store_id_id"), table_name="reviews")
    op.drop_table("reviews")
    with op.batch_alter_table("stores") as batch:
        batch.drop_column("rating_sum")
        batch.drop_column("review_count")
