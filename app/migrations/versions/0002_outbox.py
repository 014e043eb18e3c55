"""event outbox and stream heads

Revision ID: 0002_outbox
Revises: 0001_accounts
Create Date: 2026-11-24
"""

import sqlalchemy as sa
from alembic import op

import app.db

revision = "0002_outbox"
down_revision = "0001_accounts"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "stream_heads",
        sa.Column("stream", sa.String(64), nullable=False),
        sa.Column("last_seq", sa.BigInteger(), nullable=False),
        sa.Column("created_at", app.db.UTCDateTime(), nullable=False),
        sa.Column("updated_at", app.db.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("stream", name=op.f("pk_stream_heads")),
    )
    op.create_table(
        "outbox_events",
        sa.Column("id", app.db.IdType, primary_key=True, autoincrement=True),
        sa.Column("stream", sa.String(64), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("type", sa.String(40), nullable=False),
        sa.Column("at", app.db.UTCDateTime(), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("published", sa.Integer(), nullable=False),
        sa.Column("published_at", app.db.UTCDateTime(), nullable=True),
        sa.Column("created_at", app.db.UTCDateTime(), nullable=False),
        sa.Column("updated_at", app.db.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox_events")),
        sa.UniqueConstraint("stream", "seq", name="uq_outbox_events_stream_seq"),
        mysql_charset="utf8mb4",
    )
    op.create_index("ix_outbox_events_published_id", "outbox_events", ["published", "id"])


def downgrade() -> None:
    op.drop_index("ix_outbox_events_published_id", table_name="outbox_events")
    op.drop_table("outbox_events")
    op.drop_table("stream_heads")
