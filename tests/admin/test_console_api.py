"""The operations console's API on MariaDB: who may call it, what each intervention does, what
it records in the audit log, and what it refuses (with nothing written)."""

from __future__ import annotations

from typing import Any

import pytest

from app import DeliveryApp
from app.catalog.cache import CatalogCache
from app.catalog.schemas import StoreCreate
from app.catalog.service import create_store
from tests.admin.helpers import audit_rows, console, uid
from tests.client import Api, assert_problem
from tests.conftest import AppPool
from tests.dispatch.helpers import events_on, history
from tests.harness import Infra
from tests.orders.helpers import Shop, new_key, open_shop, order_body, place
from tests.rewards.helpers import sign_in_admin
from tests.waiting import wait_until

BEYOND_BIGINT = 2**63

ENDPOINTS: list[tuple[str, str, dict[str, Any] | None]] = [
    ("GET", "/api/admin/overview", None),
    ("GET", "/api/admin/orders?state=searching", None),
    ("GET", "/api/admin/riders", None),
    ("GET", "/api/admin/audit", None),
    ("POST", "/api/admin/orders/1/assign", {"rider_id": 1}),
    ("POST", "/api/admin/orders/1/cancel", {"reason": "Test"}),
    ("PATCH", "/api/admin/users/1", {"suspended": True}),
    ("PATCH", "/api/admin/stores/1", {"suspended": True}),
]


async def test_only_admins_may_use_the_console(apps: AppPool, app: DeliveryApp) -> None:
    anonymous = await apps.client(app)
    others = []
    for role in ("customer", "owner", "rider"):
        api = await apps.client(app)
        await api.sign_in_as(role)
        others.append(api)
    for method, path, body in ENDPOINTS:
        assert_problem(await anonymous.request(method, path, json=body), 401, "unauthenticated")
        for api in others:
            assert_problem(await api.request(method, path, json=body), 403, "forbidden")
    page = await others[0].get("/admin")
    assert page.status_code == 302 and page.headers["location"] == "/customer"


async def test_the_admin_console_page_is_the_admins_home(apps: AppPool, app: DeliveryApp) -> None:
    desk = await console(apps, app)
    page = await desk.admin.get("/admin")
    assert page.status_code == 200
    assert 'href="/admin"' in page.text and "/static/js/pages/admin.js" in page.text
    assert (await desk.admin.get("/")).headers["location"] == "/admin"


async def test_overview_and_queues_show_what_waits_and_for_how_long(
    apps: AppPool, app: DeliveryApp, infra: Infra
) -> None:
    desk = await console(apps, app)
    waiting = await place(desk.kitchen.customer, desk.kitchen.shop)
    searching = await desk.kitchen.accepted_order()
    rider = await desk.rider()
    infra.query(
        "UPDATE orders SET created_at = created_at - INTERVAL 3 MINUTE WHERE id = %s",
        waiting["id"],
    )

    overview = (await desk.admin.get("/api/admin/overview")).json()
    assert overview["orders_by_status"]["placed"] == 1
    assert overview["orders_by_status"]["accepted"] == 1
    assert overview["orders_by_status"]["delivered"] == 0
    assert overview["stuck"] == {"unaccepted": 1, "searching": 1}
    assert overview["riders"] == {"online": 1, "busy": 0}

    unaccepted = (await desk.admin.get("/api/admin/orders?state=unaccepted")).json()["orders"]
    assert [o["id"] for o in unaccepted] == [waiting["id"]]
    assert 180 <= unaccepted[0]["age_seconds"] < 240
    listed = (await desk.admin.get("/api/admin/orders?state=searching")).json()["orders"]
    assert [o["id"] for o in listed] == [searching["id"]]
    assert listed[0]["dispatch"] == "searching" and listed[0]["age_seconds"] >= 0
    active = (await desk.admin.get("/api/admin/orders?state=active&limit=1")).json()["orders"]
    assert [o["id"] for o in active] == [waiting["id"]]  # oldest first

    riders = (await desk.admin.get("/api/admin/riders")).json()["riders"]
    assert [(r["id"], r["active_order_id"]) for r in riders] == [(uid(rider), None)]
    assert riders[0]["lat"] == pytest.approx(37.5705, abs=1e-3)


async def test_an_admin_assigns_a_searching_order_with_an_audit_record(
    apps: AppPool, app: DeliveryApp, infra: Infra
) -> None:
    desk = await console(apps, app)
    order = await desk.kitchen.accepted_order()
    rider = await desk.rider()

    assigned = await desk.admin.post(
        f"/api/admin/orders/{order['id']}/assign", json={"rider_id": uid(rider)}
    )
    assert assigned.status_code == 200, assigned.text
    body = assigned.json()
    assert body["rider"]["id"] == uid(rider) and body["dispatch"] == "assigned"
    assert infra.query(
        "SELECT active_order_id FROM rider_states WHERE rider_id = %s", uid(rider)
    ) == [(order["id"],)]
    assert events_on(infra, f"rider:{uid(rider)}", "order.rider_assigned") == [order["id"]]
    assert ("assigned", uid(rider)) in history(infra, order["id"])
    assert audit_rows(infra) == [
        (
            "order.assign",
            "order",
            order["id"],
            {"rider_id": uid(rider), "from_rider_id": None},
        )
    ]
    # The rider sees it as their own, as after an accept.
    seen = await rider.get(f"/api/orders/{order['id']}")
    assert seen.status_code == 200 and seen.json()["rider"]["id"] == uid(rider)
    # Sent again (its answer lost): the same order, and nothing recorded twice.
    again = await desk.admin.post(
        f"/api/admin/orders/{order['id']}/assign", json={"rider_id": uid(rider)}
    )
    assert again.status_code == 200 and again.json()["rider"]["id"] == uid(rider)
    assert len(audit_rows(infra)) == 1


async def test_reassigning_frees_the_first_rider_and_gives_the_order_to_the_second(
    apps: AppPool, app: DeliveryApp, infra: Infra
) -> None:
    desk = await console(apps, app)
    order = await desk.kitchen.accepted_order()
    first, second = await desk.rider(), await desk.rider(0.7)
    path = f"/api/admin/orders/{order['id']}/assign"
    assert (await desk.admin.post(path, json={"rider_id": uid(first)})).status_code == 200

    # Without naming the rider it takes the order from, an assigned order is not moved.
    taken = await desk.admin.post(path, json={"rider_id": uid(second)})
    assert_problem(taken, 409, "already-assigned")
    # Naming the wrong one is refused the same way (someone else moved it meanwhile).
    stale = await desk.admin.post(
        path, json={"rider_id": uid(second), "from_rider_id": uid(second)}
    )
    assert_problem(stale, 409, "already-assigned")

    moved = await desk.admin.post(path, json={"rider_id": uid(second), "from_rider_id": uid(first)})
    assert moved.status_code == 200, moved.text
    assert moved.json()["rider"]["id"] == uid(second)
    states = {
        int(str(rider)): (None if active is None else int(str(active)))
        for rider, active in infra.query(
            "SELECT rider_id, active_order_id FROM rider_states WHERE rider_id IN (%s, %s)",
            uid(first),
            uid(second),
        )
    }
    assert states == {uid(first): None, uid(second): order["id"]}
    assert events_on(infra, f"rider:{uid(first)}", "order.rider_released") == [order["id"]]
    assert events_on(infra, f"rider:{uid(second)}", "order.rider_assigned") == [order["id"]]
    types = [
        str(t)
        for (t,) in infra.query(
            "SELECT type FROM outbox_events WHERE stream = %s ORDER BY seq", f"order:{order['id']}"
        )
    ]
    assert types[-2:] == ["order.rider_released", "order.rider_assigned"]
    # The first rider no longer sees the order; the second does, and may go on shift again.
    assert_problem(await first.get(f"/api/orders/{order['id']}"), 404, "not-found")
    assert (await second.get(f"/api/orders/{order['id']}")).status_code == 200
    assert [row[0] for row in audit_rows(infra)] == ["order.assign", "order.reassign"]
    assert audit_rows(infra)[-1][3] == {"rider_id": uid(second), "from_rider_id": uid(first)}


async def test_an_order_picked_up_is_not_moved_to_another_rider(
    apps: AppPool, app: DeliveryApp, infra: Infra
) -> None:
    desk = await console(apps, app)
    order = await desk.kitchen.accepted_order()
    first, second = await desk.rider(), await desk.rider(0.7)
    path = f"/api/admin/orders/{order['id']}/assign"
    assert (await desk.admin.post(path, json={"rider_id": uid(first)})).status_code == 200
    ready = await desk.kitchen.owner.post(f"/api/orders/{order['id']}/ready", json={})
    assert ready.status_code == 200, ready.text
    assert (await first.post(f"/api/orders/{order['id']}/pickup", json={})).status_code == 200

    refused = await desk.admin.post(
        path, json={"rider_id": uid(second), "from_rider_id": uid(first)}
    )
    body = assert_problem(refused, 409, "invalid-transition")
    assert "picked up" in body["detail"]
    cancel = await desk.admin.post(
        f"/api/admin/orders/{order['id']}/cancel", json={"reason": "Too late"}
    )
    assert_problem(cancel, 409, "invalid-transition")
    assert [row[0] for row in audit_rows(infra)] == ["order.assign"]


async def test_assigning_to_a_rider_who_cannot_take_it_says_why(
    apps: AppPool, app: DeliveryApp, infra: Infra
) -> None:
    desk = await console(apps, app)
    first_order = await desk.kitchen.accepted_order()
    second_order = await desk.kitchen.accepted_order()
    busy = await desk.rider()
    path = f"/api/admin/orders/{second_order['id']}/assign"
    assert (
        await desk.admin.post(
            f"/api/admin/orders/{first_order['id']}/assign", json={"rider_id": uid(busy)}
        )
    ).status_code == 200

    assert_problem(await desk.admin.post(path, json={"rider_id": uid(busy)}), 409, "rider-busy")
    off_shift = await desk.person("rider")
    assert_problem(
        await desk.admin.post(path, json={"rider_id": uid(off_shift)}), 409, "rider-offline"
    )
    customer = uid(desk.kitchen.customer)
    body = assert_problem(
        await desk.admin.post(path, json={"rider_id": customer}), 404, "not-found"
    )
    assert body["detail"] == f"Rider {customer} does not exist."
    placed = await place(desk.kitchen.customer, desk.kitchen.shop)
    ready_rider = await desk.rider(0.8)
    not_yet = await desk.admin.post(
        f"/api/admin/orders/{placed['id']}/assign", json={"rider_id": uid(ready_rider)}
    )
    assert_problem(not_yet, 409, "invalid-transition")
    # Refusals leave nothing behind: no assignment, no audit record.
    assert infra.query("SELECT rider_id FROM orders WHERE id = %s", second_order["id"]) == [(None,)]
    assert [row[0] for row in audit_rows(infra)] == ["order.assign"]


async def test_an_admin_cancels_with_a_full_refund_and_frees_the_rider(
    apps: AppPool, app: DeliveryApp, infra: Infra
) -> None:
    desk = await console(apps, app)
    order = await desk.kitchen.accepted_order()
    rider = await desk.rider()
    assign = f"/api/admin/orders/{order['id']}/assign"
    assert (await desk.admin.post(assign, json={"rider_id": uid(rider)})).status_code == 200

    cancelled = await desk.admin.post(
        f"/api/admin/orders/{order['id']}/cancel",
        json={"reason": "The store's kitchen is on fire."},
    )
    assert cancelled.status_code == 200, cancelled.text
    body = cancelled.json()
    assert body["status"] == "cancelled" and body["reason"] == "The store's kitchen is on fire."

    async def refunded() -> bool:
        seen = (await desk.kitchen.customer.get(f"/api/orders/{order['id']}")).json()
        return bool(seen["payment"]["status"] == "refunded")

    await wait_until(refunded, what="the card refund")
    assert infra.query(
        "SELECT active_order_id FROM rider_states WHERE rider_id = %s", uid(rider)
    ) == [(None,)]
    assert events_on(infra, f"order:{order['id']}", "order.cancelled") == [order["id"]]
    assert audit_rows(infra)[-1] == (
        "order.cancel",
        "order",
        order["id"],
        {"reason": "The store's kitchen is on fire.", "refund": order["total"]},
    )
    # Again: the order as it is, nothing recorded twice; another admin action on it is refused.
    again = await desk.admin.post(
        f"/api/admin/orders/{order['id']}/cancel", json={"reason": "again"}
    )
    assert again.status_code == 200 and again.json()["status"] == "cancelled"
    assert [row[0] for row in audit_rows(infra)] == ["order.assign", "order.cancel"]
    other_rider = await desk.rider(0.7)
    assert_problem(
        await desk.admin.post(assign, json={"rider_id": uid(other_rider)}),
        409,
        "already-assigned",
    )
    # The parties' own cancel route stays closed to admins.
    other = await desk.kitchen.accepted_order()
    refused = await desk.admin.post(f"/api/orders/{other['id']}/cancel", json={"reason": "x"})
    assert_problem(refused, 403, "forbidden")


async def test_a_suspended_account_is_signed_out_and_cannot_sign_in(
    apps: AppPool, app: DeliveryApp, infra: Infra
) -> None:
    desk = await console(apps, app)
    customer = desk.kitchen.customer
    assert customer.user is not None
    email = customer.user["email"]
    second_device = await apps.client(app)
    await second_device.login(email)

    suspended = await desk.admin.patch(
        f"/api/admin/users/{uid(customer)}", json={"suspended": True}
    )
    assert suspended.status_code == 200, suspended.text
    assert suspended.json() == {"user": customer.user, "suspended": True}
    for device in (customer, second_device):
        assert_problem(await device.get("/api/me"), 401, "unauthenticated")
    fresh = await apps.client(app)
    refused = await fresh.post(
        "/api/auth/login", json={"email": email, "password": "correct-horse-battery"}
    )
    body = assert_problem(refused, 403, "account-suspended")
    assert "suspended" in body["detail"] and "set-cookie" not in refused.headers
    # The wrong password learns nothing of the suspension.
    wrong = await fresh.post(
        "/api/auth/login", json={"email": email, "password": "wrong-password-1"}
    )
    assert_problem(wrong, 401, "unauthenticated")

    restored = await desk.admin.patch(
        f"/api/admin/users/{uid(customer)}", json={"suspended": False}
    )
    assert restored.status_code == 200 and restored.json()["suspended"] is False
    await fresh.login(email)
    assert (await fresh.get("/api/me")).status_code == 200
    assert [(a, t, i) for a, t, i, _ in audit_rows(infra)] == [
        ("user.suspend", "user", uid(customer)),
        ("user.unsuspend", "user", uid(customer)),
    ]
    # An admin account is not suspended from the console.
    assert_problem(
        await desk.admin.patch(f"/api/admin/users/{uid(desk.admin)}", json={"suspended": True}),
        403,
        "forbidden",
    )
    assert len(audit_rows(infra)) == 2


async def test_a_suspended_rider_goes_off_shift_and_loses_their_offers(
    apps: AppPool, app: DeliveryApp, infra: Infra
) -> None:
    desk = await console(apps, app)
    rider = await desk.rider()
    order = await desk.kitchen.accepted_order()

    async def offered() -> bool:
        offers = (await rider.get("/api/dispatch/offers")).json()["offers"]
        return any(o["order_id"] == order["id"] for o in offers)

    await wait_until(offered, what="the rider's offer")
    done = await desk.admin.patch(f"/api/admin/users/{uid(rider)}", json={"suspended": True})
    assert done.status_code == 200, done.text
    assert infra.query("SELECT online FROM rider_states WHERE rider_id = %s", uid(rider)) == [(0,)]
    assert infra.query(
        "SELECT status FROM offers WHERE rider_id = %s AND order_id = %s", uid(rider), order["id"]
    ) == [("withdrawn",)]
    assert (await desk.admin.get("/api/admin/riders")).json()["riders"] == []


async def test_a_suspended_store_is_hidden_and_refuses_orders(
    apps: AppPool, app: DeliveryApp, infra: Infra
) -> None:
    desk = await console(apps, app)
    shop, customer = desk.kitchen.shop, desk.kitchen.customer
    near = "/api/stores?lat=37.5660&lng=126.9770&radius_km=3"
    assert shop.id in [s["id"] for s in (await customer.get(near)).json()["stores"]]

    done = await desk.admin.patch(f"/api/admin/stores/{shop.id}", json={"suspended": True})
    assert done.status_code == 200, done.text
    assert done.json()["suspended"] is True and done.json()["open_now"] is False
    assert shop.id not in [s["id"] for s in (await customer.get(near)).json()["stores"]]
    page = (await customer.get(f"/api/stores/{shop.id}")).json()
    assert page["suspended"] is True and page["open_now"] is False
    refused = await customer.post(
        "/api/orders",
        json={
            "store_id": shop.id,
            "items": [{"menu_item_id": shop.fries["id"], "quantity": 2, "option_ids": []}],
            "address": {"text": "x", "lat": 37.5665, "lng": 126.978},
            "payment": {"method": "card", "card_number": "4111111111111111"},
        },
        headers={"Idempotency-Key": "suspended-store-1"},
    )
    body = assert_problem(refused, 409, "store-suspended")
    assert "suspended" in body["detail"]
    assert infra.query("SELECT COUNT(*) FROM orders") == [(0,)]
    # Its owner still finds it among their own stores.
    mine = (await desk.kitchen.owner.get(f"/api/stores?owner_id={uid(desk.kitchen.owner)}")).json()
    assert [s["suspended"] for s in mine["stores"] if s["id"] == shop.id] == [True]
    assert events_on(infra, f"store-public:{shop.id}", "store.suspended") == [shop.id]

    restored = await desk.admin.patch(f"/api/admin/stores/{shop.id}", json={"suspended": False})
    assert restored.json()["suspended"] is False
    assert shop.id in [s["id"] for s in (await customer.get(near)).json()["stores"]]
    await place(customer, shop)
    assert [row[0] for row in audit_rows(infra)] == ["store.suspend", "store.unsuspend"]


async def test_a_suspended_owners_stores_are_hidden_and_refuse_orders_until_restored(
    apps: AppPool, app: DeliveryApp, infra: Infra
) -> None:
    desk = await console(apps, app)
    shop, customer, owner = desk.kitchen.shop, desk.kitchen.customer, desk.kitchen.owner
    # A second store of the same owner, suspended on its own before the account is.
    other = await open_shop(owner)
    alone = await desk.admin.patch(f"/api/admin/stores/{other.id}", json={"suspended": True})
    assert alone.status_code == 200, alone.text
    near = "/api/stores?lat=37.5660&lng=126.9770&radius_km=3"

    async def listed() -> list[int]:
        return [s["id"] for s in (await customer.get(near)).json()["stores"]]

    async def refusal(store: Shop) -> dict[str, Any]:
        refused = await customer.post(
            "/api/orders", json=order_body(store), headers={"Idempotency-Key": new_key()}
        )
        return assert_problem(refused, 409, "store-suspended")

    assert await listed() == [shop.id]  # read once: the list is cached
    done = await desk.admin.patch(f"/api/admin/users/{uid(owner)}", json={"suspended": True})
    assert done.status_code == 200, done.text
    assert await listed() == []
    page = (await customer.get(f"/api/stores/{shop.id}")).json()
    assert page["suspended"] is True and page["open_now"] is False
    body = await refusal(shop)
    assert body["detail"] == "Order Test Burgers is suspended by the platform and takes no orders."
    quote = await customer.post("/api/orders/quote", json=order_body(shop))
    assert_problem(quote, 409, "store-suspended")
    assert infra.query("SELECT COUNT(*) FROM orders") == [(0,)]
    # The open store's page hears it as a store suspension; the one already suspended, nothing.
    assert events_on(infra, f"store-public:{shop.id}", "store.suspended") == [shop.id]
    assert events_on(infra, f"store-public:{other.id}", "store.suspended") == [other.id]

    restored = await desk.admin.patch(f"/api/admin/users/{uid(owner)}", json={"suspended": False})
    assert restored.status_code == 200 and restored.json()["suspended"] is False
    assert await listed() == [shop.id]
    assert (await customer.get(f"/api/stores/{shop.id}")).json()["suspended"] is False
    await place(customer, shop)
    assert events_on(infra, f"store-public:{shop.id}", "store.unsuspended") == [shop.id]
    # The store suspended on its own stays suspended after its owner's restore.
    assert (await customer.get(f"/api/stores/{other.id}")).json()["suspended"] is True
    await refusal(other)
    assert events_on(infra, f"store-public:{other.id}", "store.unsuspended") == []
    alone = await desk.admin.patch(f"/api/admin/stores/{other.id}", json={"suspended": False})
    assert alone.status_code == 200 and alone.json()["suspended"] is False
    assert sorted(await listed()) == [shop.id, other.id]
    await place(customer, other)
    assert [row[0] for row in audit_rows(infra)] == [
        "store.suspend",
        "user.suspend",
        "user.unsuspend",
        "store.unsuspend",
    ]


async def test_a_store_restored_while_its_owner_is_suspended_stays_suspended(
    apps: AppPool, app: DeliveryApp, infra: Infra
) -> None:
    desk = await console(apps, app)
    shop, customer, owner = desk.kitchen.shop, desk.kitchen.customer, desk.kitchen.owner
    for path, suspended in (
        (f"/api/admin/users/{uid(owner)}", True),
        (f"/api/admin/stores/{shop.id}", True),
        (f"/api/admin/stores/{shop.id}", False),
    ):
        done = await desk.admin.patch(path, json={"suspended": suspended})
        assert done.status_code == 200, done.text
    # Still suspended with its owner's account: said so, and nothing announced as restored.
    assert done.json()["suspended"] is True and done.json()["open_now"] is False
    refused = await customer.post(
        "/api/orders", json=order_body(shop), headers={"Idempotency-Key": new_key()}
    )
    assert_problem(refused, 409, "store-suspended")
    assert events_on(infra, f"store-public:{shop.id}", "store.suspended") == [shop.id]
    assert events_on(infra, f"store-public:{shop.id}", "store.unsuspended") == []

    done = await desk.admin.patch(f"/api/admin/users/{uid(owner)}", json={"suspended": False})
    assert done.status_code == 200, done.text
    assert (await customer.get(f"/api/stores/{shop.id}")).json()["suspended"] is False
    await place(customer, shop)


async def test_a_store_written_for_a_suspended_owner_counts_as_suspended(
    apps: AppPool, app: DeliveryApp
) -> None:
    desk = await console(apps, app)
    owner, customer = desk.kitchen.owner, desk.kitchen.customer
    done = await desk.admin.patch(f"/api/admin/users/{uid(owner)}", json={"suspended": True})
    assert done.status_code == 200, done.text
    # As a request already past its session check when the suspension committed would.
    store = await create_store(
        db=app.container.db,
        cache=app.container.get(CatalogCache),
        owner_id=uid(owner),
        data=StoreCreate(
            name="Late Kitchen",
            category="burger",
            address="1 Sejong-daero, Seoul",
            lat=37.5660,
            lng=126.9770,
            phone="02-123-4567",
            min_order=0,
            delivery_fee=0,
        ),
    )
    assert (await customer.get(f"/api/stores/{store.id}")).json()["suspended"] is True
    done = await desk.admin.patch(f"/api/admin/users/{uid(owner)}", json={"suspended": False})
    assert done.status_code == 200, done.text
    assert (await customer.get(f"/api/stores/{store.id}")).json()["suspended"] is False


async def test_the_audit_log_reads_newest_first_page_by_page(
    apps: AppPool, app: DeliveryApp
) -> None:
    desk = await console(apps, app)
    shop = desk.kitchen.shop
    for suspended in (True, False, True):
        done = await desk.admin.patch(f"/api/admin/stores/{shop.id}", json={"suspended": suspended})
        assert done.status_code == 200
    first = (await desk.admin.get("/api/admin/audit?limit=2")).json()
    assert [e["action"] for e in first["entries"]] == ["store.suspend", "store.unsuspend"]
    entry = first["entries"][0]
    assert entry["admin_id"] == uid(desk.admin) and entry["target_id"] == shop.id
    assert entry["details"] == {"name": "Order Test Burgers"}
    assert entry["at"].endswith("Z")
    rest = (await desk.admin.get(f"/api/admin/audit?before_id={first['next_before_id']}")).json()
    assert [e["action"] for e in rest["entries"]] == ["store.suspend"]
    assert rest["next_before_id"] is None


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "code"),
    [
        ("POST", f"/api/admin/orders/{BEYOND_BIGINT}/assign", {"rider_id": 1}, 404, "not-found"),
        ("POST", "/api/admin/orders/1/assign", {"rider_id": BEYOND_BIGINT}, 404, "not-found"),
        ("POST", "/api/admin/orders/1/assign", {"rider_id": "seven"}, 400, "validation"),
        ("POST", "/api/admin/orders/1/assign", {"rider_id": 0}, 400, "validation"),
        ("POST", "/api/admin/orders/1/assign", {"rider_id": 1, "x": 1}, 400, "validation"),
        ("POST", "/api/admin/orders/1/assign", {}, 400, "validation"),
        ("POST", "/api/admin/orders/1/assign", {"rider_id": 1.5}, 400, "validation"),
        ("POST", "/api/admin/orders/1/cancel", {"reason": ""}, 400, "validation"),
        ("POST", "/api/admin/orders/1/cancel", {"reason": "x" * 301}, 400, "validation"),
        ("POST", "/api/admin/orders/1/cancel", {"reason": ["x"]}, 400, "validation"),
        ("PATCH", "/api/admin/users/1", {"suspended": "yes"}, 400, "validation"),
        ("PATCH", "/api/admin/users/1", {"suspended": None}, 400, "validation"),
        ("PATCH", "/api/admin/users/1", {"suspended": 1}, 400, "validation"),
        ("PATCH", f"/api/admin/users/{BEYOND_BIGINT}", {"suspended": True}, 404, "not-found"),
        ("PATCH", "/api/admin/users/999999999", {"suspended": True}, 404, "not-found"),
        ("PATCH", "/api/admin/stores/999999999", {"suspended": True}, 404, "not-found"),
        ("PATCH", "/api/admin/stores/1", [True], 400, "validation"),
        ("GET", "/api/admin/orders?state=stuck", None, 400, "validation"),
        ("GET", "/api/admin/orders?limit=0", None, 400, "validation"),
        ("GET", "/api/admin/orders?limit=99999999999999999999999", None, 400, "validation"),
        ("GET", "/api/admin/audit?before_id=-1", None, 400, "validation"),
        ("GET", f"/api/admin/audit?before_id={BEYOND_BIGINT}", None, 404, "not-found"),
    ],
)
async def test_hostile_input_gets_a_clear_problem_and_writes_nothing(
    apps: AppPool,
    app: DeliveryApp,
    infra: Infra,
    method: str,
    path: str,
    body: Any,
    status: int,
    code: str,
) -> None:
    admin: Api = await sign_in_admin(apps, app)
    answer = await admin.request(method, path, json=body)
    assert_problem(answer, status, code)
    assert infra.query("SELECT COUNT(*) FROM admin_audit") == [(0,)]


async def test_an_order_nobody_knows_is_not_found(apps: AppPool, app: DeliveryApp) -> None:
    desk = await console(apps, app)
    rider = await desk.rider()
    missing = await desk.admin.post(
        "/api/admin/orders/987654/assign", json={"rider_id": uid(rider)}
    )
    assert_problem(missing, 404, "not-found")
    gone = await desk.admin.post("/api/admin/orders/987654/cancel", json={"reason": "x"})
    assert_problem(gone, 404, "not-found")


async def test_an_admins_part_refund_is_in_the_audit_log_and_an_owners_is_not(
    apps: AppPool, app: DeliveryApp, infra: Infra
) -> None:
    desk = await console(apps, app)
    order = await desk.kitchen.accepted_order()
    path = f"/api/orders/{order['id']}/refunds"
    by_admin = await desk.admin.post(
        path, json={"lines": None, "amount": 1000, "reason": "Cold fries, told by phone."}
    )
    assert by_admin.status_code == 201, by_admin.text
    by_owner = await desk.kitchen.owner.post(
        path, json={"lines": None, "amount": 500, "reason": "Sorry"}
    )
    assert by_owner.status_code == 201, by_owner.text
    assert audit_rows(infra) == [
        (
            "order.refund",
            "order",
            order["id"],
            {"amount": 1000, "lines": None, "reason": "Cold fries, told by phone."},
        )
    ]
    # A refused refund (more than was paid) records nothing.
    too_much = await desk.admin.post(
        path, json={"lines": None, "amount": 1_000_000, "reason": "Everything"}
    )
    assert_problem(too_much, 409, "refund-exceeds-paid")
    assert len(audit_rows(infra)) == 1
    # Cancelled afterwards, the rest goes back: the record says how much that was.
    cancelled = await desk.admin.post(
        f"/api/admin/orders/{order['id']}/cancel", json={"reason": "Kitchen closed"}
    )
    assert cancelled.status_code == 200, cancelled.text
    assert audit_rows(infra)[-1][3] == {"reason": "Kitchen closed", "refund": order["total"] - 1500}
