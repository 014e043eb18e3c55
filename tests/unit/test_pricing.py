"""Order pricing from the catalog's rows: line totals with options, subtotal, minimum, fee."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from app.errors import Conflict, ValidationFailed
from app.orders.pricing import Amounts, ItemRow, OptionRow, Priced, StoreRow, price_order, settle
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
        {
            "field": f"items[{i}].menu_item_id",
            "message": f"Line {i + 1} is not on this store's menu.",
            "type": "not_on_menu",
        }
        for i in (1, 2, 3)
    ]


def test_options_must_be_the_items_own_and_chosen_once() -> None:
    with pytest.raises(ValidationFailed) as unknown:
        price_order(store(), MENU, request((10, 2, [100, 999, 998])))
    assert unknown.value.errors == [
        {
            "field": "items[0].option_ids",
            "message": "Options [998, 999] of line 1 are not choices of Bibimbap.",
            "type": "not_an_option",
        }
    ]
    with pytest.raises(ValidationFailed) as repeated:
        price_order(store(), MENU, request((10, 2, [100, 100])))
    assert repeated.value.errors == [
        {
            "field": "items[0].option_ids",
            "message": "An option of Bibimbap may be chosen once.",
            "type": "option_repeated",
        }
    ]
    # Another item's option is not a choice of this one.
    with pytest.raises(ValidationFailed) as foreign:
        price_order(store(), MENU, request((11, 3, [101])))
    assert foreign.value.errors == [
        {
            "field": "items[0].option_ids",
            "message": "Options [101] of line 1 are not choices of Kimbap.",
            "type": "not_an_option",
        }
    ]


def test_a_coupon_above_the_subtotal_leaves_the_delivery_fee_to_pay() -> None:
    # ₩13,000 of food, a ₩3,000 fee and a ₩13,000 discount (a ₩50,000 coupon capped at the
    # subtotal): the card pays the fee.
    amounts = settle(
        Priced(subtotal=13_000, delivery_fee=3_000),
        coupon_discount=13_000,
        use_points=0,
        all_in_points=False,
    )
    assert amounts == Amounts(
        subtotal=13_000,
        delivery_fee=3_000,
        coupon_discount=13_000,
        points_used=0,
        total=3_000,
        paid_amount=3_000,
    )


def test_points_pay_part_or_with_points_alone_all_of_the_total() -> None:
    priced = Priced(subtotal=12_000, delivery_fee=3_000)
    part = settle(priced, coupon_discount=2_000, use_points=4_000, all_in_points=False)
    assert (part.total, part.points_used, part.paid_amount) == (13_000, 4_000, 9_000)
    whole = settle(priced, coupon_discount=2_000, use_points=0, all_in_points=True)
    assert (whole.total, whole.points_used, whole.paid_amount) == (13_000, 13_000, 0)


def test_points_above_the_total_are_refused_in_a_sentence() -> None:
    priced = Priced(subtotal=12_000, delivery_fee=3_000)
    with pytest.raises(ValidationFailed) as refused:
        settle(priced, coupon_discount=0, use_points=15_001, all_in_points=False)
    assert refused.value.detail == "Points can pay at most ₩15,000 of this order."
    assert refused.value.errors == [
        {
            "field": "use_points",
            "message": "Points can pay at most 15,000 of this order.",
            "type": "less_than_equal",
        }
    ]
    with pytest.raises(ValidationFailed) as partial:
        settle(priced, coupon_discount=0, use_points=100, all_in_points=True)
    assert partial.value.errors is not None
    assert partial.value.errors[0]["field"] == "use_points"
