"""Orders to a saved address, with a note for the kitchen and one for the rider."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from tests.client import Api, assert_problem
from tests.dispatch.helpers import go_on_shift, kitchen
from tests.harness import Infra
from tests.orders.helpers import CITY_HALL, Shop, new_key, order_body
from tests.waiting import wait_until

Factory = Callable[[], Awaitable[Api]]
FLAT = {
    "label": "Home",
    "text": "3F, 19 Eulji-ro, Jung-gu",
    "lat": 37.5662,
    "lng": 126.9812,
    "rider_note": "Gate code 4455, third floor",
}


def saved_body(shop: Shop, address_id: int, **extra: Any) -> dict[str, Any]:
    body = order_body(shop, address_id=address_id, **extra)
    del body["address"]
    return body


async def save(customer: Api, **fields: Any) -> dict[str, Any]:
    response = await customer.post("/api/me/addresses", json={**FLAT, **fields})
    assert response.status_code == 201, response.text
    saved: dict[str, Any] = response.json()
    return saved


async def test_an_order_to_a_saved_address_keeps_its_copy_and_both_notes(
    api_factory: Factory,
) -> None:
    k = await kitchen(await api_factory(), await api_factory())
    home = await save(k.customer)
    response = await k.customer.post(
        "/api/orders",
        json=saved_body(k.shop, home["id"], store_note="No onions, please"),
        headers={"Idempotency-Key": new_key()},
    )
    assert response.status_code == 201, response.text
    order = response.json()
    assert order["address"] == {"text": FLAT["text"], "lat": FLAT["lat"], "lng": FLAT["lng"]}
    assert order["store_note"] == "No onions, please"
    assert order["rider_note"] == "Gate code 4455, third floor"  # the address's, by default

    # Editing and then deleting the saved address leaves the order as it was.
    edited = await k.customer.patch(
        f"/api/me/addresses/{home['id']}", json={"text": "Elsewhere", "rider_note": "Call me"}
    )
    assert edited.status_code == 200
    assert (await k.customer.delete(f"/api/me/addresses/{home['id']}")).status_code == 204
    for reader in (k.customer, k.owner):
        fetched = await reader.get(f"/api/orders/{order['id']}")
        assert fetched.status_code == 200
        assert fetched.json() == order
    listed = (await k.owner.get(f"/api/orders?store_id={k.shop.id}")).json()["orders"]
    assert listed[0]["store_note"] == "No onions, please"


async def test_a_rider_note_sent_with_the_order_wins_and_an_empty_one_means_none(
    api_factory: Factory,
) -> None:
    k = await kitchen(await api_factory(), await api_factory())
    home = await save(k.customer)
    answers = []
    for note in ("Leave it with the concierge", ""):
        response = await k.customer.post(
            "/api/orders",
            json=saved_body(k.shop, home["id"], rider_note=note),
            headers={"Idempotency-Key": new_key()},
        )
        assert response.status_code == 201, response.text
        answers.append(response.json())
    assert answers[0]["rider_note"] == "Leave it with the concierge"
    assert answers[1]["rider_note"] is None
    assert answers[1]["store_note"] is None
    # A typed address carries the note sent, or none.
    typed = await k.customer.post(
        "/api/orders",
        json=order_body(k.shop, rider_note="  Knock softly  ", store_note="Extra napkins"),
        headers={"Idempotency-Key": new_key()},
    )
    assert typed.status_code == 201, typed.text
    assert typed.json()["rider_note"] == "Knock softly"
    assert typed.json()["store_note"] == "Extra napkins"
    assert typed.json()["address"] == CITY_HALL


async def test_bad_addresses_and_notes_are_refused_and_leave_nothing_behind(
    api_factory: Factory, infra: Infra
) -> None:
    k = await kitchen(await api_factory(), await api_factory())
    home = await save(k.customer)
    stranger = await api_factory()
    await stranger.sign_in_as("customer")
    theirs = await save(stranger, label="Theirs")
    key = new_key()
    cases: list[tuple[dict[str, Any], int, str, str]] = [
        (order_body(k.shop, address_id=home["id"]), 400, "validation", "address_id"),
        (
            {k: v for k, v in order_body(k.shop).items() if k != "address"},
            400,
            "validation",
            "address",
        ),
        (order_body(k.shop, store_note="x" * 201), 400, "validation", "store_note"),
        (order_body(k.shop, rider_note="x" * 201), 400, "validation", "rider_note"),
        (saved_body(k.shop, 0), 400, "validation", "address_id"),
        (saved_body(k.shop, theirs["id"]), 404, "not-found", ""),
        (saved_body(k.shop, home["id"] + 10_000), 404, "not-found", ""),
    ]
    for body, status, code, field in cases:
        refused = assert_problem(
            await k.customer.post("/api/orders", json=body, headers={"Idempotency-Key": key}),
            status,
            code,
        )
        if field:
            assert field in [e["field"] for e in refused["errors"]], refused
    assert infra.query("SELECT COUNT(*) FROM orders") == [(0,)]
    assert infra.query("SELECT COUNT(*) FROM sandbox_charges") == [(0,)]
    # None of them held the key: it still places an order.
    placed = await k.customer.post(
        "/api/orders", json=saved_body(k.shop, home["id"]), headers={"Idempotency-Key": key}
    )
    assert placed.status_code == 201, placed.text


async def test_the_key_covers_the_saved_address_and_the_notes(
    api_factory: Factory, infra: Infra
) -> None:
    k = await kitchen(await api_factory(), await api_factory())
    home, work = await save(k.customer), await save(k.customer, label="Work", text="Work place")
    key = new_key()
    body = saved_body(k.shop, home["id"], store_note="Mild", rider_note="Call on arrival")
    first = await k.customer.post("/api/orders", json=body, headers={"Idempotency-Key": key})
    assert first.status_code == 201, first.text
    # The saved address changing afterwards does not change the answer to a retry.
    await k.customer.patch(f"/api/me/addresses/{home['id']}", json={"text": "Moved"})
    again = await k.customer.post("/api/orders", json=body, headers={"Idempotency-Key": key})
    assert again.status_code == 201 and again.json() == first.json()
    for changed in (
        {**body, "store_note": "Spicy"},
        {**body, "rider_note": "Do not call"},
        {**body, "address_id": work["id"]},
        {k_: v for k_, v in body.items() if k_ != "store_note"},
    ):
        assert_problem(
            await k.customer.post("/api/orders", json=changed, headers={"Idempotency-Key": key}),
            422,
            "idempotency-mismatch",
        )
    assert infra.query("SELECT COUNT(*) FROM orders") == [(1,)]
    assert infra.query("SELECT COUNT(*) FROM sandbox_charges") == [(1,)]


async def test_the_rider_sees_the_note_once_assigned_and_never_in_an_offer(
    api_factory: Factory, infra: Infra
) -> None:
    k = await kitchen(await api_factory(), await api_factory())
    home = await save(k.customer)
    rider = await api_factory()
    await rider.sign_in_as("rider")
    await go_on_shift(rider, 0.3)
    placed = await k.customer.post(
        "/api/orders",
        json=saved_body(k.shop, home["id"], store_note="No onions"),
        headers={"Idempotency-Key": new_key()},
    )
    order_id = placed.json()["id"]
    accepted = await k.owner.post(f"/api/orders/{order_id}/accept", json={"prep_minutes": 10})
    assert accepted.status_code == 200 and accepted.json()["store_note"] == "No onions"

    async def offered() -> list[dict[str, Any]]:
        offers: list[dict[str, Any]] = (await rider.get("/api/dispatch/offers")).json()["offers"]
        return offers

    await wait_until(offered, what="the offer")
    [offer] = await offered()
    assert offer["order_id"] == order_id
    assert "rider_note" not in json.dumps(offer)
    assert "Gate code" not in json.dumps(offer)
    [(payload,)] = infra.query(
        "SELECT payload FROM outbox_events WHERE type = 'offer.created' AND stream = %s",
        f"rider:{rider.user['id'] if rider.user else 0}",
    )
    assert "Gate code" not in str(payload) and "rider_note" not in str(payload)
    # Before taking the order, the rider may not read it at all.
    assert_problem(await rider.get(f"/api/orders/{order_id}"), 404, "not-found")
    assert (await rider.get("/api/orders")).json()["orders"] == []

    taken = await rider.post(f"/api/dispatch/offers/{order_id}/accept")
    assert taken.status_code == 200, taken.text
    assert taken.json()["rider_note"] == FLAT["rider_note"]
    assert taken.json()["address"]["text"] == FLAT["text"]
    seen = (await rider.get(f"/api/orders/{order_id}")).json()
    assert seen["rider_note"] == FLAT["rider_note"] and seen["store_note"] == "No onions"
    # The assignment event on the rider's own stream carries the note too.
    rows = infra.query(
        "SELECT payload FROM outbox_events WHERE type = 'order.rider_assigned' AND stream = %s",
        f"rider:{rider.user['id'] if rider.user else 0}",
    )
    assert rows and json.loads(str(rows[-1][0]))["rider_note"] == FLAT["rider_note"]
