"""stores keep a time zone, weekly opening hours, closed dates and the end of a pause

Revision ID: 0014_store_hours
Revises: 0013_reviews
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

import app.db

revision = "0014_store_hours"
down_revision = "0013_reviews"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Every existing store gets the default zone and no schedule: it keeps taking orders
    # whenever its switch is on, as before.
    with op.batch_alter_table("stores") as batch:
        batch.add_column(
            sa.Column(
                "timezone", sa.String(64), nullable=False, server_default=sa.text("'Asia/Seoul'")
            )
        )
        batch.add_column(
            sa.Column(
                "weekly_hours", sa.String(2000), nullable=False, server_default=sa.text("'[]'")
            )
        )
        batch.add_column(
            sa.Column(
                "closed_dates", sa.String(2000), nullable=False, server_default=sa.text("'[]'")
            )
        )
        batch.add_column(sa.Column("paused_until", app.db.UTCDateTime(), nullable=True))
    # The pause sweeper looks for pauses that have run out.
    op.create_index(op.f("ix_stores_paused_until"), "stores", ["paused_until"])


def downgrade() -> None:
    op.drop_index(op.f("ix_stores_paused_until"), table_name="stores")
    with op.batch_alter_table("stores") as batch:
        batch.drop_column("paused_until")
        batch.drop_column("closed_dates")
        batch.drop_column("weekly_hours")
        batch.drop_column("timezone")
