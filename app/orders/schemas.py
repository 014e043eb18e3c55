"""Request and response shapes of orders."""

from __future__ import annotations

import re
from datetime import date
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import (
    Field,
    PlainValidator,
    StrictInt,
    StringConstraints,
    WithJsonSchema,
    model_validator,
)
from pydantic_core import PydanticCustomError

from app.catalog.schemas import OptionOut
from app.orders.lifecycle import DispatchState, Status
from app.payments.models import PaymentStatus
from app.responses import Out, Timestamp
from app.validation import Id, Partial, Schema, explained

NOTE_MAX = 200
CardNumber = Annotated[
    str, StringConstraints(pattern=r"^\d{16}$"), explained("Card number must be 16 digits.")
]


class OrderLine(Schema):
    menu_item_id: Id
    quantity: int = Field(ge=1, le=99)
    option_ids: list[Id] = Field(default_factory=list, max_length=20)


class Address(Schema):
    text: str = Field(min_length=1, max_length=300)
    lat: float = Field(ge=-90, le=90)
    lng: float = Field(ge=-180, le=180)


class CardPayment(Schema):
    method: Literal["card"]
    card_number: CardNumber


class PointsPayment(Schema):
    method: Literal["points"]


class PlaceOrderRequest(Schema):
    store_id: Id
    items: list[OrderLine] = Field(min_length=1, max_length=50)
    address: Address | None = Field(
        default=None, description="Where to deliver; or send `address_id` instead."
    )
    payment: CardPayment | PointsPayment = Field(discriminator="method")
    use_points: int = Field(default=0, ge=0, le=100_000_000)
    coupon_id: Id | None = None
    address_id: Id | None = Field(
        default=None, description="A saved address of the caller's, instead of `address`."
    )
    store_note: str | None = Field(
        default=None, max_length=NOTE_MAX, description="A request for the kitchen."
    )
    rider_note: str | None = Field(
        default=None,
        max_length=NOTE_MAX,
        description="A request for the rider; defaults to the saved address's note.",
    )


class AcceptRequest(Schema):
    prep_minutes: int = Field(ge=5, le=90)


class DelayRequest(Schema):
    minutes: int = Field(ge=5, le=60)


class ReasonRequest(Schema):
    reason: str = Field(default="", max_length=300)


class EmptyRequest(Schema):
    pass


class OrderListQuery(Partial):
    store_id: Id | None = None
    limit: int = Field(default=50, ge=1, le=200)


class OrderLineOut(Out):
    """A line with the name, prices and options as they were when ordered."""

    menu_item_id: int
    name: str
    price: int = Field(description="Won, the item without options.")
    quantity: int
    options: list[OptionOut]
    line_total: int = Field(description="Won: (price + options) × quantity.")


class PaymentMethod(StrEnum):
    CARD = "card"
    POINTS = "points"


class PaymentOut(Out):
    """How the order was paid."""

    method: PaymentMethod
    status: PaymentStatus
    reference: str


class AddressOut(Out):
    """Where the order goes."""

    text: str
    lat: float
    lng: float


class RiderOut(Out):
    """The assigned rider and the last position they shared (null until they share one)."""

    id: int
    name: str
    lat: float | None
    lng: float | None


class TimelineEntryOut(Out):
    """When the order reached a status."""

    status: Status
    at: Timestamp


class RefundLineOut(Out):
    """Part of an order line given back: how many, at the unit price paid (options included)."""

    menu_item_id: int
    name: str = Field(description="The item's name as it was ordered.")
    quantity: int
    amount: int = Field(description="Won: unit price with options × quantity.")


class RefundOut(Out):
    """A refund of part of an order. Points paid go back first, then money to the card."""

    id: int
    amount: int = Field(description="Won given back in all: `points` + `card`.")
    points: int = Field(description="Points restored to the customer's usable balance.")
    card: int = Field(description="Won refunded to the card.")
    lines: list[RefundLineOut] | None = Field(
        description="The lines given back; null for a refund of an amount."
    )
    reason: str
    at: Timestamp


class OrderOut(Out):
    """An order, as the REST API and its events show it."""

    id: int
    customer_id: int
    store_id: int
    store_name: str = Field(description="The store's name as it is now.")
    status: Status
    items: list[OrderLineOut]
    subtotal: int = Field(description="Won: the sum of the lines.")
    delivery_fee: int = Field(description="Won.")
    coupon_discount: int = Field(description="Won.")
    points_used: int = Field(description="Points (1 point = 1 won).")
    total: int = Field(description="Won: subtotal + delivery fee − coupon discount.")
    paid_amount: int = Field(description="Won charged to the card: total − points used.")
    payment: PaymentOut | None
    address: AddressOut
    rider: RiderOut | None
    dispatch: DispatchState = Field(description="Where the search for a rider stands.")
    prep_minutes: int | None = Field(description="Set when the store accepts.")
    reason: str | None = Field(description="Why it was rejected or cancelled, when given.")
    timeline: list[TimelineEntryOut]
    created_at: Timestamp
    stream_seq: int = Field(
        description="The last seq of the `order:{id}` stream: subscribe with this `after_seq`."
    )
    store_note: str | None = Field(description="The customer's request for the kitchen.")
    rider_note: str | None = Field(
        description="The customer's request for the rider (a rider sees orders once assigned)."
    )
    accept_by: Timestamp | None = Field(
        description="While `placed`: when the store's time to answer ends (then it is rejected "
        "by itself, with a refund); null in every other status."
    )
    eta: Timestamp | None = Field(
        description="When the food should arrive: set when the store accepts, moved by a "
        "delay, the rider's assignment and the pickup; null before acceptance and once "
        "rejected or cancelled."
    )
    eta_minutes: int | None = Field(
        ge=0,
        description="Whole minutes from the moment this was read until `eta`, rounded up; "
        "0 once due or delivered; null when `eta` is.",
    )
    ready_by: Timestamp | None = Field(
        description="When the kitchen expects the food ready (set when accepted, moved by "
        "delays); null before acceptance and once rejected or cancelled."
    )
    delay_minutes: int = Field(
        ge=0, description="Minutes the store pushed the kitchen's time back, in all."
    )
    refunded_amount: int = Field(
        ge=0,
        description="Won given back (card and points): the sum of `refunds`; once rejected or "
        "cancelled, the whole of what was paid (`total`).",
    )
    refunds: list[RefundOut] = Field(description="Refunds of part of the order, oldest first.")


class OrderListOut(Out):
    """The caller's orders, newest first."""

    orders: list[OrderOut]


class ReorderLineOut(Out):
    """A line of the cart to review: an item still on the menu, with the options still offered."""

    menu_item_id: int
    quantity: int
    option_ids: list[int]


class UnavailableLineOut(Out):
    """A line of the earlier order that cannot be ordered again, and why."""

    name: str = Field(description="The item's name as it was ordered.")
    why: str = Field(description="For people: sold out, no longer on the menu, an option gone.")


class ReorderOut(Out):
    """A cart filled from an earlier order, to review and check out; no order is placed."""

    store_id: int
    items: list[ReorderLineOut]
    unavailable: list[UnavailableLineOut]


class OrderDelayedOut(OrderOut):
    """An `order.delayed` event's data: the order, with the delay that moved its `eta`."""

    minutes: int = Field(description="This delay's minutes (`delay_minutes` holds them all).")


class OrderRefundedOut(OrderOut):
    """An `order.refunded` event's data: the order after the refund, and the refund."""

    refund: RefundOut | None = Field(
        description="This refund of part of the order; null when the order was rejected or "
        "cancelled and everything paid went back."
    )


MAX_REFUND = 10_000_000


class RefundLineIn(Schema):
    menu_item_id: Id
    quantity: int = Field(ge=1, le=99)


class RefundRequest(Schema):
    """`POST /api/orders/{id}/refunds`: lines of the order, or an amount; exactly one."""

    lines: list[RefundLineIn] | None = Field(
        default=None,
        min_length=1,
        max_length=50,
        description="Items to give back, each at the unit price paid (options included).",
    )
    amount: Annotated[StrictInt, Field(ge=1, le=MAX_REFUND)] | None = Field(
        default=None, description="Won to give back, when not by lines."
    )
    reason: str = Field(min_length=1, max_length=300, description="Why, for the customer.")

    @model_validator(mode="after")
    def _one_of(self) -> RefundRequest:
        if (self.lines is None) == (self.amount is None):
            raise ValueError(
                "Refund either lines of the order or an amount, not both"
                if self.lines is not None
                else "Say what to refund: lines of the order, or an amount"
            )
        if self.lines is not None:
            ids = [line.menu_item_id for line in self.lines]
            if len(set(ids)) != len(ids):
                raise ValueError("List each item once, with the quantity to refund")
        return self


class QuotePayment(Schema):
    """How the order would be paid: by card (the number is not needed) or with points alone."""

    method: PaymentMethod
    card_number: str | None = Field(
        default=None, max_length=32, description="Ignored: a quote charges nothing."
    )


class QuoteRequest(Schema):
    """The body `POST /api/orders` takes, without the need for a payment or an address: what
    the order would cost, priced exactly as placing it would."""

    store_id: Id
    items: list[OrderLine] = Field(min_length=1, max_length=50)
    payment: QuotePayment | None = Field(
        default=None, description="Left out: by card. `points` pays the whole total in points."
    )
    use_points: int = Field(default=0, ge=0, le=100_000_000)
    coupon_id: Id | None = None
    address: Address | None = Field(
        default=None,
        description="Where it would go: the delivery fee is the store's for the distance "
        "(409 `out-of-range` beyond its radius). Left out (and no `address_id`): the fee of "
        "the store's first tier.",
    )
    address_id: Id | None = Field(
        default=None, description="A saved address of the caller's, instead of `address`."
    )
    store_note: str | None = Field(
        default=None, max_length=NOTE_MAX, description="Accepted and not used."
    )
    rider_note: str | None = Field(
        default=None, max_length=NOTE_MAX, description="Accepted and not used."
    )


class QuoteOut(Out):
    """What the order would cost now, as `POST /api/orders` would record and charge it."""

    subtotal: int = Field(description="Won: the sum of the lines at the menu's prices.")
    delivery_fee: int = Field(description="Won.")
    coupon_discount: int = Field(description="Won: the coupon's discount, at most the subtotal.")
    points_used: int = Field(description="Points (1 point = 1 won).")
    total: int = Field(description="Won: subtotal + delivery fee − coupon discount.")
    paid_amount: int = Field(description="Won the card would be charged: total − points used.")


# Settlements start no earlier than this and end no later than that: every day between maps to
# UTC instants the database can hold, whatever the store's zone.
SETTLEMENT_FIRST_DAY = date(2000, 1, 1)
SETTLEMENT_LAST_DAY = date(2999, 12, 31)


def _settlement_day(value: object) -> date:
    if not isinstance(value, str) or not _DAY.match(value):
        raise PydanticCustomError("date_parsing", "must be a date, like 2026-01-31")
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise PydanticCustomError(
            "day_unknown", "must be a day of the calendar ({value} is not)", {"value": value}
        ) from None
    if not SETTLEMENT_FIRST_DAY <= day <= SETTLEMENT_LAST_DAY:
        raise PydanticCustomError(
            "day_out_of_range",
            "must be a day from {first} to {last}",
            {"first": SETTLEMENT_FIRST_DAY.isoformat(), "last": SETTLEMENT_LAST_DAY.isoformat()},
        )
    return day


_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
SettlementDay = Annotated[
    date,
    PlainValidator(_settlement_day, json_schema_input_type=str),
    WithJsonSchema({"type": "string", "format": "date"}),
]


class SettlementQuery(Partial):
    """GET /api/stores/{id}/settlement: the days, in the store's time zone, both included."""

    from_: SettlementDay | None = Field(
        default=None,
        alias="from",
        description="First day (`YYYY-MM-DD`, the store's zone); omitted: the first of `to`'s "
        "month.",
    )
    to: SettlementDay | None = Field(
        default=None, description="Last day, included; omitted: today in the store's zone."
    )


class SettlementDayOut(Out):
    """One day's delivered orders and what they come to."""

    date: str = Field(description="The day (`YYYY-MM-DD`) in the store's time zone.")
    orders: int = Field(description="Orders delivered that day.")
    gross: int = Field(description="Won: the sum of those orders' `total`.")
    refunds: int = Field(description="Won: the part refunds of those orders.")
    commission: int = Field(
        description="Won: the commission rate × (gross − refunds), rounded half up to the won."
    )
    payout: int = Field(description="Won: gross − refunds − commission.")


class SettlementOut(Out):
    """What the store's delivered orders come to over a range of days (docs/api.md)."""

    store_id: int
    first_day: str = Field(description="The range's first day (`YYYY-MM-DD`, the store's zone).")
    last_day: str = Field(description="Its last day, included.")
    timezone: str = Field(description="The store's IANA time zone the days are counted in.")
    commission_percent: float = Field(description="The platform's commission rate, percent.")
    orders: int = Field(description="Orders delivered in the range.")
    gross: int = Field(description="Won: the days' gross added up.")
    refunds: int = Field(description="Won: the days' refunds added up.")
    commission: int = Field(description="Won: the days' commissions added up.")
    payout: int = Field(description="Won: gross − refunds − commission.")
    days: list[SettlementDayOut] = Field(
        description="The days with at least one delivered order, oldest first (days with none "
        "are left out)."
    )
