"""accounts and stores can be suspended; the admins' audit log

Revision ID: 0017_admin
Revises: 0016_rider_earnings
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

import app.db

revision = "0017_admin"
down_revision = "0016_rider_earnings"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(
            sa.Column("suspended", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    with op.batch_alter_table("stores") as batch:
        batch.add_column(
            sa.Column("suspended", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    op.create_table(
        "admin_audit",
        sa.Column("id", app.db.IdType, primary_key=True, autoincrement=True),
        sa.Column("admin_id", app.db.IdType, nullable=False),
        sa.Column("action", sa.String(40), nullable=False),
        sa.Column("target_type", sa.String(16), nullable=False),
        sa.Column("target_id", app.db.IdType, nullable=False),
        sa.Column("details", sa.Text(), nullable=False),
        sa.Column("at", app.db.UTCDateTime(), nullable=False),
        sa.Column("created_at", app.db.UTCDateTime(), nullable=False),
        sa.Column("updated_at", app.db.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_admin_audit")),
        sa.ForeignKeyConstraint(
            ["admin_id"],
            ["users.id"],
            name=op.f("fk_admin_audit_admin_id_users"),
            ondelete="RESTRICT",
        ),
    )
    op.create_index(op.f("ix_admin_audit_admin_id"), "admin_audit", ["admin_id"])
    op.create_index("ix_admin_audit_target", "admin_audit", ["target_type", "target_id"])


def downgrade() -> None:
    op.drop_index("ix_admin_audit_target", table_name="admin_audit")
    op.drop_index(op.f("ix_admin_audit_admin_id"), table_name="admin_audit")
    op.drop_table("admin_audit")
    with op.batch_alter_table("stores") as batch:
        batch.drop_column("suspended")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("suspended")
