"""idempotency keys hold a renewable lease; payments can wait for their refund

Revision ID: 0008_leases_pending_refunds
Revises: 0007_money_columns
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

import app.db

revision = "0008_leases_pending_refunds"
down_revision = "0007_money_columns"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Nullable: a key taken before this revision has no lease and counts from its created_at.
    with op.batch_alter_table("idempotency_keys") as batch:
        batch.add_column(sa.Column("lease_until", app.db.UTCDateTime(), nullable=True))
    # The sweeper looks for payments whose refund is still owed.
    op.create_index(op.f("ix_payments_status"), "payments", ["status"])


def downgrade() -> None:
    op.drop_index(op.f("ix_payments_status"), table_name="payments")
    with op.batch_alter_table("idempotency_keys") as batch:
        batch.drop_column("lease_until")
