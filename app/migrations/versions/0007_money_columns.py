"""money: the columns that hold sums (order totals, line totals, payments, fees) are 64-bit

Revision ID: 0007_money_columns
Revises: 0006_dispatch
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op

revision = "0007_money_columns"
down_revision = "0006_dispatch"
branch_labels = None
depends_on = None

COLUMNS = {
    "orders": ["subtotal", "delivery_fee", "coupon_discount", "points_used", "total", "paid_amount"],
    "order_items": ["price", "line_total"],
    "payments": ["amount"],
    "offers": ["fee"],
}


def _alter(type_: sa.types.TypeEngine, existing: sa.types.TypeEngine) -> None:
    for table, columns in COLUMNS.items():
        # batch mode: SQLite cannot alter a column in place, it rebuilds the table.
        with op.batch_alter_table(table) as batch:
            for column in columns:
                batch.alter_column(
                    column, type_=type_, existing_type=existing, existing_nullable=False
                )


def upgrade() -> None:
    _alter(sa.BigInteger(), sa.Integer())


def downgrade() -> None:
    _alter(sa.Integer(), sa.BigInteger())
