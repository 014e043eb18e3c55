"""A fixed delay on the packets a network namespace sends, where the kernel has no `netem`.

`tc qdisc add dev eth0 root netem delay 1ms` is the usual way to give a link latency; a kernel
built without sch_netem refuses it ("Specified qdisc kind is unknown"). This does the same from
user space with NFQUEUE: an iptables rule in the namespace hands each outgoing packet of the
interface to queue 0, and this program, run inside the namespace, lets each one go once it has
waited `--delay-ms`. It reads only the packets' ids (no payload is copied) and releases them in
batches (one verdict lets every earlier packet go), so a packet waits at least the delay and
about a tenth of a millisecond more.

    ip netns exec NAME iptables -A OUTPUT -o eth0 -j NFQUEUE --queue-num 0 --queue-bypass
    ip netns exec NAME python -m app.launcher.latency --delay-ms 1

With `--queue-bypass`, packets flow without delay while no program listens on the queue.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import errno
import os
import select
import signal
import socket
import struct
import sys
import time
from types import FrameType

NETLINK_NETFILTER = 12
NFNL_SUBSYS_QUEUE = 3
NFQNL_MSG_PACKET = 0
NFQNL_MSG_CONFIG = 2
NFQNL_MSG_VERDICT_BATCH = 3
NLM_F_REQUEST = 0x1
NLM_F_ACK = 0x4
NLMSG_ERROR = 2
NFQA_PACKET_HDR = 1
NFQA_VERDICT_HDR = 2
NFQA_CFG_CMD = 1
NFQA_CFG_PARAMS = 2
NFQA_CFG_QUEUE_MAXLEN = 3
NFQA_CFG_MASK = 4
NFQA_CFG_FLAGS = 5
NFQNL_CFG_CMD_BIND = 1
NFQNL_COPY_META = 1
# A full queue lets packets pass rather than dropping them; GSO packets come whole.
NFQA_CFG_F_FAIL_OPEN = 0x1
NFQA_CFG_F_GSO = 0x4
NF_ACCEPT = 1
SOL_NETLINK = 270
NETLINK_NO_ENOBUFS = 5


def _attribute(kind: int, payload: bytes) -> bytes:
    length = 4 + len(payload)
    return struct.pack("=HH", length, kind) + payload + b"\0" * (-length % 4)


def _message(kind: int, queue: int, attributes: bytes, *, flags: int = 0, seq: int = 0) -> bytes:
    # nlmsghdr, then nfgenmsg: family AF_UNSPEC, version 0, the queue number big-endian.
    body = struct.pack("!BBH", socket.AF_UNSPEC, 0, queue) + attributes
    header = struct.pack("=IHHII", 16 + len(body), (NFNL_SUBSYS_QUEUE << 8) | kind, flags, seq, 0)
    return header + body


def _attributes(data: bytes) -> dict[int, bytes]:
    found: dict[int, bytes] = {}
    offset = 0
    while offset + 4 <= len(data):
        length, kind = struct.unpack_from("=HH", data, offset)
        if length < 4:
            break
        found[kind & 0x3FFF] = data[offset + 4 : offset + length]
        offset += (length + 3) & ~3
    return found


def due(pending: collections.deque[tuple[float, int]], *, now: float, delay: float) -> int | None:
    """Take from `pending` (arrival time, packet id; oldest first) the packets that have waited
    `delay` by `now`; the id of the last of them, which lets them all go (None: none yet)."""
    last = None
    while pending and pending[0][0] + delay <= now:
        last = pending.popleft()[1]
    return last


class Delayer:
    """Holds the packets of one NFQUEUE queue for `delay` seconds each, in their order."""

    def __init__(self, queue: int, delay: float) -> None:
        self.queue = queue
        self.delay = delay
        self.pending: collections.deque[tuple[float, int]] = collections.deque()
        self.sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_NETFILTER)
        # Room for the notifications of a burst (root may go past rmem_max).
        try:
            self.sock.setsockopt(socket.SOL_SOCKET, 33, 8 << 20)  # SO_RCVBUFFORCE
        except OSError:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
        self.sock.setsockopt(SOL_NETLINK, NETLINK_NO_ENOBUFS, 1)
        self.sock.bind((0, 0))
        self._seq = 0
        self._configure()
        self.sock.setblocking(False)

    def _request(self, attributes: bytes) -> None:
        self._seq += 1
        self.sock.send(
            _message(
                NFQNL_MSG_CONFIG,
                self.queue,
                attributes,
                flags=NLM_F_REQUEST | NLM_F_ACK,
                seq=self._seq,
            )
        )
        reply = self.sock.recv(65536)
        kind = struct.unpack_from("=H", reply, 4)[0]
        if kind == NLMSG_ERROR:
            (code,) = struct.unpack_from("=i", reply, 16)
            if code:
                raise OSError(-code, f"NFQUEUE configuration refused: {os.strerror(-code)}")

    def _configure(self) -> None:
        self._request(
            _attribute(NFQA_CFG_CMD, struct.pack("!BxH", NFQNL_CFG_CMD_BIND, socket.AF_INET))
        )
        flags = NFQA_CFG_F_FAIL_OPEN | NFQA_CFG_F_GSO
        self._request(
            _attribute(NFQA_CFG_PARAMS, struct.pack("!IB", 0, NFQNL_COPY_META))
            + _attribute(NFQA_CFG_QUEUE_MAXLEN, struct.pack("!I", 65536))
            + _attribute(NFQA_CFG_MASK, struct.pack("!I", flags))
            + _attribute(NFQA_CFG_FLAGS, struct.pack("!I", flags))
        )

    def receive(self) -> None:
        """Note the arrival of every packet waiting on the socket."""
        while True:
            try:
                data = self.sock.recv(1 << 16)
            except BlockingIOError:
                return
            except OSError as error:
                if error.errno == errno.ENOBUFS:
                    continue
                raise
            now = time.monotonic()
            offset = 0
            while offset + 16 <= len(data):
                length, kind = struct.unpack_from("=IH", data, offset)
                if length < 16:
                    break
                if kind == (NFNL_SUBSYS_QUEUE << 8) | NFQNL_MSG_PACKET:
                    header = _attributes(data[offset + 20 : offset + length]).get(NFQA_PACKET_HDR)
                    if header is not None:
                        self.pending.append((now, struct.unpack_from("!I", header)[0]))
                offset += (length + 3) & ~3

    def release(self) -> float | None:
        """Let every packet that has waited long enough go; seconds until the next is due."""
        now = time.monotonic()
        last = due(self.pending, now=now, delay=self.delay)
        if last is not None:
            verdict = _attribute(NFQA_VERDICT_HDR, struct.pack("!II", NF_ACCEPT, last))
            self.sock.send(
                _message(NFQNL_MSG_VERDICT_BATCH, self.queue, verdict, flags=NLM_F_REQUEST)
            )
        if not self.pending:
            return None
        return max(0.0, self.pending[0][0] + self.delay - now)

    def run(self) -> None:
        poller = select.poll()
        poller.register(self.sock, select.POLLIN)
        wait: float | None = None
        while True:
            # poll counts in milliseconds: round up so that a packet is never let go early.
            timeout = -1 if wait is None else max(0, int(wait * 1000 + 0.999))
            if poller.poll(timeout):
                self.receive()
            wait = self.release()


def _stop(_signum: int, _frame: FrameType | None) -> None:
    sys.exit(0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queue", type=int, default=0)
    parser.add_argument("--delay-ms", type=float, default=1.0)
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, _stop)
    delayer = Delayer(args.queue, args.delay_ms / 1000)
    print(f"delaying queue {args.queue} by {args.delay_ms:g} ms", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        delayer.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
