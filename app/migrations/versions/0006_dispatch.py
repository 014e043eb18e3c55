"""dispatch (tables added by that part)

Revision ID: 0006_dispatch
Revises: 0005_orders
Create Date: 2026-11-24
"""

import sqlalchemy as sa
from alembic import op

import app.db

revision = "0006_dispatch"
down_revision = "0005_orders"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
