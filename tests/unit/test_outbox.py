"""The published envelope of an outbox event."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from app.outbox import OutboxEvent, envelope_of


def test_an_event_says_when_it_was_recorded_to_the_millisecond() -> None:
    event = OutboxEvent(
        stream="order:42",
        seq=7,
        type="order.accepted",
        at=datetime(2026, 11, 24, 12, 0, 0, 123456, tzinfo=UTC),
        payload='{"id": 42}',
    )
    envelope = envelope_of(event)
    assert envelope == {
        "stream": "order:42",
        "seq": 7,
        "type": "order.accepted",
        "at": "2026-11-24T12:00:00.123Z",
        "data": {"id": 42},
    }
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", envelope["at"])
