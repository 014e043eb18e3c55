"""Idempotency-Key decisions: the first answer is every retry's answer, for 24 hours."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from app.errors import Conflict, IdempotencyMismatch, PaymentDeclined
from app.orders.idempotency import (
    KEY_TTL,
    LEGACY_LEASE,
    Claimable,
    Outcome,
    decide,
    request_hash,
)
from app.orders.models import IdempotencyRecord
from app.orders.schemas import PlaceOrderRequest
from app.problems import problem_of

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
BODY: dict[str, Any] = {
    "store_id": 3,
    "items": [{"menu_item_id": 7, "quantity": 2, "option_ids": [1]}],
    "address": {"text": "1 Sejong-daero", "lat": 37.56, "lng": 126.97},
    "payment": {"method": "card", "card_number": "4242424242424242"},
}
FIRST = request_hash(PlaceOrderRequest.model_validate(BODY))
LEASE = timedelta(seconds=15)


def record(
    *, age: timedelta = timedelta(seconds=5), renewed: timedelta | None = None, **values: Any
) -> IdempotencyRecord:
    """A key taken `age` ago by the request FIRST, its lease last renewed `renewed` ago (at
    the start unless told otherwise; in progress unless told otherwise)."""
    taken = NOW - age
    fields: dict[str, Any] = {
        "request_hash": FIRST,
        "state": "in_progress",
        "created_at": taken,
        "lease_until": NOW - (age if renewed is None else renewed) + LEASE,
        "expires_at": taken + KEY_TTL,
        **values,
    }
    return IdempotencyRecord(user_id=1, key="k", payment_reference="ord_x", **fields)


def done(status: int, body: dict[str, Any], **values: Any) -> IdempotencyRecord:
    """A key whose request finished with `status` and `body`."""
    return record(state="done", response_status=status, response_body=json.dumps(body), **values)


def test_the_same_body_gets_the_first_answer() -> None:
    order = {"id": 41, "status": "placed", "total": 21_000}
    assert decide(done(201, order), fingerprint=FIRST, now=NOW) == Outcome(201, json.dumps(order))


def test_a_refusal_is_the_answer_too() -> None:
    declined = problem_of(
        PaymentDeclined("The card was declined; nothing was charged.")
    ).model_dump(mode="json", exclude_none=True)
    assert declined == {
        "type": "/problems/payment-declined",
        "title": "The payment was declined",
        "status": 402,
        "code": "payment-declined",
        "detail": "The card was declined; nothing was charged.",
    }
    assert decide(done(402, declined), fingerprint=FIRST, now=NOW) == Outcome(
        402, json.dumps(declined)
    )


@pytest.mark.parametrize("state", ["done", "in_progress"])
def test_another_body_under_the_key_is_422_mismatch(state: str) -> None:
    other = request_hash(PlaceOrderRequest.model_validate({**BODY, "use_points": 500}))
    existing = done(201, {"id": 41}) if state == "done" else record()
    with pytest.raises(IdempotencyMismatch) as refused:
        decide(existing, fingerprint=other, now=NOW)
    assert (refused.value.status, refused.value.code) == (422, "idempotency-mismatch")


@pytest.mark.parametrize(
    ("age", "renewed"),
    [(LEASE - timedelta(seconds=1), None), (timedelta(minutes=10), timedelta(seconds=2))],
    ids=["within-its-first-lease", "long-running-but-renewing"],
)
def test_a_key_whose_request_holds_its_lease_is_409_in_progress(
    age: timedelta, renewed: timedelta | None
) -> None:
    running = record(age=age, renewed=renewed)
    with pytest.raises(Conflict) as refused:
        decide(running, fingerprint=FIRST, now=NOW)
    assert (refused.value.status, refused.value.code) == (409, "idempotency-in-progress")


@pytest.mark.parametrize("past", [timedelta(0), timedelta(seconds=1), timedelta(minutes=5)])
def test_a_key_whose_lease_ran_out_is_taken_over(past: timedelta) -> None:
    abandoned = record(age=LEASE + past)
    assert decide(abandoned, fingerprint=FIRST, now=NOW) is Claimable.ABANDONED


def test_a_key_taken_before_leases_existed_counts_from_its_creation() -> None:
    assert (
        decide(
            record(age=LEGACY_LEASE + timedelta(seconds=1), lease_until=None),
            fingerprint=FIRST,
            now=NOW,
        )
        is Claimable.ABANDONED
    )
    with pytest.raises(Conflict):
        decide(
            record(age=LEGACY_LEASE - timedelta(seconds=1), lease_until=None),
            fingerprint=FIRST,
            now=NOW,
        )


@pytest.mark.parametrize(
    "existing",
    [done(201, {"id": 41}, age=KEY_TTL), record(age=KEY_TTL + timedelta(hours=1))],
    ids=["done", "in-progress"],
)
def test_an_expired_key_is_claimable_again_whatever_the_body(
    existing: IdempotencyRecord,
) -> None:
    other = request_hash(PlaceOrderRequest.model_validate({**BODY, "use_points": 500}))
    assert decide(existing, fingerprint=FIRST, now=NOW) is Claimable.EXPIRED
    assert decide(existing, fingerprint=other, now=NOW) is Claimable.EXPIRED


def test_a_key_a_moment_before_expiry_still_answers() -> None:
    almost = done(201, {"id": 41}, age=KEY_TTL - timedelta(microseconds=1))
    assert decide(almost, fingerprint=FIRST, now=NOW) == Outcome(201, json.dumps({"id": 41}))


def test_the_fingerprint_ignores_key_order_and_spelled_out_defaults() -> None:
    reordered = dict(reversed(list(BODY.items())))
    with_defaults = {**BODY, "use_points": 0, "coupon_id": None}
    for same in (reordered, with_defaults):
        assert request_hash(PlaceOrderRequest.model_validate(same)) == FIRST
    more = {**BODY, "items": [{**BODY["items"][0], "quantity": 3}]}
    assert request_hash(PlaceOrderRequest.model_validate(more)) != FIRST
