"""The shapes of the Socket.IO protocol: the acks, the event envelope and each event's data,
and the `location` message (docs/events.md describes the protocol around them)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field
from pydantic.json_schema import SkipJsonSchema

from app.catalog.schemas import ItemOut, StoreOut
from app.orders.schemas import OrderDelayedOut, OrderOut, OrderRefundedOut
from app.responses import Out, Timestamp, omitted_when_absent
from app.reviews.schemas import ReviewOut
from dispatch.schemas import OfferOut, OfferWithdrawnOut

OrderEventType = Literal[
    "order.placed",
    "order.accepted",
    "order.rejected",
    "order.ready",
    "order.rider_assigned",
    "order.rider_released",
    "order.picked_up",
    "order.delivered",
    "order.cancelled",
]
Seq = Annotated[int, Field(ge=1, description="Per stream: 1, 2, 3, … with no gap.")]
# Why a subscription is refused, revoked, or a connection refused.
RefusalCode = Literal["forbidden", "not-found", "validation", "unauthenticated", "unavailable"]
RevocationCode = Literal["forbidden", "not-found", "unavailable"]
ConnectRefusalCode = Literal["unauthenticated", "unavailable"]
STREAM = Field(
    description="`order:{id}`, `store:{id}`, `rider:{id}` or `store-public:{id}`",
    pattern=r"^(order|store|rider|store-public):[1-9][0-9]*$",
)
# What a socket may follow: a stream above, or the operators' `ops` (which has no events of
# its own: it hands on those of the store streams).
FOLLOWED = Field(
    description="`order:{id}`, `store:{id}`, `rider:{id}`, `store-public:{id}` or `ops`",
    pattern=r"^(ops|(order|store|rider|store-public):[1-9][0-9]*)$",
)
StoreEventType = Literal[
    "store.opened",
    "store.closed",
    "store.paused",
    "store.resumed",
    "store.hours_changed",
    "store.suspended",
    "store.unsuspended",
]


class OrderEvent(Out):
    """An order changed; `data` is the order as `GET /api/orders/{id}` shows it after the
    change."""

    stream: str = STREAM
    seq: Seq
    type: OrderEventType
    at: Timestamp
    data: OrderOut


class OrderDelayedEvent(Out):
    """The store needs more time; `data` is the order with its moved `eta`, and `minutes`, this
    delay's."""

    stream: str = STREAM
    seq: Seq
    type: Literal["order.delayed"]
    at: Timestamp
    data: OrderDelayedOut


class OrderRefundedEvent(Out):
    """Money went back to the customer: `data` is the order after it, with `refund`, the refund
    of part of the order (null when a rejection or cancellation gave back everything)."""

    stream: str = STREAM
    seq: Seq
    type: Literal["order.refunded"]
    at: Timestamp
    data: OrderRefundedOut


class OfferCreatedEvent(Out):
    """An order is offered to this rider (on `rider:{id}`)."""

    stream: str = STREAM
    seq: Seq
    type: Literal["offer.created"]
    at: Timestamp
    data: OfferOut


class OfferWithdrawnEvent(Out):
    """An offer to this rider is closed (on `rider:{id}`)."""

    stream: str = STREAM
    seq: Seq
    type: Literal["offer.withdrawn"]
    at: Timestamp
    data: OfferWithdrawnOut


class ReviewEvent(Out):
    """A review of one of the store's orders was written or answered (on `store:{id}`); `data`
    is the review as `GET /api/stores/{id}/reviews` lists it."""

    stream: str = STREAM
    seq: Seq
    type: Literal["review.created", "review.replied"]
    at: Timestamp
    data: ReviewOut


class StoreEvent(Out):
    """A store changed (on `store:{id}` and `store-public:{id}`); `data` is the store as
    `GET /api/stores/{id}` shows it at that moment, without its menu."""

    stream: str = STREAM
    seq: Seq
    type: StoreEventType
    at: Timestamp
    data: StoreOut


class ItemEvent(Out):
    """A menu item sold out or came back (on `store-public:{id}`); `data` is the item."""

    stream: str = STREAM
    seq: Seq
    type: Literal["item.sold_out", "item.available"]
    at: Timestamp
    data: ItemOut


Event = Annotated[
    OrderEvent
    | OrderDelayedEvent
    | OrderRefundedEvent
    | OfferCreatedEvent
    | OfferWithdrawnEvent
    | ReviewEvent
    | StoreEvent
    | ItemEvent,
    Field(discriminator="type"),
]


class SubscribeRequest(Out):
    """Client → server `subscribe`."""

    stream: str = FOLLOWED
    after_seq: int | SkipJsonSchema[None] = omitted_when_absent(
        "Replay the events after this seq (omit it for none; 0 for all that are kept)."
    )


class SubscribedAck(Out):
    """The ack of a `subscribe` that succeeded."""

    ok: Literal[True]
    recovered: bool = Field(
        description="False when the server cannot prove `events` is every missed event: "
        "re-read the REST snapshot, then subscribe again from its `stream_seq`."
    )
    events: list[Event] = Field(description="The events after `after_seq`, in seq order.")
    last_seq: int = Field(ge=0, description="The stream's last seq at the time of the ack.")
    node: str = Field(description="Which node answered (for operators).")


class RefusedAck(Out):
    """The ack of a `subscribe` that was refused."""

    ok: Literal[False]
    code: RefusalCode


class UnsubscribeRequest(Out):
    """Client → server `unsubscribe`."""

    stream: str


class UnsubscribedAck(Out):
    """The ack of an `unsubscribe` (always ok)."""

    ok: Literal[True]


class LocationMessage(Out):
    """Server → client `location`: the assigned rider's position, on `order:{id}` only;
    latest wins, not sequenced."""

    order_id: int
    lat: float
    lng: float
    at: Timestamp


class RiderLocationMessage(Out):
    """Server → client `location` on the `ops` stream: a rider on shift, at most once per 5 s
    per rider; latest wins, not sequenced."""

    rider_id: int
    lat: float
    lng: float
    at: Timestamp


class RevokedMessage(Out):
    """Server → client `revoked`: the socket no longer follows `stream`, because the rights to
    it changed (`not-found`, `forbidden`: no longer the caller's) or could not be re-checked
    (`unavailable`: subscribe again)."""

    stream: str = FOLLOWED
    code: RevocationCode


class ConnectRefusal(Out):
    """The `connect_error` data when a connection is refused."""

    message: ConnectRefusalCode
    code: ConnectRefusalCode
    data: dict[str, str] = Field(description='`{"code": …}`, the same code again.')


PROTOCOL_SHAPES: tuple[type[Out], ...] = (
    SubscribeRequest,
    SubscribedAck,
    RefusedAck,
    UnsubscribeRequest,
    UnsubscribedAck,
    LocationMessage,
    RiderLocationMessage,
    RevokedMessage,
    ConnectRefusal,
)
