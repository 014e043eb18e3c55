"""Order pricing from the catalog's rows: line totals with options, subtotal, minimum, fee."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from app.errors import Conflict, ValidationFailed
from app.orders.pricing import ItemRow, OptionRow, StoreRow, price_order
from app.orders.schemas import PlaceOrderRequest

STORE_ID = 1


def store(**overrides: Any) -> StoreRow:
    """An open store with a ₩12,000 minimum and a ₩3,000 delivery fee."""
    values: dict[str, Any] = {
        "id": STORE_ID,
        "name": "Seoul Kimbap",
        "open": True,
        "min_order": 12_000,
        "delivery_fee": 3_000,
    }
    return StoreRow(**{**values, **overrides})


def item(item_id: int, price: int, *options: tuple[int, str, int], **overrides: Any) -> ItemRow:
    """A menu item of the store with `options` as (id, name, price)."""
    values: dict[str, Any] = {
        "id": item_id,
        "store_id": STORE_ID,
        "name": f"Item {item_id}",
        "price": price,
        "sold_out": False,
        "deleted_at": None,
        "options": [OptionRow(id=oid, name=name, price=p) for oid, name, p in options],
    }
    return ItemRow(**{**values, **overrides})


BIBIMBAP = item(10, 9_000, (100, "Extra egg", 1_000), (101, "Large", 2_000), name="Bibimbap")
KIMBAP = item(11, 4_500, name="Kimbap")
MENU = {10: BIBIMBAP, 11: KIMBAP}


def request(*lines: tuple[int, int, list[int]]) -> PlaceOrderRequest:
    """An order for the store with `lines` as (menu item id, quantity, option ids)."""
    return PlaceOrderRequest.model_validate(
        {
            "store_id": STORE_ID,
            "items": [
                {"menu_item_id": i, "quantity": q, "option_ids": options} for i, q, options in lines
            ],
            "address": {"text": "1 Sejong-daero", "lat": 37.56, "lng": 126.97},
            "payment": {"method": "card", "card_number": "4242424242424242"},
        }
    )


def test_a_line_costs_its_price_and_options_times_its_quantity() -> None:
    priced = price_order(store(), MENU, request((10, 2, [101, 100]), (11, 3, [])))
    bibimbap, kimbap = priced.lines
    assert bibimbap["line_total"] == (9_000 + 2_000 + 1_000) * 2
    assert kimbap["line_total"] == 4_500 * 3
    # The line keeps the base price and a copy of the chosen options, in the order chosen.
    assert (bibimbap["menu_item_id"], bibimbap["name"], bibimbap["price"]) == (
        10,
        "Bibimbap",
        9_000,
    )
    assert bibimbap["quantity"] == 2
    assert json.loads(bibimbap["options_json"]) == [
        {"id": 101, "name": "Large", "price": 2_000},
        {"id": 100, "name": "Extra egg", "price": 1_000},
    ]
    assert json.loads(kimbap["options_json"]) == []


def test_the_subtotal_is_the_sum_of_the_lines_and_the_fee_is_the_stores() -> None:
    priced = price_order(store(), MENU, request((10, 1, [100]), (11, 2, []), (10, 1, [])))
    assert (
        priced.subtotal
        == 10_000 + 9_000 + 9_000
        == sum(line["line_total"] for line in priced.lines)
    )
    assert priced.delivery_fee == 3_000
    assert price_order(store(delivery_fee=0), MENU, request((10, 2, []))).delivery_fee == 0


def test_the_minimum_order_counts_the_subtotal_without_the_fee() -> None:
    exactly = price_order(store(min_order=18_000), MENU, request((10, 2, [])))
    assert exactly.subtotal == 18_000
    with pytest.raises(ValidationFailed) as below:
        price_order(store(min_order=18_001), MENU, request((10, 2, [])))
    assert below.value.code == "below-minimum-order"
    assert below.value.detail == "The minimum order at Seoul Kimbap is ₩18,001."


def test_a_closed_store_takes_no_order() -> None:
    with pytest.raises(Conflict) as closed:
        price_order(store(open=False), MENU, request((10, 2, [])))
    assert (closed.value.status, closed.value.code) == (409, "store-closed")


def test_a_sold_out_item_is_refused() -> None:
    sold_out = {**MENU, 11: item(11, 4_500, sold_out=True, name="Kimbap")}
    with pytest.raises(Conflict) as refused:
        price_order(store(), sold_out, request((10, 2, []), (11, 1, [])))
    assert refused.value.code == "item-unavailable"
    assert refused.value.detail == "Kimbap is sold out."


def test_lines_not_on_this_stores_menu_are_each_named() -> None:
    elsewhere = item(12, 1_000, store_id=STORE_ID + 1)
    deleted = item(13, 1_000, deleted_at=datetime(2024, 1, 1, tzinfo=UTC))
    menu = {**MENU, 12: elsewhere, 13: deleted}
    with pytest.raises(ValidationFailed) as refused:
        price_order(store(), menu, request((10, 2, []), (12, 1, []), (13, 1, []), (99, 1, [])))
    assert refused.value.code == "validation"
    assert refused.value.errors == [
        {"field": f"items[{i}].menu_item_id", "message": "not on this store's menu"}
        for i in (1, 2, 3)
    ]


def test_options_must_be_the_items_own_and_chosen_once() -> None:
    with pytest.raises(ValidationFailed) as unknown:
        price_order(store(), MENU, request((10, 2, [100, 999, 998])))
    assert unknown.value.errors == [
        {
            "field": "items[0].option_ids",
            "message": "options [998, 999] are not choices of this item",
        }
    ]
    with pytest.raises(ValidationFailed) as repeated:
        price_order(store(), MENU, request((10, 2, [100, 100])))
    assert repeated.value.errors == [
        {"field": "items[0].option_ids", "message": "an option may be chosen once"}
    ]
    # Another item's option is not a choice of this one.
    with pytest.raises(ValidationFailed) as foreign:
        price_order(store(), MENU, request((11, 3, [101])))
    assert foreign.value.errors == [
        {"field": "items[0].option_ids", "message": "options [101] are not choices of this item"}
    ]
