"""bundled offers: two orders offered to one rider as one, and a rider carrying both

Revision ID: 0018_bundles
Revises: 0017_admin
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

import app.db

revision = "0018_bundles"
down_revision = "0017_admin"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Every offer made before this is a single one (NULL), every rider carries at most one.
    with op.batch_alter_table("offers") as batch:
        batch.add_column(sa.Column("bundle_id", app.db.IdType, nullable=True))
    op.create_index(op.f("ix_offers_bundle_id"), "offers", ["bundle_id"])
    with op.batch_alter_table("rider_states") as batch:
        batch.add_column(sa.Column("second_order_id", app.db.IdType, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("rider_states") as batch:
        batch.drop_column("second_order_id")
    op.drop_index(op.f("ix_offers_bundle_id"), table_name="offers")
    with op.batch_alter_table("offers") as batch:
        batch.drop_column("bundle_id")
