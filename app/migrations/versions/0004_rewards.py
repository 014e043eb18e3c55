"""rewards (tables added by that part)

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


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
