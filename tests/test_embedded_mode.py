"""The zero-install mode (SQLite, in-process Redis stand-in) runs an order's whole life."""

from __future__ import annotations

from pathlib import Path

from tests.client import Api
from tests.dispatch.helpers import go_on_shift
from tests.embedded import embedded_app
from tests.orders.helpers import open_shop, place
from tests.realtime.flows import act, open_store, place_order
from tests.reviews.helpers import deliver
from tests.waiting import wait_until


async def test_an_order_placed_and_accepted_in_embedded_mode_numbers_its_streams_gaplessly(
    tmp_path: Path,
) -> None:
    async with (
        embedded_app(tmp_path) as embedded,
        embedded.client() as owner_http,
        embedded.client() as customer_http,
    ):
        owner, customer = Api(owner_http), Api(customer_http)
        await owner.sign_in_as("owner")
        await customer.sign_in_as("customer")
        store_id, item_id = await open_store(owner)
        first = await place_order(customer, store_id=store_id, item_id=item_id)
        second = await place_order(customer, store_id=store_id, item_id=item_id)
        accepted = await act(owner, first["id"], "accept", {"prep_minutes": 10})
        board = (await owner.get(f"/api/orders?store_id={store_id}")).json()["orders"]
    # Each order's own stream starts at 1 and counts its changes; the store stream counts all.
    assert (first["stream_seq"], second["stream_seq"], accepted["stream_seq"]) == (1, 1, 2)
    assert {o["id"]: o["status"] for o in board} == {
        first["id"]: "accepted",
        second["id"]: "placed",
    }


async def test_the_batch_dispatcher_offers_and_assigns_in_embedded_mode(tmp_path: Path) -> None:
    async with (
        embedded_app(tmp_path, dispatch_strategy="batch", dispatch_batch_seconds=0.1) as embedded,
        embedded.client() as owner_http,
        embedded.client() as customer_http,
        embedded.client() as rider_http,
    ):
        owner, customer, rider = Api(owner_http), Api(customer_http), Api(rider_http)
        await owner.sign_in_as("owner")
        await customer.sign_in_as("customer")
        await rider.sign_in_as("rider")
        store_id, item_id = await open_store(owner)
        store = (await owner.get(f"/api/stores/{store_id}")).json()
        shift = {"online": True, "lat": store["lat"] + 0.005, "lng": store["lng"]}
        assert (await rider.put("/api/riders/me/shift", json=shift)).status_code == 200
        order = await place_order(customer, store_id=store_id, item_id=item_id)
        await act(owner, order["id"], "accept", {"prep_minutes": 10})

        async def offered() -> list[dict[str, object]]:
            offers: list[dict[str, object]] = (await rider.get("/api/dispatch/offers")).json()[
                "offers"
            ]
            return offers

        [offer] = await wait_until(offered, what="the batch's offer")
        taken = await rider.post(f"/api/dispatch/offers/{order['id']}/accept")
    assert offer["order_id"] == order["id"]
    assert taken.status_code == 200, taken.text
    assert taken.json()["dispatch"] == "assigned"


async def test_a_delivery_in_embedded_mode_is_earned_at_the_offered_fee(tmp_path: Path) -> None:
    async with (
        embedded_app(tmp_path) as embedded,
        embedded.client() as owner_http,
        embedded.client() as customer_http,
        embedded.client() as rider_http,
    ):
        owner, customer, rider = Api(owner_http), Api(customer_http), Api(rider_http)
        await owner.sign_in_as("owner")
        await customer.sign_in_as("customer")
        await rider.sign_in_as("rider")
        shift = await rider.put(
            "/api/riders/me/shift", json={"online": True, "lat": 37.5655, "lng": 126.9779}
        )
        assert shift.status_code == 200, shift.text
        store_id, item_id = await open_store(owner)
        order = await place_order(customer, store_id=store_id, item_id=item_id)
        await act(owner, order["id"], "accept", {"prep_minutes": 10})

        async def offers() -> list[dict[str, object]]:
            listed: list[dict[str, object]] = (await rider.get("/api/dispatch/offers")).json()[
                "offers"
            ]
            return listed

        await wait_until(offers, what="the offer")
        [offer] = await offers()
        assert offer["dropoff"] == {"lat": 37.57, "lng": 126.98}
        taken = await rider.post(f"/api/dispatch/offers/{order['id']}/accept")
        assert taken.status_code == 200, taken.text
        await act(owner, order["id"], "ready")
        await act(rider, order["id"], "pickup")
        await act(rider, order["id"], "deliver")
        earnings = (await rider.get("/api/riders/me/earnings")).json()
    assert earnings["total"] == offer["fee"] and earnings["deliveries"] == 1
    assert [e["order_id"] for e in earnings["entries"]] == [order["id"]]


async def test_a_stores_settlement_counts_its_delivered_order_in_embedded_mode(
    tmp_path: Path,
) -> None:
    async with (
        embedded_app(tmp_path) as embedded,
        embedded.client() as owner_http,
        embedded.client() as customer_http,
        embedded.client() as rider_http,
    ):
        owner, customer, rider = Api(owner_http), Api(customer_http), Api(rider_http)
        await owner.sign_in_as("owner")
        await customer.sign_in_as("customer")
        await rider.sign_in_as("rider")
        shop = await open_shop(owner)
        await go_on_shift(rider)
        order = await deliver(await place(customer, shop), owner, rider)
        refunded = await owner.post(
            f"/api/orders/{order['id']}/refunds", json={"amount": 1_000, "reason": "Cold."}
        )
        assert refunded.status_code == 201, refunded.text
        report = (await owner.get(f"/api/stores/{shop.id}/settlement")).json()
    # 6.8 % of 22,000 is 1,496.
    assert [(d["orders"], d["gross"], d["refunds"], d["commission"]) for d in report["days"]] == [
        (1, order["total"], 1_000, 1_496)
    ]
    assert report["payout"] == order["total"] - 1_000 - 1_496
