"""rewards: points balances and ledger, coupon campaigns, coupons and the claim backlog

Revision ID: 0004_rewards
Revises: 0003_catalog
Create Date: 2026-11-24
"""

import sqlalchemy as sa
from alembic import op

import app.db

revision = "0004_rewards"
down_revision = "0003_catalog"
branch_labels = None
depends_on = None


def _timestamps() -> list[sa.Column]:  # type: ignore[type-arg]
    return [
        sa.Column("created_at", app.db.UTCDateTime(), nullable=False),
        sa.Column("updated_at", app.db.UTCDateTime(), nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "point_balances",
        sa.Column("customer_id", app.db.IdType, nullable=False, autoincrement=False),
        sa.Column("accrued", sa.BigInteger(), nullable=False),
        sa.Column("usable", sa.BigInteger(), nullable=False),
        *_timestamps(),
        sa.PrimaryKeyConstraint("customer_id", name=op.f("pk_point_balances")),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["users.id"],
            name=op.f("fk_point_balances_customer_id_users"),
            ondelete="CASCADE",
        ),
        mysql_charset="utf8mb4",
    )
    op.create_table(
        "point_ledger",
        sa.Column("id", app.db.IdType, primary_key=True, autoincrement=True),
        sa.Column("customer_id", app.db.IdType, nullable=False),
        sa.Column("reason", sa.String(16), nullable=False),
        sa.Column("order_id", app.db.IdType, nullable=True),
        sa.Column("accrued_delta", sa.BigInteger(), nullable=False),
        sa.Column("usable_delta", sa.BigInteger(), nullable=False),
        *_timestamps(),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_point_ledger")),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["users.id"],
            name=op.f("fk_point_ledger_customer_id_users"),
            ondelete="CASCADE",
        ),
        sa.UniqueConstraint("order_id", "reason", name="uq_point_ledger_order_id_reason"),
        mysql_charset="utf8mb4",
    )
    op.create_index(op.f("ix_point_ledger_customer_id"), "point_ledger", ["customer_id"])
    op.create_table(
        "coupon_campaigns",
        sa.Column("id", app.db.IdType, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("discount", sa.BigInteger(), nullable=False),
        sa.Column("min_order", sa.BigInteger(), nullable=False),
        sa.Column("quantity", sa.BigInteger(), nullable=False),
        sa.Column("issued", sa.BigInteger(), nullable=False),
        sa.Column("valid_days", sa.Integer(), nullable=False),
        sa.Column("starts_at", app.db.UTCDateTime(), nullable=False),
        sa.Column("ends_at", app.db.UTCDateTime(), nullable=False),
        *_timestamps(),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_coupon_campaigns")),
        mysql_charset="utf8mb4",
        mysql_collate="utf8mb4_unicode_ci",
    )
    op.create_table(
        "coupons",
        sa.Column("id", app.db.IdType, primary_key=True, autoincrement=True),
        sa.Column("campaign_id", app.db.IdType, nullable=False),
        sa.Column("customer_id", app.db.IdType, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("expires_at", app.db.UTCDateTime(), nullable=False),
        sa.Column("order_id", app.db.IdType, nullable=True),
        sa.Column("used_at", app.db.UTCDateTime(), nullable=True),
        *_timestamps(),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_coupons")),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["coupon_campaigns.id"],
            name=op.f("fk_coupons_campaign_id_coupon_campaigns"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["users.id"],
            name=op.f("fk_coupons_customer_id_users"),
            ondelete="CASCADE",
        ),
        sa.UniqueConstraint(
            "campaign_id", "customer_id", name="uq_coupons_campaign_id_customer_id"
        ),
        mysql_charset="utf8mb4",
    )
    op.create_index("ix_coupons_customer_id_status", "coupons", ["customer_id", "status"])
    op.create_table(
        "coupon_claim_backlog",
        sa.Column("id", app.db.IdType, primary_key=True, autoincrement=True),
        sa.Column("campaign_id", app.db.IdType, nullable=False),
        sa.Column("customer_id", app.db.IdType, nullable=False),
        sa.Column("claimed_at", app.db.UTCDateTime(), nullable=False),
        *_timestamps(),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_coupon_claim_backlog")),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["coupon_campaigns.id"],
            name=op.f("fk_coupon_claim_backlog_campaign_id_coupon_campaigns"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["users.id"],
            name=op.f("fk_coupon_claim_backlog_customer_id_users"),
            ondelete="CASCADE",
        ),
        sa.UniqueConstraint(
            "campaign_id",
            "customer_id",
            name="uq_coupon_claim_backlog_campaign_id_customer_id",
        ),
        mysql_charset="utf8mb4",
    )


def downgrade() -> None:
    op.drop_table("coupon_claim_backlog")
    op.drop_index("ix_coupons_customer_id_status", table_name="coupons")
    op.drop_table("coupons")
    op.drop_table("coupon_campaigns")
    op.drop_index(op.f("ix_point_ledger_customer_id"), table_name="point_ledger")
    op.drop_table("point_ledger")
    op.drop_table("point_balances")
