"""orders (tables added by that part)

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


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
