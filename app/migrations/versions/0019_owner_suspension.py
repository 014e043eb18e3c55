"""a store counts as suspended while its owner's account is

Revision ID: 0019_owner_suspension
Revises: 0018_bundles
Create Date: 2026-11-27
"""

import sqlalchemy as sa
from alembic import op

revision = "0019_owner_suspension"
down_revision = "0018_bundles"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("stores") as batch:
        batch.add_column(
            sa.Column("owner_suspended", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    # The stores of the accounts suspended before this.
    op.execute(
        "UPDATE stores SET owner_suspended = 1"
        " WHERE owner_id IN (SELECT id FROM users WHERE suspended = 1)"
    )


def downgrade() -> None:
    with op.batch_alter_table("stores") as batch:
        batch.drop_column("owner_suspended")
