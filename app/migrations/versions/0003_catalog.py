"""catalog (tables added by that part)

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


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
