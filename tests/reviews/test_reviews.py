"""Reviews on MariaDB: who may review what and when, what is refused, replies, the store's
rating and count, pagination, the catalog cache and the events."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from pydantic import TypeAdapter

from app.catalog.presenter import store_rating
from realtime.schemas import Event
from tests.client import assert_problem
from tests.conftest import AppPool
from tests.harness import Infra
from tests.orders.helpers import place
from tests.reviews.helpers import Diner, diner, review_path

EVENT = TypeAdapter(Event)


async def _diner(api_factory: Callable[[], Any]) -> Diner:
    return await diner(await api_factory(), await api_factory(), await api_factory())


def _store_totals(infra: Infra, store_id: int) -> tuple[int, int]:
    [(count, total)] = infra.query(
        "SELECT review_count, rating_sum FROM stores WHERE id = %s", store_id
    )
    return int(str(count)), int(str(total))


async def test_the_customer_reviews_a_delivered_order_once(
    api_factory: Callable[[], Any], infra: Infra
) -> None:
    d = await _diner(api_factory)
    order = await d.delivered_order()
    [delivered_at] = [t["at"] for t in order["timeline"] if t["status"] == "delivered"]
    before = (await d.customer.get(review_path(order))).json()
    assert before["review"] is None
    window = datetime.fromisoformat(before["reviewable_until"]) - datetime.fromisoformat(
        delivered_at
    )
    assert abs(window - timedelta(hours=72)) <= timedelta(seconds=1)
    response = await d.customer.post(
        review_path(order), json={"rating": 4, "text": " Hot and fast "}
    )
    assert response.status_code == 201, response.text
    review = response.json()
    assert set(review) == {
        "id",
        "order_id",
        "store_id",
        "rating",
        "text",
        "customer_name",
        "created_at",
        "reply",
    }
    assert review["order_id"] == order["id"] and review["store_id"] == d.shop.id
    assert review["rating"] == 4 and review["text"] == "Hot and fast"
    assert review["customer_name"] == "Kim Minji"
    assert review["reply"] is None and review["created_at"].endswith("Z")

    again = await d.customer.post(review_path(order), json={"rating": 1})
    body = assert_problem(again, 409, "already-reviewed")
    assert f"Order {order['id']}" in body["detail"]
    assert infra.query("SELECT COUNT(*) FROM reviews") == [(1,)]
    assert _store_totals(infra, d.shop.id) == (1, 4)

    listed = (await d.customer.get(f"/api/stores/{d.shop.id}/reviews")).json()
    assert listed == {"reviews": [review], "next_before_id": None}
    assert (await d.customer.get(review_path(order))).json()["review"] == review


async def test_only_a_delivered_order_within_72_hours_can_be_reviewed(
    api_factory: Callable[[], Any], infra: Infra
) -> None:
    d = await _diner(api_factory)
    placed = await place(d.customer, d.shop)
    body = assert_problem(
        await d.customer.post(review_path(placed), json={"rating": 5}), 409, "not-delivered"
    )
    assert "placed" in body["detail"]
    assert (await d.customer.get(review_path(placed))).json() == {
        "review": None,
        "reviewable_until": None,
    }
    cancelled = await place(d.customer, d.shop)
    await d.customer.post(f"/api/orders/{cancelled['id']}/cancel", json={"reason": "oops"})
    assert_problem(
        await d.customer.post(review_path(cancelled), json={"rating": 5}), 409, "not-delivered"
    )

    late, on_time = await d.delivered_order(), await d.delivered_order()
    for order, hours in ((late, "72:00:01"), (on_time, "71:59:00")):
        infra.query(
            "UPDATE order_timeline SET at = UTC_TIMESTAMP(6) - INTERVAL %s HOUR_SECOND "
            "WHERE order_id = %s AND status = 'delivered'",
            hours,
            order["id"],
        )
    refused = await d.customer.post(review_path(late), json={"rating": 5})
    body = assert_problem(refused, 409, "review-window-closed")
    assert "72 hours" in body["detail"]
    accepted = await d.customer.post(review_path(on_time), json={"rating": 2})
    assert accepted.status_code == 201, accepted.text
    assert infra.query("SELECT order_id FROM reviews") == [(on_time["id"],)]
    assert _store_totals(infra, d.shop.id) == (1, 2)


async def test_nobody_else_reviews_the_order(api_factory: Callable[[], Any], infra: Infra) -> None:
    d = await _diner(api_factory)
    order = await d.delivered_order()
    stranger = await api_factory()
    await stranger.sign_in_as("customer")
    anon = await api_factory()
    assert_problem(await stranger.post(review_path(order), json={"rating": 1}), 404, "not-found")
    assert_problem(await stranger.get(review_path(order)), 404, "not-found")
    assert_problem(await d.owner.get(review_path(order)), 403, "forbidden")
    assert_problem(await d.owner.post(review_path(order), json={"rating": 5}), 403, "forbidden")
    assert_problem(await d.rider.post(review_path(order), json={"rating": 5}), 403, "forbidden")
    assert_problem(await anon.post(review_path(order), json={"rating": 1}), 401, "unauthenticated")
    for missing in (order["id"] + 1000, 2**63 - 1):
        assert_problem(
            await d.customer.post(f"/api/orders/{missing}/review", json={"rating": 5}),
            404,
            "not-found",
        )
    assert_problem(
        await d.customer.post(
            review_path(order), json={"rating": 5}, headers={"X-CSRF-Token": "x"}
        ),
        403,
        "csrf",
    )
    assert infra.query("SELECT COUNT(*) FROM reviews") == [(0,)]
    assert _store_totals(infra, d.shop.id) == (0, 0)


async def test_hostile_review_bodies_are_refused_and_write_nothing(
    api_factory: Callable[[], Any], infra: Infra
) -> None:
    d = await _diner(api_factory)
    order = await d.delivered_order()
    bad: list[tuple[Any, str]] = [
        ({"rating": 0}, "rating"),
        ({"rating": 6}, "rating"),
        ({"rating": -1}, "rating"),
        ({"rating": 4.5}, "rating"),
        ({"rating": 5.0}, "rating"),
        ({"rating": "5"}, "rating"),
        ({"rating": True}, "rating"),
        ({"rating": None}, "rating"),
        ({"rating": 10**30}, "rating"),
        ({"rating": [5]}, "rating"),
        ({}, "rating"),
        ({"rating": 5, "text": "x" * 1001}, "text"),
        ({"rating": 5, "text": 12}, "text"),
        ({"rating": 5, "text": {"a": 1}}, "text"),
        ({"rating": 5, "store_id": 1}, "store_id"),
        ({"rating": 5, "customer_name": "Admin"}, "customer_name"),
        ([5], "body"),
        ("5", "body"),
    ]
    for payload, field in bad:
        body = assert_problem(
            await d.customer.post(review_path(order), json=payload), 400, "validation"
        )
        assert field in {e["field"] for e in body["errors"]}, (payload, body)
    assert_problem(
        await d.customer.post(
            review_path(order),
            content=b'{"rating": 5',
            headers={"Content-Type": "application/json"},
        ),
        400,
        "validation",
    )
    assert_problem(
        await d.customer.post(
            review_path(order),
            content=b"rating=5",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        ),
        415,
        "unsupported-media-type",
    )
    assert infra.query("SELECT COUNT(*) FROM reviews") == [(0,)]
    assert _store_totals(infra, d.shop.id) == (0, 0)
    assert infra.query("SELECT COUNT(*) FROM outbox_events WHERE type LIKE 'review.%%'") == [(0,)]

    # At the limit, in characters rather than bytes; blank text counts as none.
    text = "맛있어요 " * 199 + "최고예요!"
    assert len(text) == 1000
    taken = await d.customer.post(review_path(order), json={"rating": 5, "text": text})
    assert taken.status_code == 201, taken.text
    assert taken.json()["text"] == text
    assert infra.query("SELECT text FROM reviews") == [(text,)]
    other = await d.delivered_order()
    blank = await d.customer.post(review_path(other), json={"rating": 3, "text": "   "})
    assert blank.status_code == 201 and blank.json()["text"] is None


async def test_rating_is_the_mean_to_one_decimal_from_three_reviews_on_every_node(
    apps: AppPool, infra: Infra
) -> None:
    node_a, node_b = await apps.start(), await apps.start()
    d = await diner(*[await apps.client(node_a) for _ in range(3)])
    reader = await apps.client(node_b)
    page, listed = f"/api/stores/{d.shop.id}", "/api/stores?category=burger"

    async def shown() -> tuple[Any, Any, Any, Any]:
        store = (await reader.get(page)).json()
        [found] = [s for s in (await reader.get(listed)).json()["stores"] if s["id"] == d.shop.id]
        return store["rating"], store["review_count"], found["rating"], found["review_count"]

    assert await shown() == (None, 0, None, 0)
    # Node B has cached both reads; each review must show there at once all the same.
    assert (await reader.get(page)).headers["X-Cache"] == "hit"
    for rating, expected in ((5, (None, 1)), (4, (None, 2)), (4, (4.3, 3)), (1, (3.5, 4))):
        order = await d.delivered_order()
        response = await d.customer.post(review_path(order), json={"rating": rating})
        assert response.status_code == 201, response.text
        assert await shown() == (*expected, *expected)
    assert _store_totals(infra, d.shop.id) == (4, 14)


def test_the_mean_rounds_halves_up_in_whole_tenths() -> None:
    assert store_rating(0, 0) is None
    assert store_rating(10, 2) is None
    assert store_rating(15, 3) == 5.0
    assert store_rating(13, 3) == 4.3  # 4.333…
    assert store_rating(17, 4) == 4.3  # 4.25, a half: up
    assert store_rating(3, 3) == 1.0
    assert store_rating(2 * 10**6 + 1, 10**6) == 2.0  # 2.000001


async def test_a_store_pages_its_reviews_newest_first(
    api_factory: Callable[[], Any], infra: Infra
) -> None:
    d = await _diner(api_factory)
    made = []
    for rating in (1, 2, 3, 4, 5):
        order = await d.delivered_order()
        created = await d.customer.post(
            review_path(order), json={"rating": rating, "text": f"#{rating}"}
        )
        assert created.status_code == 201, created.text
        made.append(created.json())
    newest_first = [review["id"] for review in reversed(made)]
    anon = await api_factory()
    seen: list[int] = []
    before: int | None = None
    pages = 0
    while True:
        params: dict[str, Any] = {"limit": 2}
        if before is not None:
            params["before_id"] = before
        response = await anon.get(f"/api/stores/{d.shop.id}/reviews", params=params)
        assert response.status_code == 200, response.text
        page = response.json()
        assert len(page["reviews"]) <= 2
        seen += [review["id"] for review in page["reviews"]]
        pages += 1
        before = page["next_before_id"]
        if before is None:
            break
        assert before == page["reviews"][-1]["id"]
    assert seen == newest_first and pages == 3
    everything = (await anon.get(f"/api/stores/{d.shop.id}/reviews?limit=100")).json()
    assert [r["id"] for r in everything["reviews"]] == newest_first
    assert everything["next_before_id"] is None
    default = (await anon.get(f"/api/stores/{d.shop.id}/reviews")).json()
    assert len(default["reviews"]) == 5
    # A cursor below every review is an empty last page; one above all of them, the first.
    empty = (await anon.get(f"/api/stores/{d.shop.id}/reviews?before_id={min(seen)}")).json()
    assert empty == {"reviews": [], "next_before_id": None}
    top = (await anon.get(f"/api/stores/{d.shop.id}/reviews?before_id={10**12}&limit=1")).json()
    assert [r["id"] for r in top["reviews"]] == newest_first[:1]
    assert top["next_before_id"] == newest_first[0]

    for query in (
        "limit=0",
        "limit=101",
        "limit=-1",
        "limit=ten",
        "limit=1e3",
        "before_id=0",
        "before_id=-5",
        "before_id=abc",
        "sort=rating",
    ):
        assert_problem(
            await anon.get(f"/api/stores/{d.shop.id}/reviews?{query}"), 400, "validation"
        )
    assert_problem(
        await anon.get(f"/api/stores/{d.shop.id}/reviews?before_id={2**63}"), 404, "not-found"
    )
    assert_problem(await anon.get(f"/api/stores/{d.shop.id + 99}/reviews"), 404, "not-found")
    # Another store's reviews are its own.
    other = await api_factory()
    await other.sign_in_as("owner")
    from_other = await other.post(
        "/api/stores",
        json={
            "name": "Empty",
            "category": "cafe",
            "address": "2 Road",
            "lat": 37.5,
            "lng": 127.0,
            "phone": "02-555-1234",
            "min_order": 0,
            "delivery_fee": 0,
        },
    )
    empty_store = from_other.json()["id"]
    assert (await anon.get(f"/api/stores/{empty_store}/reviews")).json() == {
        "reviews": [],
        "next_before_id": None,
    }


async def test_the_owner_replies_once_and_the_reply_is_shown(apps: AppPool, infra: Infra) -> None:
    node_a, node_b = await apps.start(), await apps.start()
    d = await diner(*[await apps.client(node_a) for _ in range(3)])
    order = await d.delivered_order()
    review = (await d.customer.post(review_path(order), json={"rating": 2, "text": "Cold"})).json()
    reader = await apps.client(node_b)
    reviews = f"/api/stores/{d.shop.id}/reviews"
    assert (await reader.get(reviews)).json()["reviews"][0]["reply"] is None
    assert (await reader.get(reviews)).headers["X-Cache"] == "hit"

    path = f"/api/reviews/{review['id']}/reply"
    stranger_owner, stranger = await apps.client(node_b), await apps.client(node_b)
    await stranger_owner.sign_in_as("owner")
    await stranger.sign_in_as("customer")
    assert_problem(await stranger_owner.post(path, json={"text": "Hi"}), 403, "forbidden")
    assert_problem(await d.customer.post(path, json={"text": "Hi"}), 403, "forbidden")
    assert_problem(await stranger.post(path, json={"text": "Hi"}), 403, "forbidden")
    assert_problem(await d.rider.post(path, json={"text": "Hi"}), 403, "forbidden")
    assert_problem(await reader.post(path, json={"text": "Hi"}), 401, "unauthenticated")
    assert_problem(
        await d.owner.post(f"/api/reviews/{review['id'] + 50}/reply", json={"text": "Hi"}),
        404,
        "not-found",
    )
    for payload in (
        {},
        {"text": ""},
        {"text": "   "},
        {"text": "x" * 1001},
        {"text": None},
        {"text": 5},
        {"text": "ok", "rating": 5},
    ):
        assert_problem(await d.owner.post(path, json=payload), 400, "validation")
    assert infra.query("SELECT COUNT(*) FROM reviews WHERE reply_text IS NOT NULL") == [(0,)]

    replied = await d.owner.post(path, json={"text": "Sorry! Next one is on us."})
    assert replied.status_code == 200, replied.text
    body = replied.json()
    assert body["id"] == review["id"] and body["rating"] == 2 and body["text"] == "Cold"
    assert body["reply"]["text"] == "Sorry! Next one is on us."
    assert body["reply"]["created_at"].endswith("Z")
    assert (await reader.get(reviews)).json()["reviews"] == [body]

    again = await d.owner.post(path, json={"text": "Another thought"})
    assert_problem(again, 409, "already-replied")
    assert (await reader.get(reviews)).json()["reviews"] == [body]


async def test_reviews_and_replies_are_events_on_the_store_stream(
    api_factory: Callable[[], Any], infra: Infra
) -> None:
    d = await _diner(api_factory)
    order = await d.delivered_order()
    review = (await d.customer.post(review_path(order), json={"rating": 5, "text": "Great"})).json()
    replied = (
        await d.owner.post(f"/api/reviews/{review['id']}/reply", json={"text": "Thanks!"})
    ).json()
    rows = infra.query(
        "SELECT stream, seq, type, at, payload FROM outbox_events "
        "WHERE type LIKE 'review.%%' ORDER BY id"
    )
    assert [(r[0], r[2]) for r in rows] == [
        (f"store:{d.shop.id}", "review.created"),
        (f"store:{d.shop.id}", "review.replied"),
    ]
    [(order_events,)] = infra.query(
        "SELECT COUNT(*) FROM outbox_events WHERE stream = %s AND type LIKE 'order.%%'",
        f"store:{d.shop.id}",
    )
    # The store's stream stays gapless: the reviews take the next seqs after its orders'.
    assert [int(str(r[1])) for r in rows] == [
        int(str(order_events)) + 1,
        int(str(order_events)) + 2,
    ]
    payloads = [json.loads(str(r[4])) for r in rows]
    assert payloads == [review, replied]
    for stream, seq, kind, at, payload in rows:
        EVENT.validate_python(
            {"stream": stream, "seq": seq, "type": kind, "at": at, "data": json.loads(str(payload))}
        )
    # The order's own stream carries nothing of the review: its stream_seq still names its last.
    assert infra.query(
        "SELECT COUNT(*) FROM outbox_events WHERE stream = %s AND type LIKE 'review.%%'",
        f"order:{order['id']}",
    ) == [(0,)]
