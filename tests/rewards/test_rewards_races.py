"""Points and coupons used by orders while conversions and refunds race; the backlog replay."""

from __future__ import annotations

import asyncio
import itertools
from collections import Counter
from datetime import UTC, datetime, timedelta

from app import DeliveryApp
from app.db import UnitOfWork
from app.errors import Conflict
from app.rewards import claims, coupons, ledger
from app.rewards.state import RewardsState
from tests.conftest import AppPool
from tests.harness import Infra
from tests.rewards.helpers import http_client, insert_users, make_customers, uow_of
from tests.waiting import wait_until

_orders = itertools.count(10_000)


async def _in_uow(app: DeliveryApp, work: object) -> str:
    try:
        async with uow_of(app) as uow:
            await work(uow)  # type: ignore[operator]
            await uow.commit()
    except Conflict as error:
        return error.code
    return "ok"


async def _use_coupon(
    uow: UnitOfWork, *, customer_id: int, coupon_id: int, order_id: int, subtotal: int
) -> int:
    """What placing an order does with its coupon: read the discount, then take the coupon."""
    discount = await ledger.coupon_discount(
        uow, customer_id=customer_id, coupon_id=coupon_id, subtotal=subtotal
    )
    await ledger.take_coupon(uow, customer_id=customer_id, coupon_id=coupon_id, order_id=order_id)
    return discount


async def test_spends_conversions_and_refunds_racing_never_lose_or_mint_a_point(
    apps: AppPool, infra: Infra
) -> None:
    app_a, app_b = await apps.start(), await apps.start()
    (customer,) = await make_customers(infra, apps.settings.session_redis_url or "", 1)
    start = 400_000
    await _in_uow(
        app_a,
        lambda uow: ledger.accrue_for_delivery(
            uow, customer_id=customer.id, order_id=next(_orders), paid_amount=start * 100
        ),
    )
    spent: dict[int, int] = {}
    refunded: set[int] = set()
    async with http_client(app_a) as on_a, http_client(app_b) as on_b:
        for round_no in range(15):
            orders = [next(_orders) for _ in range(8)]
            to_refund = list(spent)[-4:]

            def spend(order_id: int):  # type: ignore[no-untyped-def]
                return lambda uow: ledger.spend_points(
                    uow, customer_id=customer.id, points=3_000, order_id=order_id
                )

            def refund(order_id: int):  # type: ignore[no-untyped-def]
                return lambda uow: ledger.restore_for_order(
                    uow, customer_id=customer.id, order_id=order_id, coupon_id=None, points=3_000
                )

            tasks = [
                *(
                    (on_a, on_b)[i % 2].post(
                        "/api/me/points/convert", json={"amount": 5_000}, headers=customer.headers
                    )
                    for i in range(8)
                ),
                *(_in_uow((app_a, app_b)[i % 2], spend(o)) for i, o in enumerate(orders)),
                # Each refund is sent twice at once: it must still restore once.
                *(_in_uow((app_a, app_b)[i % 2], refund(o)) for i, o in enumerate(to_refund * 2)),
            ]
            results = await asyncio.gather(*tasks)
            conversions = Counter(r.status_code for r in results[:8])  # type: ignore[union-attr]
            assert set(conversions) <= {200, 409}, (round_no, conversions)
            for order_id, outcome in zip(orders, results[8:16], strict=True):
                assert outcome in {"ok", "insufficient-points"}
                if outcome == "ok":
                    spent[order_id] = 3_000
            assert all(r == "ok" for r in results[16:])
            refunded.update(to_refund)
            for order_id in to_refund:
                spent.pop(order_id, None)

            async with uow_of(app_a) as uow:
                balances = await ledger.balances(uow, customer_id=customer.id)
                sums = await ledger.ledger_sums(uow, customer_id=customer.id)
            assert balances == sums, round_no
            assert balances["accrued"] >= 0 and balances["usable"] >= 0
            assert balances["accrued"] + balances["usable"] == start - sum(spent.values()), round_no
    assert refunded and spent
    refund_rows = infra.query(
        "SELECT COUNT(*) FROM point_ledger WHERE reason = 'refund' AND customer_id = %s",
        customer.id,
    )
    assert refund_rows == [(len(refunded),)]


async def test_two_orders_using_one_coupon_at_once_only_one_gets_it(
    apps: AppPool, infra: Infra
) -> None:
    app = await apps.start()
    (customer,) = insert_users(infra, 1)
    coupon_id = await _coupon_for(app, infra, customer, min_order=10_000, discount=3_000)

    async def use(order_id: int) -> int | str:
        try:
            async with uow_of(app) as uow:
                discount = await _use_coupon(
                    uow,
                    customer_id=customer,
                    coupon_id=coupon_id,
                    order_id=order_id,
                    subtotal=20_000,
                )
                await uow.commit()
                return discount
        except Conflict as error:
            return error.code

    results = await asyncio.gather(*(use(order_id) for order_id in range(1, 21)))
    assert Counter(results) == {3_000: 1, "coupon-unusable": 19}
    (winner,) = [i + 1 for i, r in enumerate(results) if r == 3_000]
    assert infra.query("SELECT status, order_id FROM coupons") == [("used", winner)]
    for _ in range(2):
        assert (
            await _in_uow(
                app,
                lambda uow: ledger.restore_for_order(
                    uow, customer_id=customer, order_id=winner, coupon_id=coupon_id, points=0
                ),
            )
            == "ok"
        )
    assert infra.query("SELECT status, order_id FROM coupons") == [("issued", None)]


async def test_coupon_is_unusable_when_foreign_below_minimum_or_expired(
    apps: AppPool, infra: Infra
) -> None:
    app = await apps.start()
    owner, stranger = insert_users(infra, 2)
    coupon_id = await _coupon_for(app, infra, owner, min_order=10_000, discount=3_000)

    async def use(customer_id: int, subtotal: int) -> str:
        return await _in_uow(
            app,
            lambda uow: _use_coupon(
                uow, customer_id=customer_id, coupon_id=coupon_id, order_id=1, subtotal=subtotal
            ),
        )

    assert await use(stranger, 20_000) == "coupon-unusable"
    assert await use(owner, 9_999) == "coupon-unusable"
    assert await use(owner, 10_000) == "ok"
    assert await use(owner, 10_000) == "coupon-unusable"
    infra.query(
        "UPDATE coupons SET expires_at = %s",
        datetime.now(UTC).replace(tzinfo=None) - timedelta(seconds=1),
    )
    await _in_uow(
        app,
        lambda uow: ledger.restore_for_order(
            uow, customer_id=owner, order_id=1, coupon_id=coupon_id, points=0
        ),
    )
    assert infra.query("SELECT status FROM coupons") == [("expired",)]


async def test_parked_claims_are_replayed_once_however_often_the_reconciler_runs(
    apps: AppPool, infra: Infra
) -> None:
    app = await apps.start()
    customers = insert_users(infra, 3)
    campaign = await _campaign(app, quantity=3)
    now = datetime.now(UTC).replace(tzinfo=None)
    for customer in customers:
        infra.query(
            "INSERT INTO coupon_claim_backlog (campaign_id, customer_id, claimed_at, created_at,"
            " updated_at) VALUES (%s, %s, %s, %s, %s)",
            campaign,
            customer,
            now,
            now,
            now,
        )
    infra.query("UPDATE coupon_campaigns SET issued = 3 WHERE id = %s", campaign)
    # Four replays at once (and the app's own reconciler, whenever it runs) share the work.
    replays = await asyncio.gather(*(claims.replay_backlog(db=app.container.db) for _ in range(4)))
    assert sum(replays) <= 3
    assert await claims.replay_backlog(db=app.container.db) == 0
    rows = infra.query("SELECT customer_id FROM coupons WHERE campaign_id = %s", campaign)
    assert sorted(int(r[0]) for r in rows) == sorted(customers)
    assert infra.query("SELECT COUNT(*) FROM coupon_claim_backlog") == [(0,)]


async def _campaign(
    app: DeliveryApp, *, quantity: int, discount: int = 3_000, min_order: int = 0
) -> int:
    state = app.container.get(RewardsState)
    now = datetime.now(UTC)
    created = await coupons.create_campaign(
        db=app.container.db,
        counter=state.counter,
        name="Test",
        discount=discount,
        min_order=min_order,
        quantity=quantity,
        starts_at=now - timedelta(minutes=1),
        ends_at=now + timedelta(hours=1),
        valid_days=30,
    )
    campaign_id: int = created["id"]
    return campaign_id


async def _coupon_for(
    app: DeliveryApp, infra: Infra, customer_id: int, *, min_order: int, discount: int
) -> int:
    campaign_id = await _campaign(app, quantity=10, discount=discount, min_order=min_order)
    campaign = await coupons.get_campaign(db=app.container.db, campaign_id=campaign_id)
    claimed = await claims.claim_coupon(
        db=app.container.db,
        counter=app.container.get(RewardsState).counter,
        campaign=campaign,
        customer_id=customer_id,
    )
    assert claimed.coupon is not None
    coupon_id: int = claimed.coupon["id"]
    return coupon_id


async def test_a_claim_whose_insert_times_out_is_parked_answered_202_and_replayed_once(
    apps: AppPool, infra: Infra
) -> None:
    import pymysql

    from tests.rewards.helpers import campaign_body, sign_in_admin

    blocker = pymysql.connect(**infra.sync_db)  # type: ignore[arg-type]
    try:
        with blocker.cursor() as cursor:
            cursor.execute("SET GLOBAL innodb_lock_wait_timeout = 2")
        app = await apps.start()  # its connections are opened with the short lock wait
        admin = await sign_in_admin(apps, app)
        campaign = (
            await admin.post("/api/coupon-campaigns", json=campaign_body(quantity=5))
        ).json()["id"]
        (customer,) = await make_customers(infra, apps.settings.session_redis_url or "", 1)
        with blocker.cursor() as cursor:
            # A gap lock on this customer's slot of the unique (campaign, customer) index: the
            # claim's coupon insert waits on it and times out; other tables stay free.
            cursor.execute("SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            cursor.execute("BEGIN")
            cursor.execute(
                "SELECT id FROM coupons WHERE campaign_id = %s AND customer_id = %s FOR UPDATE",
                (campaign, customer.id),
            )
        async with http_client(app) as client:
            parked = await client.post(
                f"/api/coupon-campaigns/{campaign}/claim", headers=customer.headers
            )
        assert parked.status_code == 202, parked.text
        assert parked.json() == {"coupon": None, "pending": True, "campaign_id": campaign}
        blocker.rollback()
    finally:
        with blocker.cursor() as cursor:
            cursor.execute("SET GLOBAL innodb_lock_wait_timeout = 50")
        blocker.close()
    assert infra.query("SELECT issued FROM coupon_campaigns") == [(1,)]
    # The background reconciler replays the parked claim (within its 5 s period)...
    await wait_until(
        lambda: infra.query("SELECT COUNT(*) FROM coupon_claim_backlog") == [(0,)],
        timeout=30,
        interval=0.1,
        what="the parked claim to be replayed",
    )
    # ...and replaying again, concurrently, changes nothing.
    await asyncio.gather(*(claims.replay_backlog(db=app.container.db) for _ in range(3)))
    assert infra.query("SELECT customer_id, status FROM coupons") == [(customer.id, "issued")]
    assert infra.query("SELECT issued FROM coupon_campaigns") == [(1,)]
