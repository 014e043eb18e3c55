"""The zero-install mode (SQLite, in-process Redis stand-in) runs an order's whole life."""

from __future__ import annotations

from pathlib import Path

from tests.client import Api
from tests.embedded import embedded_app
from tests.realtime.flows import act, open_store, place_order


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
