"""saved delivery addresses, favourite stores, and the customer's notes on orders

Revision ID: 0010_addresses
Revises: 0009_superseded_charges
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

import app.db

revision = "0010_addresses"
down_revision = "0009_superseded_charges"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "addresses",
        sa.Column("id", app.db.IdType, primary_key=True, autoincrement=True),
        sa.Column("customer_id", app.db.IdType, nullable=False),
        sa.Column("label", sa.String(40), nullable=False),
        sa.Column("text", sa.String(300), nullable=False),
        sa.Column("lat", sa.Double(), nullable=False),
        sa.Column("lng", sa.Double(), nullable=False),
        sa.Column("rider_note", sa.String(200), nullable=True),
        sa.Column("is_default", sa.Boolean(), nullable=True),
        sa.Column("created_at", app.db.UTCDateTime(), nullable=False),
        sa.Column("updated_at", app.db.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_addresses")),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["users.id"],
            name=op.f("fk_addresses_customer_id_users"),
            ondelete="CASCADE",
        ),
        sa.UniqueConstraint(
            "customer_id", "is_default", name=op.f("uq_addresses_customer_id_is_default")
        ),
    )
    op.create_index(op.f("ix_addresses_customer_id"), "addresses", ["customer_id"])
    op.create_table(
        "favourites",
        sa.Column("id", app.db.IdType, primary_key=True, autoincrement=True),
        sa.Column("customer_id", app.db.IdType, nullable=False),
        sa.Column("store_id", app.db.IdType, nullable=False),
        sa.Column("created_at", app.db.UTCDateTime(), nullable=False),
        sa.Column("updated_at", app.db.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_favourites")),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["users.id"],
            name=op.f("fk_favourites_customer_id_users"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["store_id"],
            ["stores.id"],
            name=op.f("fk_favourites_store_id_stores"),
            ondelete="CASCADE",
        ),
        sa.UniqueConstraint(
            "customer_id", "store_id", name=op.f("uq_favourites_customer_id_store_id")
        ),
    )
    op.create_index("ix_favourites_store_id", "favourites", ["store_id"])
    with op.batch_alter_table("orders") as batch:
        batch.add_column(sa.Column("store_note", sa.String(200), nullable=True))
        batch.add_column(sa.Column("rider_note", sa.String(200), nullable=True))
        # Single precision moved a delivery point by metres.
        for column in ("address_lat", "address_lng"):
            batch.alter_column(
                column, existing_type=sa.Float(), type_=sa.Double(), existing_nullable=False
            )


def downgrade() -> None:
    with op.batch_alter_table("orders") as batch:
        for column in ("address_lat", "address_lng"):
            batch.alter_column(
                column, existing_type=sa.Double(), type_=sa.Float(), existing_nullable=False
            )
        batch.drop_column("rider_note")
        batch.drop_column("store_note")
    op.drop_index("ix_favourites_store_id", table_name="favourites")
    op.drop_table("favourites")
    op.drop_index(op.f("ix_addresses_customer_id"), table_name="addresses")
    op.drop_table("addresses")
