"""A cancellation commits with its refund owed before the gateway is asked: a node that dies in
between leaves the order cancelled with the refund pending, and the sweepers refund it once."""

from __future__ import annotations

import asyncio

import httpx
import pymysql

from app.orders.service import settle_pending_refunds
from app.payments.gateway import PaymentGateway
from tests.client import Api
from tests.conftest import AppPool
from tests.harness import Infra
from tests.orders.helpers import open_shop, place
from tests.waiting import wait_until


def refunds_waiting(infra: Infra) -> int:
    """How many refunds wait on a locked charge of the gateway's ledger right now."""
    [(count,)] = infra.query(
        "SELECT COUNT(*) FROM information_schema.processlist WHERE id <> CONNECTION_ID() "
        "AND info LIKE '%%FROM sandbox_charges%%FOR UPDATE%%'"
    )
    return int(str(count))


async def test_a_node_dying_between_the_cancel_and_the_refund_leaves_it_pending_for_the_sweepers(
    apps: AppPool, infra: Infra
) -> None:
    # The in-process nodes' own sweeps stay out of the way (an hour); the test races them.
    settings = infra.settings(store_accept_timeout=3600)
    node_a, node_b = await apps.start(settings), await apps.start(settings)
    owner, customer = await apps.client(node_a), await apps.client(node_b)
    await owner.sign_in_as("owner")
    await customer.sign_in_as("customer")
    shop = await open_shop(owner)
    order = await place(customer, shop)
    reference = order["payment"]["reference"]

    dying = infra.start_node("refund-dying", STORE_ACCEPT_TIMEOUT="3600")
    ledger = pymysql.connect(**infra.sync_db)  # type: ignore[arg-type]
    try:
        async with httpx.AsyncClient(base_url=dying.url, timeout=60) as http:
            canceller = Api(http)
            customer.share_session_with(canceller)
            # The gateway hangs on this charge's row, so the refund is under way when it dies.
            with ledger.cursor() as cursor:
                cursor.execute(
                    "SELECT id FROM sandbox_charges WHERE reference = %s FOR UPDATE", (reference,)
                )
            cancel = asyncio.create_task(
                canceller.post(f"/api/orders/{order['id']}/cancel", json={"reason": "too late"})
            )
            await wait_until(lambda: refunds_waiting(infra) == 1, what="the refund to hang")
            dying.kill()
            cancel.cancel()
        ledger.rollback()
    finally:
        ledger.close()
        dying.stop()

    # The cancellation is committed and says the money is on its way; none has moved yet.
    current = (await customer.get(f"/api/orders/{order['id']}")).json()
    assert current["status"] == "cancelled"
    assert current["payment"]["status"] == "refund_pending"
    assert infra.query("SELECT status FROM sandbox_charges WHERE reference = %s", reference) == [
        ("captured",)
    ]

    sweeps = [
        settle_pending_refunds(
            db=node.container.db, gateway=node.container.get(PaymentGateway), older_than=0
        )
        for node in (node_a, node_b) * 4
    ]
    assert sum(await asyncio.gather(*sweeps)) == 1
    assert infra.query("SELECT status FROM sandbox_charges WHERE reference = %s", reference) == [
        ("refunded",)
    ]
    events = infra.query(
        "SELECT type FROM outbox_events WHERE stream = %s ORDER BY seq", f"order:{order['id']}"
    )
    assert [t for (t,) in events] == ["order.placed", "order.cancelled", "order.refunded"]
    settled = (await customer.get(f"/api/orders/{order['id']}")).json()
    assert settled["status"] == "cancelled" and settled["payment"]["status"] == "refunded"
    assert settled["stream_seq"] == 3
    # Swept again, nothing more happens.
    assert (
        await settle_pending_refunds(
            db=node_a.container.db, gateway=node_a.container.get(PaymentGateway), older_than=0
        )
        == 0
    )
