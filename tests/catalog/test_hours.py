"""Opening hours, closed dates and pauses end to end on MariaDB: `open_now` everywhere a store
is shown, ordering refused with when it opens, pauses that end by themselves exactly once
across two nodes, and the store's public stream."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx

from app import DeliveryApp
from app.catalog.cache import CatalogCache
from app.catalog.service import resume_expired_pauses
from app.db import rfc3339
from tests.client import Api, assert_problem
from tests.conftest import AppPool
from tests.harness import Infra
from tests.orders.helpers import Shop, new_key, open_shop, order_body
from tests.realtime.polling import PollingClient
from tests.waiting import wait_until

SEOUL = ZoneInfo("Asia/Seoul")


def minute(moment: datetime) -> str:
    return moment.strftime("%H:%M")


def open_across_midnight(now: datetime) -> tuple[dict[str, Any], datetime]:
    """A weekly opening that runs past midnight and holds `now` (Seoul time), and its end."""
    local = now.astimezone(SEOUL).replace(second=0, microsecond=0)
    if local.hour < 22:
        # Yesterday evening's opening, still running this morning/afternoon.
        closes = local + timedelta(hours=1)
        entry = {"day": (local.weekday() - 1) % 7, "opens": "23:30", "closes": minute(closes)}
    else:
        # Tonight's, running until 03:00 tomorrow.
        closes = (local + timedelta(days=1)).replace(hour=3, minute=0)
        entry = {"day": local.weekday(), "opens": "21:00", "closes": "03:00"}
    return entry, closes.astimezone(UTC)


async def put_hours(owner: Api, store_id: int, **body: Any) -> httpx.Response:
    return await owner.put(f"/api/stores/{store_id}/hours", json={"closed_dates": [], **body})


async def order(customer: Api, shop: Shop) -> httpx.Response:
    return await customer.post(
        "/api/orders", json=order_body(shop), headers={"Idempotency-Key": new_key()}
    )


async def cast(apps: AppPool, node: DeliveryApp) -> tuple[Api, Api, Shop]:
    owner, customer = await apps.client(node), await apps.client(node)
    await owner.sign_in_as("owner")
    await customer.sign_in_as("customer")
    return owner, customer, await open_shop(owner)


def at(text: str | None) -> datetime:
    assert text is not None
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


async def shown(api: Api, shop: Shop) -> list[dict[str, Any]]:
    """The store as every public read shows it: its page, the list, the nearby search."""
    page = (await api.get(f"/api/stores/{shop.id}")).json()
    listed = (await api.get("/api/stores")).json()["stores"]
    nearby = (await api.get("/api/stores", params={"lat": 37.566, "lng": 126.977})).json()
    mine = (await api.get("/api/stores", params={"owner_id": shop.store["owner_id"]})).json()
    found = [page]
    for stores in (listed, nearby["stores"], mine["stores"]):
        found += [s for s in stores if s["id"] == shop.id]
    assert len(found) == 4
    return found


async def test_hours_past_midnight_in_seoul_take_orders_until_they_end(
    apps: AppPool, app: DeliveryApp
) -> None:
    owner, customer, shop = await cast(apps, app)
    entry, closes = open_across_midnight(datetime.now(UTC))
    saved = await put_hours(owner, shop.id, weekly=[entry])
    assert saved.status_code == 200, saved.text
    store = saved.json()
    assert store["timezone"] == "Asia/Seoul" and store["hours"] == [entry]
    assert store["open_now"] is True and store["next_open"] is None
    assert at(store["closes_at"]) == closes
    for view in await shown(customer, shop):
        assert (view["open_now"], view["closes_at"]) == (True, rfc3339(closes)), view
    placed = await order(customer, shop)
    assert placed.status_code == 201, placed.text


async def test_ordering_outside_the_hours_is_refused_with_when_the_store_opens(
    apps: AppPool, app: DeliveryApp
) -> None:
    owner, customer, shop = await cast(apps, app)
    tomorrow = datetime.now(SEOUL).date() + timedelta(days=1)
    # Tomorrow 23:30 until 01:00 the day after: nothing now.
    saved = await put_hours(
        owner, shop.id, weekly=[{"day": tomorrow.weekday(), "opens": "23:30", "closes": "01:00"}]
    )
    assert saved.status_code == 200, saved.text
    opens = datetime(tomorrow.year, tomorrow.month, tomorrow.day, 23, 30, tzinfo=SEOUL)
    for view in await shown(customer, shop):
        assert view["open_now"] is False and at(view["next_open"]) == opens, view
    refused = await order(customer, shop)
    problem = assert_problem(refused, 409, "store-closed")
    assert at(problem["next_open"]) == opens
    assert (
        problem["detail"] == "Order Test Burgers is closed right now; it opens tomorrow at 23:30."
    )


async def test_a_closed_date_closes_the_day_and_the_store_says_so(
    apps: AppPool, app: DeliveryApp
) -> None:
    owner, customer, shop = await cast(apps, app)
    today = datetime.now(SEOUL).date()
    saved = await put_hours(owner, shop.id, weekly=[], closed_dates=[today.isoformat()])
    assert saved.status_code == 200, saved.text
    assert saved.json()["closed_dates"] == [today.isoformat()]
    refused = assert_problem(await order(customer, shop), 409, "store-closed")
    midnight = datetime.combine(today + timedelta(days=1), datetime.min.time(), tzinfo=SEOUL)
    assert at(refused["next_open"]) == midnight
    assert refused["detail"].endswith("it opens tomorrow at 00:00.")
    # Clearing the date opens it again at once, for the readers too (the cache follows).
    assert (await put_hours(owner, shop.id, weekly=[])).json()["open_now"] is True
    assert all(view["open_now"] for view in await shown(customer, shop))
    assert (await order(customer, shop)).status_code == 201


async def test_the_open_switch_still_rules_and_says_nothing_of_a_time(
    apps: AppPool, app: DeliveryApp
) -> None:
    owner, customer, shop = await cast(apps, app)
    closed = await owner.patch(f"/api/stores/{shop.id}", json={"open": False})
    assert (closed.json()["open_now"], closed.json()["next_open"]) == (False, None)
    problem = assert_problem(await order(customer, shop), 409, "store-closed")
    assert "next_open" not in problem and "has not said when" in problem["detail"]


async def test_a_cached_store_page_goes_the_moment_its_hours_end(
    apps: AppPool, app: DeliveryApp, infra: Infra
) -> None:
    owner, customer, shop = await cast(apps, app)
    local = datetime.now(SEOUL).replace(second=0, microsecond=0)
    opened, ends = local - timedelta(minutes=1), local + timedelta(minutes=2)
    # Opened a minute ago (so it is open now), ends in one to two minutes.
    body = {"day": opened.weekday(), "opens": minute(opened), "closes": minute(ends)}
    assert (await put_hours(owner, shop.id, weekly=[body])).status_code == 200
    first = await customer.get(f"/api/stores/{shop.id}")
    again = await customer.get(f"/api/stores/{shop.id}")
    assert first.json()["open_now"] is True
    assert again.headers["X-Cache"] in ("hit", "wait")
    # The cached entry lives only until the hours end: Redis keeps it no longer.
    [key] = [k for k in infra_cache_keys(infra) if k.endswith(":lock") is False and "store:" in k]
    ttl_ms = infra_pttl(infra, key)
    remaining = (ends.astimezone(UTC) - datetime.now(UTC)).total_seconds() * 1000
    assert 0 < ttl_ms <= remaining + 50, (ttl_ms, remaining)


def infra_cache_keys(infra: Infra) -> list[str]:
    import redis

    client = redis.Redis(host="127.0.0.1", port=infra.cache_redis.port)
    try:
        return [
            k.decode() if isinstance(k, bytes) else str(k) for k in client.keys("catalog:{store:*")
        ]
    finally:
        client.close()


def infra_pttl(infra: Infra, key: str) -> int:
    import redis

    client = redis.Redis(host="127.0.0.1", port=infra.cache_redis.port)
    try:
        return int(client.pttl(key))
    finally:
        client.close()


def events_of(infra: Infra, stream: str) -> list[str]:
    return [
        str(kind)
        for (kind,) in infra.query(
            "SELECT type FROM outbox_events WHERE stream = %s ORDER BY seq", stream
        )
    ]


async def test_a_pause_refuses_orders_on_every_node_and_ends_once_among_two(
    apps: AppPool, infra: Infra
) -> None:
    node_a, node_b = await apps.start(), await apps.start()
    owner, customer_a, shop = await cast(apps, node_a)
    customer_b = await apps.client(node_b)
    customer_a.share_session_with(customer_b)
    shops = [shop] + [await open_shop(owner) for _ in range(7)]
    for each in shops:
        paused = await owner.post(f"/api/stores/{each.id}/pause", json={"minutes": 15})
        assert paused.status_code == 200, paused.text
        assert paused.json()["open_now"] is False
        assert at(paused.json()["paused_until"]) > datetime.now(UTC) + timedelta(minutes=14)
    for customer in (customer_a, customer_b):
        problem = assert_problem(await order(customer, shop), 409, "store-closed")
        assert "has paused new orders; it takes orders again today at" in problem["detail"] or (
            "tomorrow at" in problem["detail"]
        )
        assert at(problem["next_open"]) == at(paused_until(infra, shop.id))
    # Fifteen minutes pass: the pauses run out (all at one instant) while both nodes sweep.
    infra.query(
        "UPDATE stores SET paused_until = UTC_TIMESTAMP(6) - INTERVAL 1 SECOND "
        "WHERE paused_until IS NOT NULL"
    )
    # Both nodes' own sweepers run every second; race explicit sweeps of both as well.
    sweeps = [
        resume_expired_pauses(db=node.container.db, cache=node.container.get(CatalogCache))
        for node in (node_a, node_b) * 3
    ]
    await asyncio.gather(*sweeps)

    def all_resumed() -> bool:
        return infra.query("SELECT COUNT(*) FROM stores WHERE paused_until IS NOT NULL") == [(0,)]

    await wait_until(all_resumed, timeout=10, what="every pause ended")
    for each in shops:
        assert events_of(infra, f"store:{each.id}") == ["store.paused", "store.resumed"]
        assert events_of(infra, f"store-public:{each.id}") == [
            "store.opened",
            "store.paused",
            "store.resumed",
        ]
    for customer in (customer_a, customer_b):
        assert (await customer.get(f"/api/stores/{shop.id}")).json()["open_now"] is True
        assert (await order(customer, shop)).status_code == 201


def paused_until(infra: Infra, store_id: int) -> str:
    [(value,)] = infra.query("SELECT paused_until FROM stores WHERE id = %s", store_id)
    assert isinstance(value, datetime)
    return str(rfc3339(value.replace(tzinfo=UTC)))


async def test_a_pause_ends_by_itself_without_any_request(apps: AppPool, infra: Infra) -> None:
    node_a, _ = await apps.start(), await apps.start()
    owner, _, shop = await cast(apps, node_a)
    assert (
        await owner.post(f"/api/stores/{shop.id}/pause", json={"minutes": 5})
    ).status_code == 200
    infra.query(
        "UPDATE stores SET paused_until = UTC_TIMESTAMP(6) + INTERVAL 1 SECOND WHERE id = %s",
        shop.id,
    )

    def resumed() -> bool:
        return events_of(infra, f"store:{shop.id}")[-1:] == ["store.resumed"]

    await wait_until(resumed, timeout=10, what="a node's sweeper to end the pause")
    assert events_of(infra, f"store:{shop.id}").count("store.resumed") == 1


async def test_resuming_now_and_pausing_again(
    apps: AppPool, app: DeliveryApp, infra: Infra
) -> None:
    owner, customer, shop = await cast(apps, app)
    assert (await owner.delete(f"/api/stores/{shop.id}/pause")).json()["paused_until"] is None
    paused = await owner.post(f"/api/stores/{shop.id}/pause", json={"minutes": 30})
    again = await owner.post(f"/api/stores/{shop.id}/pause", json={"minutes": 60})
    assert at(again.json()["paused_until"]) - at(paused.json()["paused_until"]) >= timedelta(
        minutes=29
    )
    resumed = await owner.delete(f"/api/stores/{shop.id}/pause")
    assert resumed.status_code == 200
    assert (resumed.json()["paused_until"], resumed.json()["open_now"]) == (None, True)
    assert (await owner.delete(f"/api/stores/{shop.id}/pause")).status_code == 200
    assert events_of(infra, f"store:{shop.id}") == [
        "store.paused",
        "store.paused",
        "store.resumed",
    ]
    assert (await order(customer, shop)).status_code == 201


async def test_only_the_owner_sets_hours_and_pauses(apps: AppPool, app: DeliveryApp) -> None:
    owner, customer, shop = await cast(apps, app)
    other = await apps.client(app)
    await other.sign_in_as("owner")
    anonymous = await apps.client(app)
    hours: dict[str, list[str]] = {"weekly": [], "closed_dates": []}
    for path, method, body in (
        (f"/api/stores/{shop.id}/hours", "PUT", hours),
        (f"/api/stores/{shop.id}/pause", "POST", {"minutes": 10}),
        (f"/api/stores/{shop.id}/pause", "DELETE", None),
    ):
        assert_problem(await other.request(method, path, json=body), 403, "forbidden")
        assert_problem(await customer.request(method, path, json=body), 403, "forbidden")
        assert_problem(await anonymous.request(method, path, json=body), 401, "unauthenticated")
        missing = path.replace(str(shop.id), "999999999")
        assert_problem(await owner.request(method, missing, json=body), 404, "not-found")
    assert (await customer.get(f"/api/stores/{shop.id}")).json()["open_now"] is True


async def test_bad_hours_are_refused_whole_with_each_field_named(
    apps: AppPool, app: DeliveryApp, infra: Infra
) -> None:
    owner, _, shop = await cast(apps, app)
    good = await put_hours(owner, shop.id, weekly=[{"day": 0, "opens": "11:00", "closes": "14:00"}])
    assert good.status_code == 200
    today = datetime.now(SEOUL).date()
    attacks: list[tuple[dict[str, Any], str]] = [
        ({"weekly": [{"day": 0, "opens": "25:00", "closes": "14:00"}]}, "weekly[0].opens"),
        ({"weekly": [{"day": 9, "opens": "10:00", "closes": "14:00"}]}, "weekly[0].day"),
        ({"weekly": [{"day": 0, "opens": "10:00", "closes": "10:00"}]}, "weekly[0]"),
        ({"weekly": [{"day": 0, "opens": "10:00", "closes": "14:00", "x": 1}]}, "weekly[0].x"),
        ({"weekly": [{"day": 1, "opens": "10:00", "closes": "14:00"}] * 2}, "weekly[1]"),
        (
            {
                "weekly": [
                    {"day": 6, "opens": "20:00", "closes": "04:00"},
                    {"day": 0, "opens": "03:00", "closes": "09:00"},
                ]
            },
            "weekly[1]",
        ),
        ({"weekly": [{"day": 0, "opens": "10:00", "closes": "11:00"}] * 29}, "weekly"),
        ({"weekly": [], "closed_dates": ["2026-13-01"]}, "closed_dates[0]"),
        (
            {"weekly": [], "closed_dates": [(today - timedelta(days=90)).isoformat()]},
            "closed_dates[0]",
        ),
        (
            {"weekly": [], "closed_dates": [(today + timedelta(days=400)).isoformat()]},
            "closed_dates[0]",
        ),
        ({"weekly": [], "closed_dates": [today.isoformat()] * 2}, "closed_dates[1]"),
        (
            {
                "weekly": [],
                "closed_dates": [(today + timedelta(days=i)).isoformat() for i in range(101)],
            },
            "closed_dates",
        ),
        ({"weekly": [], "timezone": "Asia/Nowhere"}, "timezone"),
        ({"weekly": [], "timezone": "x" * 10_000}, "timezone"),
        ({"closed_dates": []}, "weekly"),
        ({"weekly": "all day"}, "weekly"),
    ]
    for body, field in attacks:
        response = await owner.put(f"/api/stores/{shop.id}/hours", json=body)
        problem = assert_problem(response, 400, "validation")
        assert field in [e["field"] for e in problem["errors"]], (body, problem)
    for minutes in (4, 241, 10**18, "15", None, 2.5):
        response = await owner.post(f"/api/stores/{shop.id}/pause", json={"minutes": minutes})
        assert_problem(response, 400, "validation")
    # Nothing was written: the first schedule stands, no pause, one hours event.
    store = (await owner.get(f"/api/stores/{shop.id}")).json()
    assert store["hours"] == [{"day": 0, "opens": "11:00", "closes": "14:00"}]
    assert store["paused_until"] is None
    assert events_of(infra, f"store-public:{shop.id}") == ["store.opened", "store.hours_changed"]
    assert events_of(infra, f"store:{shop.id}") == []


async def test_a_time_zone_other_than_seoul_is_kept_and_used(
    apps: AppPool, app: DeliveryApp
) -> None:
    owner, _, shop = await cast(apps, app)
    ny = ZoneInfo("America/New_York")
    tomorrow = datetime.now(ny).date() + timedelta(days=1)
    saved = await put_hours(
        owner,
        shop.id,
        weekly=[{"day": tomorrow.weekday(), "opens": "09:00", "closes": "17:00"}],
        timezone="America/New_York",
    )
    assert saved.json()["timezone"] == "America/New_York"
    opens = datetime(tomorrow.year, tomorrow.month, tomorrow.day, 9, tzinfo=ny)
    assert at(saved.json()["next_open"]) == opens
    # Leaving the zone out keeps it.
    kept = await put_hours(owner, shop.id, weekly=[])
    assert kept.json()["timezone"] == "America/New_York"


async def test_the_public_stream_carries_store_and_item_changes_to_anyone_signed_in(
    apps: AppPool, app: DeliveryApp
) -> None:
    owner, customer, shop = await cast(apps, app)
    assert (
        await owner.post(f"/api/stores/{shop.id}/pause", json={"minutes": 10})
    ).status_code == 200
    assert (await owner.delete(f"/api/stores/{shop.id}/pause")).status_code == 200
    sold = await owner.patch(f"/api/menu-items/{shop.fries['id']}", json={"sold_out": True})
    assert sold.status_code == 200
    back = await owner.patch(f"/api/menu-items/{shop.fries['id']}", json={"sold_out": False})
    assert back.status_code == 200
    # A price change alone is no event of the public stream.
    assert (
        await owner.patch(f"/api/menu-items/{shop.fries['id']}", json={"price": 3100})
    ).status_code == 200
    assert (await owner.patch(f"/api/stores/{shop.id}", json={"open": False})).status_code == 200
    cookie = customer.http.cookies.get("delivery_session")
    assert cookie
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as http:
        socket = PollingClient(http, cookie)
        await socket.connect()
        ack = await socket.subscribe(f"store-public:{shop.id}", after_seq=0)
        assert ack["ok"] is True, ack
        kinds = [(e["type"], e["seq"]) for e in ack["events"]]
        assert kinds == [
            ("store.opened", 1),
            ("store.paused", 2),
            ("store.resumed", 3),
            ("item.sold_out", 4),
            ("item.available", 5),
            ("store.closed", 6),
        ]
        sold_event = ack["events"][3]["data"]
        assert (sold_event["id"], sold_event["sold_out"]) == (shop.fries["id"], True)
        closed = ack["events"][-1]["data"]
        assert (closed["open"], closed["open_now"], closed["id"]) == (False, False, shop.id)
        assert "menu" not in closed
        missing = await socket.subscribe("store-public:999999999", after_seq=0)
        assert missing == {"ok": False, "code": "not-found"}
    # The customer's own orders are not on it: only the owner's stream carries them.
    assert json.dumps(ack).count("order.") == 0
