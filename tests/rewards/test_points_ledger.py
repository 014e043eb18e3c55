"""Point movements made by orders: spend, refund, accrual; each recorded in the ledger."""

from __future__ import annotations

from app import DeliveryApp
from app.errors import Conflict
from app.rewards import ledger
from tests.conftest import AppPool
from tests.harness import Infra
from tests.rewards.helpers import insert_users, uow_of


async def _balances(app: DeliveryApp, customer_id: int) -> tuple[dict[str, int], dict[str, int]]:
    async with uow_of(app) as uow:
        return (
            await ledger.balances(uow, customer_id=customer_id),
            await ledger.ledger_sums(uow, customer_id=customer_id),
        )


async def _accrue(app: DeliveryApp, customer_id: int, order_id: int, paid: int) -> int:
    async with uow_of(app) as uow:
        amount = await ledger.accrue_for_delivery(
            uow, customer_id=customer_id, order_id=order_id, paid_amount=paid
        )
        await uow.commit()
    return amount


async def test_delivery_accrues_one_percent_once_per_order(apps: AppPool, infra: Infra) -> None:
    app = await apps.start()
    (customer,) = insert_users(infra, 1)
    assert await _accrue(app, customer, 1, 23_456) == 234
    assert await _accrue(app, customer, 1, 23_456) == 234
    assert await _accrue(app, customer, 2, 99) == 0
    balances, sums = await _balances(app, customer)
    assert balances == sums == {"accrued": 234, "usable": 0}
    reasons = infra.query("SELECT reason, order_id FROM point_ledger ORDER BY id")
    assert reasons == [("accrual", 1), ("accrual", 2)]


async def test_spending_more_than_usable_is_refused_and_writes_nothing(
    apps: AppPool, infra: Infra
) -> None:
    app = await apps.start()
    (customer,) = insert_users(infra, 1)
    async with uow_of(app) as uow:
        try:
            await ledger.spend_points(uow, customer_id=customer, points=1, order_id=7)
        except Conflict as error:
            assert error.code == "insufficient-points"
        else:
            raise AssertionError("spending points nobody has must fail")
    assert infra.query("SELECT COUNT(*) FROM point_ledger") == [(0,)]


async def test_refund_restores_spent_points_once(apps: AppPool, infra: Infra) -> None:
    app = await apps.start()
    (customer,) = insert_users(infra, 1)
    await _accrue(app, customer, 1, 1_000_000)
    async with uow_of(app) as uow:
        await ledger.convert_points(uow, customer_id=customer, amount=10_000)
        await ledger.spend_points(uow, customer_id=customer, points=4_000, order_id=2)
        await uow.commit()
    for _ in range(2):
        async with uow_of(app) as uow:
            await ledger.restore_for_order(
                uow, customer_id=customer, order_id=2, coupon_id=None, points=4_000
            )
            await uow.commit()
    balances, sums = await _balances(app, customer)
    assert balances == sums == {"accrued": 0, "usable": 10_000}
    assert infra.query("SELECT reason, usable_delta FROM point_ledger ORDER BY id") == [
        ("accrual", 0),
        ("conversion", 10_000),
        ("order", -4_000),
        ("refund", 4_000),
    ]
