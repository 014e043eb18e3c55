"""The realtime hub's delivery order: duplicates dropped, gaps filled, subscriptions merged.

The hub is driven through `deliver()` directly, as its Redis listener would; python-socketio's
server is replaced by `Sockets`, which keeps room membership and decodes what each socket was sent,
and the stream logs by `Logs`, which answers replays from lists.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from typing import Any

import engineio
import pytest
import socketio

from realtime.eventlog import Replay
from realtime.fanout import NAMESPACE, Hub

STREAM = "store:1"
OTHER = "order:9"


def event(seq: int, stream: str = STREAM) -> dict[str, Any]:
    """An event envelope as the relay publishes it."""
    return {"stream": stream, "seq": seq, "type": "order.placed", "data": {"n": seq}}


class Manager:
    """The room bookkeeping of python-socketio's client manager."""

    def __init__(self) -> None:
        self.rooms: dict[str, set[str]] = defaultdict(set)

    def basic_enter_room(self, sid: str, namespace: str, room: str) -> None:
        assert namespace == NAMESPACE
        self.rooms[room].add(sid)

    def basic_leave_room(self, sid: str, namespace: str, room: str) -> None:
        assert namespace == NAMESPACE
        self.rooms[room].discard(sid)

    def get_participants(self, namespace: str, room: str) -> Iterator[tuple[str, str]]:
        assert namespace == NAMESPACE
        for sid in self.rooms[room]:
            yield sid, f"eio-{sid}"


class Sockets:
    """Stands in for socketio.AsyncServer: room membership in `manager`, and an Engine.IO layer
    that records, per socket, the Socket.IO packets the hub queued for it."""

    packet_class = socketio.packet.Packet

    def __init__(self) -> None:
        self.manager = Manager()
        self.inbox: dict[str, list[tuple[str, int]]] = defaultdict(list)
        self.eio = self

    async def send_packet(self, eio_sid: str, pkt: engineio.packet.Packet) -> None:
        assert pkt.packet_type == engineio.packet.MESSAGE
        decoded = self.packet_class(encoded_packet=pkt.data)
        assert decoded.packet_type == socketio.packet.EVENT
        name, data = decoded.data
        assert name == "event"
        self.inbox[eio_sid.removeprefix("eio-")].append((data["stream"], data["seq"]))

    def seqs(self, sid: str, stream: str = STREAM) -> list[int]:
        """The seqs `sid` received live on `stream`, in order."""
        return [seq for s, seq in self.inbox[sid] if s == stream]


class Logs:
    """Stream logs as lists; replays serve from them like realtime.eventlog.replay does."""

    def __init__(self) -> None:
        self.events: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self.replays: list[tuple[str, int | None]] = []
        self.lost: set[int] = set()

    def append(self, *seqs: int, stream: str = STREAM) -> list[dict[str, Any]]:
        """Add events to the log (not delivered) and return them."""
        made = [event(seq, stream) for seq in seqs]
        self.events[stream].extend(made)
        return made

    def head(self, stream: str) -> int:
        """The last seq in the log of `stream`."""
        return max((e["seq"] for e in self.events[stream]), default=0)

    async def replay(self, stream: str, after: int | None) -> Replay:
        """What `stream` has after `after`, incomplete when an event was lost."""
        self.replays.append((stream, after))
        head = self.head(stream)
        if after is None:
            return Replay([], True, head)
        missed = [e for e in self.events[stream] if e["seq"] > after and e["seq"] not in self.lost]
        return Replay(missed, len(missed) == head - after, head)


class NoRedis:
    """The events Redis: nothing under test may reach it."""

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"the hub used Redis ({name})")


@pytest.fixture
def sockets() -> Sockets:
    """The Socket.IO server's rooms and what each socket received."""
    return Sockets()


@pytest.fixture
def logs() -> Logs:
    """Empty stream logs."""
    return Logs()


@pytest.fixture
def hub(sockets: Sockets, logs: Logs) -> Hub:
    """A hub on the fake server, replaying from `logs`."""
    return Hub(sockets, NoRedis(), logs.replay)


async def subscribe(hub: Hub, logs: Logs, sid: str, stream: str = STREAM, after: int = 0) -> Replay:
    """What the subscribe handler does: begin, read the replay, finish."""
    hub.begin(sid, stream)
    return hub.finish(sid, stream, await logs.replay(stream, after))


async def publish(hub: Hub, logs: Logs, *seqs: int, stream: str = STREAM) -> None:
    """Append to the log and deliver each event, as the relay and the listener would."""
    for made in logs.append(*seqs, stream=stream):
        await hub.deliver(made)


async def test_events_reach_subscribers_in_seq_order(
    hub: Hub, sockets: Sockets, logs: Logs
) -> None:
    await subscribe(hub, logs, "a")
    await subscribe(hub, logs, "b")
    await publish(hub, logs, 1, 2, 3)
    assert sockets.seqs("a") == sockets.seqs("b") == [1, 2, 3]
    assert hub.last[STREAM] == 3 and hub.delivered == 6
    assert logs.replays == [(STREAM, 0), (STREAM, 0)]  # no gap, no replay read by the hub


async def test_a_duplicate_or_older_event_is_dropped(
    hub: Hub, sockets: Sockets, logs: Logs
) -> None:
    await subscribe(hub, logs, "a")
    one, two, three = logs.append(1, 2, 3)
    for again in (one, two, two, one, three, two, three):
        await hub.deliver(again)
    assert sockets.seqs("a") == [1, 2, 3]
    assert hub.delivered == 3


async def test_a_gap_is_filled_from_the_log_before_the_event_that_revealed_it(
    hub: Hub, sockets: Sockets, logs: Logs
) -> None:
    await subscribe(hub, logs, "a")
    await publish(hub, logs, 1)
    two, three, four, five, six = logs.append(2, 3, 4, 5, 6)
    await hub.deliver(two)
    await hub.deliver(five)  # 3 and 4 never came over pub/sub
    assert logs.replays[-1] == (STREAM, 2)
    # Only up to the revealing event: 6 is in the log already but comes in its turn.
    assert sockets.seqs("a") == [1, 2, 3, 4, 5]
    await hub.deliver(three)
    await hub.deliver(four)
    await hub.deliver(six)
    assert sockets.seqs("a") == [1, 2, 3, 4, 5, 6]


async def test_a_gap_the_log_cannot_fill_still_delivers_what_came(
    hub: Hub, sockets: Sockets, logs: Logs, caplog: pytest.LogCaptureFixture
) -> None:
    await subscribe(hub, logs, "a")
    await publish(hub, logs, 1)
    logs.append(2, 3)
    logs.lost = {2}
    await hub.deliver(logs.append(4)[0])
    assert sockets.seqs("a") == [1, 3, 4]
    assert "could not fill a gap in store:1 after seq 1" in caplog.text


async def test_live_events_during_a_subscribe_are_merged_into_its_replay_by_seq(
    hub: Hub, sockets: Sockets, logs: Logs
) -> None:
    await subscribe(hub, logs, "a")
    await publish(hub, logs, 1, 2)
    hub.begin("b", STREAM)
    replay = await logs.replay(STREAM, 0)  # read while 3 and 4 are still to come
    logs.append(3, 4)
    # 3 is lost on the way: 4 reveals the gap, which is filled from the log, for b's buffer too.
    await hub.deliver(logs.events[STREAM][3])
    assert hub.pending[STREAM]["b"] and sockets.seqs("b") == []
    merged = hub.finish("b", STREAM, replay)
    assert [e["seq"] for e in merged.events] == [1, 2, 3, 4]
    assert merged.last_seq == 4 and merged.recovered
    assert STREAM not in hub.pending
    await publish(hub, logs, 5)
    assert sockets.seqs("b") == [5]
    assert sockets.seqs("a") == [1, 2, 3, 4, 5]


async def test_live_events_the_replay_already_holds_are_not_doubled(
    hub: Hub, sockets: Sockets, logs: Logs
) -> None:
    await subscribe(hub, logs, "a")
    hub.begin("b", STREAM)
    await publish(hub, logs, 1, 2)  # buffered for b, and in the log b reads next
    merged = hub.finish("b", STREAM, await logs.replay(STREAM, 0))
    assert [e["seq"] for e in merged.events] == [1, 2] and merged.last_seq == 2
    await publish(hub, logs, 3)
    assert sockets.seqs("b") == [3] and sockets.seqs("a") == [1, 2, 3]


async def test_a_merged_replay_stops_before_a_gap_it_cannot_fill(
    hub: Hub, sockets: Sockets, logs: Logs
) -> None:
    await subscribe(hub, logs, "a")
    await publish(hub, logs, 1, 2)
    hub.begin("b", STREAM)
    replay = await logs.replay(STREAM, 0)
    logs.append(3, 4)
    logs.lost = {3}
    await hub.deliver(logs.events[STREAM][3])
    merged = hub.finish("b", STREAM, replay)
    # Never a hole inside a replay: the client sees the jump on the next live event instead.
    assert [e["seq"] for e in merged.events] == [1, 2] and merged.last_seq == 2


async def test_events_a_subscriber_got_in_its_replay_are_not_sent_to_it_again(
    hub: Hub, sockets: Sockets, logs: Logs
) -> None:
    await subscribe(hub, logs, "a")
    await publish(hub, logs, 1, 2)
    # The log is ahead of this node's pub/sub: 3 and 4 are appended, not yet delivered here.
    three, four = logs.append(3, 4)
    replay = await subscribe(hub, logs, "b")
    assert [e["seq"] for e in replay.events] == [1, 2, 3, 4]
    await hub.deliver(three)
    await hub.deliver(four)
    assert sockets.seqs("a") == [1, 2, 3, 4]
    assert sockets.seqs("b") == []  # it has them from its replay
    assert "b" not in hub.skip_upto.get(STREAM, {})
    await publish(hub, logs, 5)
    assert sockets.seqs("a") == [1, 2, 3, 4, 5] and sockets.seqs("b") == [5]
    assert hub.delivered == 6  # 1 and 2 to a alone (b was not there), 3 and 4 too, 5 to both


async def test_the_first_subscriber_of_a_stream_starts_it_at_its_replay(
    hub: Hub, sockets: Sockets, logs: Logs
) -> None:
    logs.append(1, 2, 3)
    await hub.deliver(logs.events[STREAM][0])  # nobody here follows the stream yet
    assert sockets.inbox == {} and STREAM not in hub.last
    replay = await subscribe(hub, logs, "a", after=1)
    assert [e["seq"] for e in replay.events] == [2, 3] and hub.last[STREAM] == 3
    await publish(hub, logs, 4)
    assert sockets.seqs("a") == [4]


async def test_leaving_stops_delivery_and_the_last_member_out_forgets_the_stream(
    hub: Hub, sockets: Sockets, logs: Logs
) -> None:
    await subscribe(hub, logs, "a")
    await subscribe(hub, logs, "b")
    await publish(hub, logs, 1)
    hub.leave("a", STREAM)
    await publish(hub, logs, 2)
    assert sockets.seqs("a") == [1] and sockets.seqs("b") == [1, 2]
    assert "a" not in sockets.manager.rooms[STREAM] and hub.subscriptions["a"] == set()
    hub.leave("b", STREAM)
    assert STREAM not in hub.members and STREAM not in hub.last and STREAM not in hub.skip_upto
    await publish(hub, logs, 3)
    assert sockets.seqs("b") == [1, 2]
    assert hub.delivered == 3


async def test_a_disconnect_drops_every_subscription_and_pending_subscribe(
    hub: Hub, sockets: Sockets, logs: Logs
) -> None:
    await subscribe(hub, logs, "a")
    await subscribe(hub, logs, "a", stream=OTHER)
    await subscribe(hub, logs, "b")
    hub.begin("a", "rider:4")  # its replay is still being read
    hub.disconnect("a")
    assert "a" not in hub.subscriptions
    assert hub.pending == {}
    assert hub.members == {STREAM: {"b"}}
    assert OTHER not in hub.last and STREAM in hub.last
    assert all("a" not in members for members in sockets.manager.rooms.values())
    await publish(hub, logs, 1)
    await publish(hub, logs, 1, stream=OTHER)
    assert sockets.inbox["a"] == [] and sockets.seqs("b") == [1]


async def test_an_aborted_subscribe_buffers_nothing_more(hub: Hub, logs: Logs) -> None:
    await subscribe(hub, logs, "a")
    hub.begin("b", STREAM)
    hub.abort("b", STREAM)
    assert STREAM not in hub.pending
    await publish(hub, logs, 1)
    assert STREAM not in hub.pending and "b" not in hub.members[STREAM]
