"""Refunds of part of an order: by lines or an amount, points first then the card, never more
than was paid (raced across two app instances), who may, and what a cancellation leaves."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pymysql

from app import DeliveryApp
from app.orders.refunds import settle_pending_part_refunds
from app.payments.gateway import PaymentGateway
from app.rewards import ledger
from tests.client import Api, assert_problem
from tests.conftest import AppPool
from tests.harness import Infra
from tests.orders.helpers import Shop, open_shop, place
from tests.orders.test_pending_refunds import refunds_waiting
from tests.rewards.helpers import sign_in_admin, uow_of
from tests.waiting import wait_until

# order_body: 2 burgers with cheese (8,500 each) and fries (3,000), plus the 3,000 fee.
TOTAL = 23_000
POINTS = 4_000


async def _give_points(app: DeliveryApp, customer: Api, usable: int) -> None:
    async with uow_of(app) as uow:
        await ledger.accrue_for_delivery(
            uow, customer_id=customer.user["id"], order_id=10**9, paid_amount=usable * 100
        )
        await uow.commit()
    converted = await customer.post("/api/me/points/convert", json={"amount": usable})
    assert converted.status_code == 200, converted.text


async def _accepted_order(owner: Api, customer: Api, shop: Shop, **kwargs: Any) -> dict[str, Any]:
    order = await place(customer, shop, **kwargs)
    accepted = await owner.post(f"/api/orders/{order['id']}/accept", json={"prep_minutes": 10})
    assert accepted.status_code == 200, accepted.text
    return order


def _points_agree(infra: Infra, customer_id: int) -> tuple[int, int]:
    """The stored usable balance and the ledger's sum, which must be equal."""
    [(stored,)] = infra.query(
        "SELECT usable FROM point_balances WHERE customer_id = %s", customer_id
    )
    [(summed,)] = infra.query(
        "SELECT COALESCE(SUM(usable_delta), 0) FROM point_ledger WHERE customer_id = %s",
        customer_id,
    )
    return int(str(stored)), int(str(summed))


async def test_refunds_give_back_points_first_then_card_and_the_order_and_its_stream_show_them(
    apps: AppPool, infra: Infra
) -> None:
    node = await apps.start()
    owner, customer = await apps.client(node), await apps.client(node)
    await owner.sign_in_as("owner")
    await customer.sign_in_as("customer")
    await _give_points(node, customer, 5_000)
    shop = await open_shop(owner)
    order = await _accepted_order(owner, customer, shop, use_points=POINTS)
    assert order["paid_amount"] == TOTAL - POINTS and order["refunded_amount"] == 0
    assert order["refunds"] == []
    path = f"/api/orders/{order['id']}/refunds"

    fries = await owner.post(
        path,
        json={"lines": [{"menu_item_id": shop.fries["id"], "quantity": 1}], "reason": "No fries."},
    )
    assert fries.status_code == 201, fries.text
    first = fries.json()
    assert (first["amount"], first["points"], first["card"]) == (3_000, 3_000, 0)
    assert first["lines"] == [
        {"menu_item_id": shop.fries["id"], "name": "Fries", "quantity": 1, "amount": 3_000}
    ]
    assert first["reason"] == "No fries." and first["at"].endswith("Z")

    late = await owner.post(path, json={"amount": 2_500, "reason": "Arrived late."})
    assert late.status_code == 201, late.text
    second = late.json()
    # The 1,000 points left first, then 1,500 to the card.
    assert (second["amount"], second["points"], second["card"], second["lines"]) == (
        2_500,
        1_000,
        1_500,
        None,
    )

    current = (await customer.get(f"/api/orders/{order['id']}")).json()
    assert current["refunded_amount"] == 5_500
    assert [r["id"] for r in current["refunds"]] == [first["id"], second["id"]]
    assert current["refunds"][1] == second
    # Points: 1,000 left after paying, 4,000 back; the balance equals the ledger.
    assert (await customer.get("/api/me/points")).json()["usable"] == 5_000
    assert _points_agree(infra, customer.user["id"]) == (5_000, 5_000)
    assert infra.query(
        "SELECT reason, usable_delta FROM point_ledger WHERE order_id = %s ORDER BY id",
        order["id"],
    ) == [("order", -4_000), ("part_refund", 3_000), ("part_refund", 1_000)]
    # The gateway holds the card part as a part refund of the order's charge.
    reference = order["payment"]["reference"]
    assert infra.query(
        "SELECT amount FROM sandbox_refunds WHERE charge_reference = %s", reference
    ) == [(1_500,)]
    assert infra.query("SELECT status FROM sandbox_charges WHERE reference = %s", reference) == [
        ("captured",)
    ]
    assert infra.query(
        "SELECT card_status FROM order_refunds WHERE order_id = %s ORDER BY id", order["id"]
    ) == [("none",), ("refunded",)]
    # Each refund is an `order.refunded` on the order's and the store's streams, carrying it.
    events = infra.query(
        "SELECT type, payload FROM outbox_events WHERE stream = %s ORDER BY seq",
        f"order:{order['id']}",
    )
    assert [t for t, _ in events] == [
        "order.placed",
        "order.accepted",
        "order.refunded",
        "order.refunded",
    ]
    assert current["stream_seq"] == 4
    carried = json.loads(str(events[-1][1]))
    assert carried["refund"] == second and carried["refunded_amount"] == 5_500
    assert infra.query(
        "SELECT COUNT(*) FROM outbox_events WHERE stream = %s AND type = 'order.refunded'",
        f"store:{shop.id}",
    ) == [(2,)]


async def test_lines_never_refund_more_than_was_ordered_and_amounts_never_more_than_was_paid(
    apps: AppPool,
) -> None:
    node = await apps.start()
    owner, customer = await apps.client(node), await apps.client(node)
    await owner.sign_in_as("owner")
    await customer.sign_in_as("customer")
    shop = await open_shop(owner)
    order = await _accepted_order(owner, customer, shop)
    path = f"/api/orders/{order['id']}/refunds"
    burger = shop.burger["id"]

    def lines(quantity: int) -> dict[str, Any]:
        return {"lines": [{"menu_item_id": burger, "quantity": quantity}], "reason": "Cold."}

    problem = assert_problem(await owner.post(path, json=lines(3)), 409, "refund-exceeds-paid")
    assert "Only 2 of Bulgogi Burger can still be refunded" in problem["detail"]
    one = await owner.post(path, json=lines(1))
    assert one.status_code == 201 and one.json()["amount"] == 8_500  # with its cheese
    problem = assert_problem(await owner.post(path, json=lines(2)), 409, "refund-exceeds-paid")
    assert "Only 1 of Bulgogi Burger" in problem["detail"]
    problem = assert_problem(
        await owner.post(path, json={"amount": TOTAL - 8_500 + 1, "reason": "All."}),
        409,
        "refund-exceeds-paid",
    )
    assert problem["refundable"] == TOTAL - 8_500
    assert "at most ₩14,500 more can be" in problem["detail"]
    rest = await owner.post(path, json={"amount": TOTAL - 8_500, "reason": "All of it."})
    assert rest.status_code == 201, rest.text
    # Everything is back: not one won more, by lines or by amount.
    assert_problem(
        await owner.post(path, json={"amount": 1, "reason": "x"}), 409, "refund-exceeds-paid"
    )
    assert_problem(await owner.post(path, json=lines(1)), 409, "refund-exceeds-paid")
    final = (await owner.get(f"/api/orders/{order['id']}")).json()
    assert final["refunded_amount"] == TOTAL and final["status"] == "accepted"


async def test_who_may_refund_when_and_hostile_bodies_are_refused_without_a_write(
    apps: AppPool, infra: Infra
) -> None:
    node = await apps.start()
    owner, other_owner, customer, rider = [await apps.client(node) for _ in range(4)]
    await owner.sign_in_as("owner")
    await other_owner.sign_in_as("owner")
    await customer.sign_in_as("customer")
    await rider.sign_in_as("rider")
    admin = await sign_in_admin(apps, node)
    shop = await open_shop(owner)
    placed = await place(customer, shop)
    body = {"amount": 1_000, "reason": "Sorry."}

    # Placed, not yet accepted: reject it instead.
    problem = assert_problem(
        await owner.post(f"/api/orders/{placed['id']}/refunds", json=body),
        409,
        "invalid-transition",
    )
    assert "reject it to refund it in full" in problem["detail"]
    order = await _accepted_order(owner, customer, shop)
    path = f"/api/orders/{order['id']}/refunds"
    assert_problem(await customer.post(path, json=body), 403, "forbidden")
    assert_problem(await rider.post(path, json=body), 403, "forbidden")
    assert_problem(await other_owner.post(path, json=body), 404, "not-found")
    assert_problem(await (await apps.client(node)).post(path, json=body), 401, "unauthenticated")
    assert_problem(await owner.post(f"/api/orders/{2**63}/refunds", json=body), 404, "not-found")
    assert_problem(await owner.post("/api/orders/99999999/refunds", json=body), 404, "not-found")
    hostile: list[Any] = [
        {"reason": "Neither."},
        {
            "amount": 1,
            "lines": [{"menu_item_id": shop.fries["id"], "quantity": 1}],
            "reason": "Both.",
        },
        {"amount": 0, "reason": "Zero."},
        {"amount": -5, "reason": "Negative."},
        {"amount": 2**63, "reason": "Huge."},
        {"amount": 10**30, "reason": "Huger."},
        {"amount": "1000", "reason": "Text."},
        {"amount": 1000.5, "reason": "Fraction."},
        {"amount": 1000, "reason": ""},
        {"amount": 1000, "reason": "x" * 301},
        {"amount": 1000},
        {"amount": 1000, "reason": "Extra.", "card": 5},
        {"lines": [], "reason": "Empty."},
        {"lines": [{"menu_item_id": shop.fries["id"], "quantity": 0}], "reason": "None."},
        {"lines": [{"menu_item_id": shop.fries["id"], "quantity": 10**9}], "reason": "Many."},
        {
            "lines": [
                {"menu_item_id": shop.fries["id"], "quantity": 1},
                {"menu_item_id": shop.fries["id"], "quantity": 1},
            ],
            "reason": "Twice.",
        },
        [],
        "refund",
    ]
    for bad in hostile:
        response = await owner.post(path, json=bad)
        problem = assert_problem(response, 400, "validation")
        assert problem["errors"] and all(e["message"] for e in problem["errors"]), (bad, problem)
    unknown = {"lines": [{"menu_item_id": 2**62, "quantity": 1}], "reason": "Not ours."}
    assert_problem(await owner.post(path, json=unknown), 404, "not-found")
    beyond = {"lines": [{"menu_item_id": 2**63, "quantity": 1}], "reason": "Not an id."}
    assert_problem(await owner.post(path, json=beyond), 404, "not-found")
    assert infra.query("SELECT COUNT(*) FROM order_refunds") == [(0,)]

    # An admin may refund any order; the owner sees it on the order.
    by_admin = await admin.post(path, json=body)
    assert by_admin.status_code == 201, by_admin.text
    assert (await owner.get(f"/api/orders/{order['id']}")).json()["refunded_amount"] == 1_000
    # A cancelled order was refunded in full: nothing more to give.
    cancelled = await owner.post(f"/api/orders/{order['id']}/cancel", json={"reason": "Closing."})
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["refunded_amount"] == TOTAL
    problem = assert_problem(await owner.post(path, json=body), 409, "invalid-transition")
    assert "cancelled" in problem["detail"]


async def test_concurrent_refunds_on_two_instances_never_give_back_more_than_was_paid(
    apps: AppPool, infra: Infra
) -> None:
    node_a, node_b = await apps.start(), await apps.start()
    owner_a, owner_b = await apps.client(node_a), await apps.client(node_b)
    customer = await apps.client(node_a)
    await owner_a.sign_in_as("owner")
    owner_a.share_session_with(owner_b)
    await customer.sign_in_as("customer")
    await _give_points(node_a, customer, 5_000)
    shop = await open_shop(owner_a)
    order = await _accepted_order(owner_a, customer, shop, use_points=POINTS)
    path = f"/api/orders/{order['id']}/refunds"
    # 40 refunds of 700 won for an order that paid 23,000: 32 fit (22,400), 8 do not.
    responses = await asyncio.gather(
        *(
            (owner_a, owner_b)[i % 2].post(path, json={"amount": 700, "reason": f"Refund {i}."})
            for i in range(40)
        )
    )
    statuses = [r.status_code for r in responses]
    assert statuses.count(201) == TOTAL // 700, statuses
    for refused in (r for r in responses if r.status_code != 201):
        assert_problem(refused, 409, "refund-exceeds-paid")
    # The rest (600) still fits, and then not one won more, from either node.
    last = await owner_b.post(path, json={"amount": TOTAL % 700, "reason": "The rest."})
    assert last.status_code == 201, last.text
    extra = await asyncio.gather(
        *(
            (owner_a, owner_b)[i % 2].post(path, json={"amount": 1, "reason": "More."})
            for i in range(6)
        )
    )
    assert all(r.status_code == 409 for r in extra)

    [(count, total, points, card)] = infra.query(
        "SELECT COUNT(*), SUM(amount), SUM(points), SUM(card) FROM order_refunds WHERE order_id = %s",
        order["id"],
    )
    assert (count, total, points, card) == (TOTAL // 700 + 1, TOTAL, POINTS, TOTAL - POINTS)
    assert infra.query("SELECT refunded_amount FROM orders WHERE id = %s", order["id"]) == [
        (TOTAL,)
    ]
    # Points came back exactly once each (1,000 were never spent), and the ledger agrees.
    assert _points_agree(infra, customer.user["id"]) == (5_000, 5_000)
    # The gateway gave back exactly the card's share.
    await wait_until(
        lambda: (
            infra.query("SELECT COUNT(*) FROM order_refunds WHERE card_status = 'pending'")
            == [(0,)]
        ),
        what="every card part settled",
    )
    reference = order["payment"]["reference"]
    assert infra.query(
        "SELECT SUM(amount) FROM sandbox_refunds WHERE charge_reference = %s", reference
    ) == [(TOTAL - POINTS,)]


async def test_a_cancellation_after_part_refunds_gives_back_only_the_rest(
    apps: AppPool, infra: Infra
) -> None:
    node = await apps.start()
    owner, customer = await apps.client(node), await apps.client(node)
    await owner.sign_in_as("owner")
    await customer.sign_in_as("customer")
    await _give_points(node, customer, 5_000)
    shop = await open_shop(owner)
    order = await _accepted_order(owner, customer, shop, use_points=POINTS)
    refunded = await owner.post(
        f"/api/orders/{order['id']}/refunds", json={"amount": 5_000, "reason": "Part."}
    )
    assert (refunded.json()["points"], refunded.json()["card"]) == (4_000, 1_000)
    cancelled = await owner.post(f"/api/orders/{order['id']}/cancel", json={"reason": "Closing."})
    assert cancelled.status_code == 200, cancelled.text
    final = (await customer.get(f"/api/orders/{order['id']}")).json()
    assert final["payment"]["status"] == "refunded" and final["refunded_amount"] == TOTAL
    # Points: 4,000 came back once (by the part refund), not again by the cancellation.
    assert (await customer.get("/api/me/points")).json()["usable"] == 5_000
    assert _points_agree(infra, customer.user["id"]) == (5_000, 5_000)
    # The gateway: 1,000 by the part refund, then the charge refunded (all that was left).
    reference = order["payment"]["reference"]
    assert infra.query(
        "SELECT SUM(amount) FROM sandbox_refunds WHERE charge_reference = %s", reference
    ) == [(1_000,)]
    assert infra.query("SELECT status FROM sandbox_charges WHERE reference = %s", reference) == [
        ("refunded",)
    ]


async def test_a_node_dying_before_the_card_part_leaves_it_pending_for_the_sweepers(
    apps: AppPool, infra: Infra
) -> None:
    settings = infra.settings(store_accept_timeout=3600)
    node_a, node_b = await apps.start(settings), await apps.start(settings)
    owner, customer = await apps.client(node_a), await apps.client(node_b)
    await owner.sign_in_as("owner")
    await customer.sign_in_as("customer")
    shop = await open_shop(owner)
    order = await _accepted_order(owner, customer, shop)
    reference = order["payment"]["reference"]

    dying = infra.start_node("part-refund-dying", STORE_ACCEPT_TIMEOUT="3600")
    gateway_books = pymysql.connect(**infra.sync_db)  # type: ignore[arg-type]
    try:
        async with httpx.AsyncClient(base_url=dying.url, timeout=60) as http:
            refunder = Api(http)
            owner.share_session_with(refunder)
            # The gateway hangs on this charge's row, so the card part is under way when the
            # node dies.
            with gateway_books.cursor() as cursor:
                cursor.execute(
                    "SELECT id FROM sandbox_charges WHERE reference = %s FOR UPDATE", (reference,)
                )
            call = asyncio.create_task(
                refunder.post(
                    f"/api/orders/{order['id']}/refunds", json={"amount": 4_000, "reason": "Cold."}
                )
            )
            await wait_until(lambda: refunds_waiting(infra) == 1, what="the card part to hang")
            dying.kill()
            call.cancel()
        gateway_books.rollback()
    finally:
        gateway_books.close()
        dying.stop()

    # The refund is committed and shown; its card money has not moved yet.
    current = (await customer.get(f"/api/orders/{order['id']}")).json()
    assert current["refunded_amount"] == 4_000 and current["refunds"][0]["card"] == 4_000
    assert infra.query("SELECT card_status FROM order_refunds") == [("pending",)]
    assert infra.query("SELECT COUNT(*) FROM sandbox_refunds") == [(0,)]

    sweeps = [
        settle_pending_part_refunds(
            db=node.container.db, gateway=node.container.get(PaymentGateway), older_than=0
        )
        for node in (node_a, node_b) * 4
    ]
    assert sum(await asyncio.gather(*sweeps)) == 1
    assert infra.query("SELECT amount FROM sandbox_refunds") == [(4_000,)]
    assert infra.query("SELECT card_status FROM order_refunds") == [("refunded",)]


async def test_a_refund_retried_under_its_idempotency_key_is_given_once_across_two_instances(
    apps: AppPool, infra: Infra
) -> None:
    node_a, node_b = await apps.start(), await apps.start()
    owner_a, owner_b = await apps.client(node_a), await apps.client(node_b)
    customer = await apps.client(node_a)
    await owner_a.sign_in_as("owner")
    owner_a.share_session_with(owner_b)
    await customer.sign_in_as("customer")
    shop = await open_shop(owner_a)
    order = await _accepted_order(owner_a, customer, shop)
    path = f"/api/orders/{order['id']}/refunds"
    body = {"amount": 1_500, "reason": "Cold fries."}
    # The same request sent twenty times at once, half to each node, as retries after lost
    # answers would be: one refund, and every answer is that refund.
    answers = await asyncio.gather(
        *(
            (owner_a, owner_b)[i % 2].post(path, json=body, headers={"Idempotency-Key": "fries-1"})
            for i in range(20)
        )
    )
    assert {r.status_code for r in answers} == {201}, [r.text for r in answers]
    assert len({r.json()["id"] for r in answers}) == 1
    # The key with another request is refused and changes nothing; a new key is a new refund.
    other = await owner_b.post(
        path,
        json={"amount": 2_000, "reason": "Cold fries."},
        headers={"Idempotency-Key": "fries-1"},
    )
    assert_problem(other, 422, "idempotency-mismatch")
    again = await owner_a.post(path, json=body, headers={"Idempotency-Key": "fries-2"})
    assert again.status_code == 201, again.text
    assert infra.query(
        "SELECT COUNT(*), SUM(amount) FROM order_refunds WHERE order_id = %s", order["id"]
    ) == [(2, 3_000)]
    assert infra.query("SELECT refunded_amount FROM orders WHERE id = %s", order["id"]) == [
        (3_000,)
    ]
    for bad in ("", " ", "x" * 256, "tab\there"):
        refused = await owner_a.post(path, json=body, headers={"Idempotency-Key": bad})
        assert_problem(refused, 400, "validation")
