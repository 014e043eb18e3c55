"""catalog: stores, menu items (soft-deleted) and their options

Revision ID: 0003_catalog
Revises: 0002_outbox
Create Date: 2026-11-24
"""

import sqlalchemy as sa
from alembic import op

import app.db

revision = "0003_catalog"
down_revision = "0002_outbox"
branch_labels = None
depends_on = None


def _timestamps() -> list[sa.Column]:  # type: ignore[type-arg]
    return [
        sa.Column("created_at", app.db.UTCDateTime(), nullable=False),
        sa.Column("updated_at", app.db.UTCDateTime(), nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "stores",
        sa.Column("id", app.db.IdType, primary_key=True, autoincrement=True),
        sa.Column("owner_id", app.db.IdType, nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("category", sa.String(32), nullable=False),
        sa.Column("address", sa.String(200), nullable=False),
        sa.Column("lat", sa.Double(), nullable=False),
        sa.Column("lng", sa.Double(), nullable=False),
        sa.Column("phone", sa.String(20), nullable=False),
        sa.Column("min_order", sa.Integer(), nullable=False),
        sa.Column("delivery_fee", sa.Integer(), nullable=False),
        sa.Column("open", sa.Boolean(), nullable=False),
        sa.Column("image_key", sa.String(120), nullable=True),
        *_timestamps(),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stores")),
        sa.ForeignKeyConstraint(
            ["owner_id"], ["users.id"], name=op.f("fk_stores_owner_id_users"), ondelete="CASCADE"
        ),
        mysql_charset="utf8mb4",
        mysql_collate="utf8mb4_unicode_ci",
    )
    op.create_index(op.f("ix_stores_owner_id"), "stores", ["owner_id"])
    op.create_index(op.f("ix_stores_name"), "stores", ["name"])
    op.create_index(op.f("ix_stores_category"), "stores", ["category"])
    op.create_index("ix_stores_lat_lng", "stores", ["lat", "lng"])

    op.create_table(
        "menu_items",
        sa.Column("id", app.db.IdType, primary_key=True, autoincrement=True),
        sa.Column("store_id", app.db.IdType, nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("price", sa.Integer(), nullable=False),
        sa.Column("group", sa.String(50), nullable=False),
        sa.Column("description", sa.String(500), nullable=False),
        sa.Column("sold_out", sa.Boolean(), nullable=False),
        sa.Column("image_key", sa.String(120), nullable=True),
        sa.Column("deleted_at", app.db.UTCDateTime(), nullable=True),
        *_timestamps(),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_menu_items")),
        sa.ForeignKeyConstraint(
            ["store_id"],
            ["stores.id"],
            name=op.f("fk_menu_items_store_id_stores"),
            ondelete="CASCADE",
        ),
        mysql_charset="utf8mb4",
        mysql_collate="utf8mb4_unicode_ci",
    )
    op.create_index(op.f("ix_menu_items_store_id"), "menu_items", ["store_id"])

    op.create_table(
        "menu_options",
        sa.Column("id", app.db.IdType, primary_key=True, autoincrement=True),
        sa.Column("item_id", app.db.IdType, nullable=False),
        sa.Column("name", sa.String(50), nullable=False),
        sa.Column("price", sa.Integer(), nullable=False),
        *_timestamps(),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_menu_options")),
        sa.ForeignKeyConstraint(
            ["item_id"],
            ["menu_items.id"],
            name=op.f("fk_menu_options_item_id_menu_items"),
            ondelete="CASCADE",
        ),
        mysql_charset="utf8mb4",
        mysql_collate="utf8mb4_unicode_ci",
    )
    op.create_index(op.f("ix_menu_options_item_id"), "menu_options", ["item_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_menu_options_item_id"), table_name="menu_options")
    op.drop_table("menu_options")
    op.drop_index(op.f("ix_menu_items_store_id"), table_name="menu_items")
    op.drop_table("menu_items")
    op.drop_index("ix_stores_lat_lng", table_name="stores")
    op.drop_index(op.f("ix_stores_category"), table_name="stores")
    op.drop_index(op.f("ix_stores_name"), table_name="stores")
    op.drop_index(op.f("ix_stores_owner_id"), table_name="stores")
    op.drop_table("stores")
