"""The Alembic migrations build exactly the schema the models declare, on SQLite and MariaDB."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine

from app.migrate import upgrade
from app.models import Base
from app.payments.models import GatewayBase
from tests.harness import Infra


def _ours(name: str | None, type_: str, parent_names: Any) -> bool:
    # The sandbox card gateway keeps its own books in the same database, outside Alembic.
    return not (type_ == "table" and name in GatewayBase.metadata.tables)


def _differences(sync_url: str) -> list[Any]:
    engine = create_engine(sync_url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(
                conn, opts={"compare_type": False, "include_name": _ours}
            )
            return list(compare_metadata(context, Base.metadata))
    finally:
        engine.dispose()


def test_migrations_build_the_models_schema_on_sqlite(tmp_path: Path) -> None:
    path = tmp_path / "schema.sqlite3"
    upgrade(f"sqlite+aiosqlite:///{path}")
    assert _differences(f"sqlite:///{path}") == []


def test_migrations_build_the_models_schema_on_mariadb(infra: Infra) -> None:
    sync = infra.sync_db
    url = f"mysql+pymysql://{sync['user']}@{sync['host']}:{sync['port']}/{sync['database']}"
    assert _differences(url) == []


def test_every_column_holding_a_sum_of_money_is_64_bit(infra: Infra) -> None:
    money = {
        ("orders", c)
        for c in (
            "subtotal",
            "delivery_fee",
            "coupon_discount",
            "points_used",
            "total",
            "paid_amount",
        )
    } | {
        ("order_items", "price"),
        ("order_items", "line_total"),
        ("payments", "amount"),
        ("offers", "fee"),
        ("dispatch_searches", "rider_fee"),
        ("rider_earnings", "amount"),
    }
    rows = infra.query(
        "SELECT table_name, column_name, data_type FROM information_schema.columns "
        "WHERE table_schema = DATABASE()"
    )
    types = {(str(t), str(c)): str(d) for t, c, d in rows}
    assert {key: types[key] for key in money} == {key: "bigint" for key in money}
