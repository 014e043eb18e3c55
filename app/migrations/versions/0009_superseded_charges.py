"""payment references of requests whose Idempotency-Key was taken over, to be voided

Revision ID: 0009_superseded_charges
Revises: 0008_leases_pending_refunds
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op

import app.db

revision = "0009_superseded_charges"
down_revision = "0008_leases_pending_refunds"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "superseded_charges",
        sa.Column("id", app.db.IdType, primary_key=True, autoincrement=True),
        sa.Column("reference", sa.String(64), nullable=False),
        sa.Column("settled_at", app.db.UTCDateTime(), nullable=True),
        sa.Column("created_at", app.db.UTCDateTime(), nullable=False),
        sa.Column("updated_at", app.db.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_superseded_charges")),
        sa.UniqueConstraint("reference", name=op.f("uq_superseded_charges_reference")),
    )
    op.create_index(
        op.f("ix_superseded_charges_settled_at"), "superseded_charges", ["settled_at"]
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_superseded_charges_settled_at"), table_name="superseded_charges")
    op.drop_table("superseded_charges")
