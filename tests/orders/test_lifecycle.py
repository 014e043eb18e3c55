"""Every (status, action, role): the diagram's moves happen, everything else is refused unchanged."""

from __future__ import annotations

import itertools

from tests.client import Api, assert_problem
from tests.harness import Infra
from tests.orders.helpers import open_shop, place
from tests.rewards.helpers import sign_in_admin

STATUSES = ["placed", "accepted", "ready", "picked_up", "delivered", "rejected", "cancelled"]
ACTIONS = ["accept", "reject", "ready", "pickup", "deliver", "cancel"]
ROLES = ["customer", "owner", "rider"]

# Written from the lifecycle diagram in docs/api.md, independently of the code's table.
ALLOWED = {
    ("placed", "accept", "owner"): "accepted",
    ("placed", "reject", "owner"): "rejected",
    ("placed", "cancel", "customer"): "cancelled",
    ("placed", "cancel", "owner"): "cancelled",
    ("accepted", "ready", "owner"): "ready",
    ("accepted", "cancel", "owner"): "cancelled",
    ("ready", "cancel", "owner"): "cancelled",
    ("ready", "pickup", "rider"): "picked_up",
    ("picked_up", "deliver", "rider"): "delivered",
}
REFUNDS = {"rejected", "cancelled"}
# The same party repeating the action that led to the status: a retry whose first answer was
# lost. It gets the order as it is, and nothing is written.
REPEATS = {
    ("accepted", "accept", "owner"),
    ("rejected", "reject", "owner"),
    ("cancelled", "cancel", "customer"),
    ("cancelled", "cancel", "owner"),
    ("ready", "ready", "owner"),
    ("picked_up", "pickup", "rider"),
    ("delivered", "deliver", "rider"),
}


def _snapshot(infra: Infra, order_id: int) -> tuple[object, ...]:
    [row] = infra.query("SELECT status, version, reason FROM orders WHERE id = %s", order_id)
    events = infra.query(
        "SELECT COUNT(*) FROM outbox_events WHERE stream = %s", f"order:{order_id}"
    )
    timeline = infra.query("SELECT COUNT(*) FROM order_timeline WHERE order_id = %s", order_id)
    return (*row, events[0][0], timeline[0][0])


async def test_every_status_action_and_role_follows_the_lifecycle(
    api_factory, infra: Infra
) -> None:  # type: ignore[no-untyped-def]
    owner, customer, rider = await api_factory(), await api_factory(), await api_factory()
    await owner.sign_in_as("owner")
    await customer.sign_in_as("customer")
    rider_user = await rider.sign_in_as("rider")
    shop = await open_shop(owner)
    actors: dict[str, Api] = {"customer": customer, "owner": owner, "rider": rider}
    checked = 0
    for status, action, role in itertools.product(STATUSES, ACTIONS, ROLES):
        order = await place(customer, shop)
        # Put the order in the status under test, with the rider assigned so that the rider
        # is one of its parties in every status.
        infra.query(
            "UPDATE orders SET status = %s, rider_id = %s WHERE id = %s",
            status,
            rider_user["id"],
            order["id"],
        )
        before = _snapshot(infra, order["id"])
        body = {"prep_minutes": 20} if action == "accept" else {}
        response = await actors[role].post(f"/api/orders/{order['id']}/{action}", json=body)
        expected = ALLOWED.get((status, action, role))
        label = f"{role} {action} on {status}: {response.status_code} {response.text[:200]}"
        if (status, action, role) in REPEATS:
            assert response.status_code == 200, label
            assert response.json()["status"] == status, label
            assert _snapshot(infra, order["id"]) == before, label
        elif expected is None:
            assert response.status_code in (403, 409), label
            problem = response.json()
            assert problem["code"] == (
                "forbidden" if response.status_code == 403 else "invalid-transition"
            ), label
            assert _snapshot(infra, order["id"]) == before, label
        else:
            assert response.status_code == 200, label
            moved = response.json()
            assert moved["status"] == expected, label
            assert moved["timeline"][-1]["status"] == expected
            refunded = moved["payment"]["status"] == "refunded"
            assert refunded == (expected in REFUNDS), label
        checked += 1
    assert checked == len(STATUSES) * len(ACTIONS) * len(ROLES)


async def test_strangers_cannot_see_or_move_an_order(api_factory) -> None:  # type: ignore[no-untyped-def]
    owner, customer = await api_factory(), await api_factory()
    other_owner, other_customer, rider = (
        await api_factory(),
        await api_factory(),
        await api_factory(),
    )
    await owner.sign_in_as("owner")
    await customer.sign_in_as("customer")
    await other_owner.sign_in_as("owner")
    await other_customer.sign_in_as("customer")
    await rider.sign_in_as("rider")
    shop = await open_shop(owner)
    order = await place(customer, shop)
    for stranger in (other_owner, other_customer, rider):
        assert (await stranger.get(f"/api/orders/{order['id']}")).json()["code"] == "not-found"
        moved = await stranger.post(f"/api/orders/{order['id']}/cancel", json={})
        assert moved.status_code in (403, 404)
    assert (
        await other_owner.post(f"/api/orders/{order['id']}/accept", json={"prep_minutes": 10})
    ).status_code == 404
    assert (await owner.get(f"/api/orders/{order['id']}")).status_code == 200


async def test_order_lists_per_role_newest_first(api_factory, infra: Infra) -> None:  # type: ignore[no-untyped-def]
    owner, customer, other, rider = (
        await api_factory(),
        await api_factory(),
        await api_factory(),
        await api_factory(),
    )
    await owner.sign_in_as("owner")
    await customer.sign_in_as("customer")
    await other.sign_in_as("customer")
    rider_user = await rider.sign_in_as("rider")
    shop = await open_shop(owner)
    first, second = await place(customer, shop), await place(customer, shop)
    theirs = await place(other, shop)
    infra.query("UPDATE orders SET rider_id = %s WHERE id = %s", rider_user["id"], second["id"])
    assert [o["id"] for o in (await customer.get("/api/orders")).json()["orders"]] == [
        second["id"],
        first["id"],
    ]
    assert [o["id"] for o in (await owner.get("/api/orders")).json()["orders"]] == [
        theirs["id"],
        second["id"],
        first["id"],
    ]
    by_store = await owner.get(f"/api/orders?store_id={shop.id}&limit=2")
    assert [o["id"] for o in by_store.json()["orders"]] == [theirs["id"], second["id"]]
    assert [o["id"] for o in (await rider.get("/api/orders")).json()["orders"]] == [second["id"]]
    assert (await other.get("/api/orders?limit=0")).json()["code"] == "validation"
    assert (await owner.get("/api/orders?store_id=999999")).json()["code"] == "not-found"


async def test_an_admin_is_not_a_party_to_any_order_and_is_refused_every_action(
    apps, app, api_factory, infra: Infra
) -> None:  # type: ignore[no-untyped-def]
    owner, customer = await api_factory(), await api_factory()
    await owner.sign_in_as("owner")
    await customer.sign_in_as("customer")
    order = await place(customer, await open_shop(owner))
    admin = await sign_in_admin(apps, app)
    before = _snapshot(infra, order["id"])
    for action in ACTIONS:
        body = {"prep_minutes": 10} if action == "accept" else {}
        response = await admin.post(f"/api/orders/{order['id']}/{action}", json=body)
        assert_problem(response, 403, "forbidden")
    assert _snapshot(infra, order["id"]) == before
