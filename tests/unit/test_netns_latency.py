"""The user-space cable delay's netlink messages and release rule, and the partition's place
among the simulator's faults."""

from __future__ import annotations

import collections
import struct

from app.launcher.latency import (
    NFNL_SUBSYS_QUEUE,
    NFQA_PACKET_HDR,
    NFQNL_MSG_PACKET,
    _attribute,
    _attributes,
    _message,
    due,
)
from app.simulator.faults import PARTITION, SCHEDULE, schedule_for


def test_a_packet_notification_gives_its_id() -> None:
    header = struct.pack("!IHB", 41, 0x0800, 3)  # packet id, protocol, hook
    # The kernel may set the nested and byte-order flags on an attribute's type.
    body = _attribute(NFQA_PACKET_HDR | 0x4000, header) + _attribute(6, b"\0\0\0\2")
    message = _message(NFQNL_MSG_PACKET, 0, body)
    length, kind = struct.unpack_from("=IH", message)
    assert length == len(message) and length % 4 == 0
    assert kind == (NFNL_SUBSYS_QUEUE << 8) | NFQNL_MSG_PACKET
    attributes = _attributes(message[20:])
    assert struct.unpack_from("!I", attributes[NFQA_PACKET_HDR])[0] == 41
    assert attributes[6] == b"\0\0\0\2"


def test_an_attribute_is_padded_to_four_bytes() -> None:
    assert _attribute(1, b"abcde") == struct.pack("=HH", 9, 1) + b"abcde\0\0\0"
    assert _attributes(b"\x02\x00\x01\x00") == {}  # a length below the header ends parsing


def test_only_packets_that_have_waited_the_delay_go_and_the_last_ones_id_frees_them_all() -> None:
    pending = collections.deque([(10.0, 1), (10.0004, 2), (10.002, 3)])
    assert due(pending, now=10.0009, delay=0.001) is None
    assert due(pending, now=10.0010, delay=0.001) == 1
    assert due(pending, now=10.0100, delay=0.001) == 3
    assert not pending
    assert due(pending, now=99.0, delay=0.001) is None


def test_a_partition_joins_the_faults_in_time_order() -> None:
    assert schedule_for(faults=False, partition=False) == []
    assert schedule_for(faults=True, partition=False) == SCHEDULE
    assert schedule_for(faults=False, partition=True) == PARTITION
    both = schedule_for(faults=True, partition=True)
    assert [fault.at for fault in both] == sorted(fault.at for fault in SCHEDULE + PARTITION)
    assert len(both) == len(SCHEDULE) + 1
