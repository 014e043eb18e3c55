"""The audit after the drain: what every client saw, held against the database (read-only SQL).

Each check prints PASS, FAIL or SKIP (nothing to check it against) with its evidence.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC
from typing import Any

import pymysql

from app.simulator.context import FINAL
from app.simulator.recorder import Recorder
from app.simulator.sockets import Socket, StreamLog

ACCRUAL_PERCENT = 1


@dataclass
class Check:
    """One promise and whether the run kept it."""

    name: str
    verdict: str  # PASS, FAIL or SKIP
    evidence: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        """The check as printed."""
        return [f"{self.verdict}  {self.name}", *(f"      {line}" for line in self.evidence)]


def _verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def _sample(items: list[Any], n: int = 5) -> str:
    return ", ".join(map(str, items[:n])) + (" …" if len(items) > n else "")


class Database:
    """Read-only queries on the deployment's MariaDB."""

    def __init__(self, conn: pymysql.connections.Connection[Any]) -> None:
        self.conn = conn

    def rows(self, sql: str, args: tuple[Any, ...] | list[Any] = ()) -> list[tuple[Any, ...]]:
        """Run one SELECT."""
        with self.conn.cursor() as cursor:
            cursor.execute(sql, args)
            return list(cursor.fetchall())

    def heads(self, streams: list[str]) -> dict[str, int]:
        """The last seq of each stream."""
        found: dict[str, int] = {}
        for chunk in range(0, len(streams), 500):
            part = streams[chunk : chunk + 500]
            marks = ",".join(["%s"] * len(part))
            for stream, seq in self.rows(
                f"SELECT stream, last_seq FROM stream_heads WHERE stream IN ({marks})", part
            ):
                found[stream] = int(seq)
        return found


def fill_commit_times(db: Database, recorder: Recorder) -> int:
    """Give every delivery without a precise commit time the outbox row's (to the microsecond)."""
    missing = [d for d in recorder.deliveries if d.committed is None]
    streams = sorted({d.stream for d in missing})
    times: dict[tuple[str, int], float] = {}
    for chunk in range(0, len(streams), 500):
        part = streams[chunk : chunk + 500]
        marks = ",".join(["%s"] * len(part))
        for stream, seq, at in db.rows(
            f"SELECT stream, seq, at FROM outbox_events WHERE stream IN ({marks})", part
        ):
            times[(stream, int(seq))] = at.replace(tzinfo=UTC).timestamp()
    for delivery in missing:
        delivery.committed = times.get((delivery.stream, delivery.seq))
    return len(missing)


def _in(ids: list[int]) -> str:
    return ",".join(str(int(i)) for i in ids) or "NULL"


def check_deliveries(sockets: list[Socket]) -> Check:
    """Exactly once, in seq order, per socket and stream (after reconnects)."""
    bad: list[str] = []
    applied = reconnects = replays = resyncs = overlaps = 0
    for socket in sockets:
        reconnects += max(0, socket.connects - 1)
        for log in socket.logs.values():
            applied += sum(1 for seq in log.applied if seq > 0)
            replays += max(0, log.replays - 1)
            resyncs += log.resyncs
            overlaps += log.overlaps
            expected = log.first_after + 1
            for seq in log.applied:
                if seq < 0:  # recovered: false, resynced from the REST snapshot
                    expected = -1
                elif expected not in (-1, seq):
                    bad.append(f"{log.stream}: {seq} after {expected - 1} ({socket.name})")
                    break
                else:
                    expected = seq + 1
            if log.duplicates:
                bad.append(f"{log.stream}: {log.duplicates} duplicate(s) ({socket.name})")
            if log.gaps:
                bad.append(f"{log.stream}: {log.gaps} gap(s) seen live ({socket.name})")
    streams = sum(len(s.logs) for s in sockets)
    return Check(
        "streams: every subscriber saw each event once, in seq order",
        _verdict(not bad),
        [
            f"{len(sockets)} sockets, {streams} subscriptions, {applied} events applied; "
            f"{reconnects} reconnects, {replays} re-subscriptions with after_seq, "
            f"{resyncs} resyncs (recovered: false), {overlaps} replay/live overlaps",
            *(["problems: " + _sample(bad)] if bad else []),
        ],
    )


async def check_heads(sockets: list[Socket], db: Database | None, settle: float = 30.0) -> Check:
    """Every stream still followed ends at the stream's last seq (waits for the tail)."""
    followed = [log for s in sockets for log in s.logs.values() if log.followed]
    if db is None:
        return Check("streams: every followed stream reached its last seq", "SKIP", ["no database"])
    streams = sorted({log.stream for log in followed})
    deadline = time.monotonic() + settle
    while True:
        heads = await asyncio.to_thread(db.heads, streams)
        behind = [log for log in followed if log.last != heads.get(log.stream, 0)]
        if not behind or time.monotonic() > deadline:
            break
        await asyncio.sleep(1)
    return Check(
        "streams: every followed stream reached its last seq",
        _verdict(not behind),
        [f"{len(followed)} subscriptions on {len(streams)} streams at their heads"]
        + [
            "behind: "
            + _sample(
                [f"{log.stream} at {log.last} of {heads.get(log.stream, 0)}" for log in behind]
            )
        ]
        * bool(behind),
    )


def check_rest_seq(orders: dict[int, dict[str, Any]], logs: dict[int, StreamLog]) -> Check:
    """Each customer's order stream ends at the REST order's `stream_seq`."""
    bad = [
        f"order {oid}: saw {logs[oid].last}, REST {order['stream_seq']}"
        for oid, order in orders.items()
        if oid in logs and logs[oid].last != order["stream_seq"]
    ]
    return Check(
        "streams: each order's last seq equals its REST stream_seq",
        _verdict(not bad),
        [f"{len(orders)} orders read back through the API"]
        + ["mismatch: " + _sample(bad)] * bool(bad),
    )


def check_idempotency(recorder: Recorder, db: Database | None, customer_ids: list[int]) -> Check:
    """One order per Idempotency-Key, and no order its customer never got a 201 for."""
    multi = [k for k, ids in recorder.key_orders.items() if len(ids) > 1]
    evidence = [
        f"{len(recorder.key_orders)} keys answered 201 "
        f"({sum(recorder.keys_answered.values())} answers); keys with two orders: {len(multi)}"
    ]
    unknown: list[int] = []
    if db is not None:
        ids = [
            int(r[0])
            for r in db.rows(f"SELECT id FROM orders WHERE customer_id IN ({_in(customer_ids)})")
        ]
        unknown = sorted(set(ids) - set(recorder.orders))
        evidence.append(f"{len(ids)} orders in the database for the run's customers")
        if unknown:
            evidence.append("orders no client got a 201 for: " + _sample(unknown))
    return Check(
        "orders: one order per Idempotency-Key", _verdict(not multi and not unknown), evidence
    )


def check_final(db: Database | None, customer_ids: list[int], accept_timeout: float) -> Check:
    """No order left in a non-final state after the drain."""
    if db is None:
        return Check("orders: none left unfinished", "SKIP", ["no database"])
    rows = db.rows(
        f"SELECT id, status, TIMESTAMPDIFF(SECOND, created_at, UTC_TIMESTAMP()) FROM orders "
        f"WHERE customer_id IN ({_in(customer_ids)})"
    )
    statuses = Counter(str(r[1]) for r in rows)
    stuck = [f"{r[0]} {r[1]} for {r[2]} s" for r in rows if r[1] not in FINAL]
    overdue = [
        s
        for s, r in zip(stuck, [r for r in rows if r[1] not in FINAL], strict=True)
        if r[1] == "placed" and r[2] > accept_timeout + 10
    ]
    return Check(
        "orders: none left unfinished",
        _verdict(not stuck),
        [", ".join(f"{k} {v}" for k, v in sorted(statuses.items()))]
        + ["not final: " + _sample(stuck)] * bool(stuck)
        + ["placed past the store's time-out: " + _sample(overdue)] * bool(overdue),
    )


def check_dispatch(db: Database | None, customer_ids: list[int]) -> Check:
    """No order with two riders at once, no rider with two orders at once, except the two
    orders of one bundle, accepted together."""
    if db is None:
        return Check("dispatch: one rider per order, one order per rider", "SKIP", ["no database"])
    rows = db.rows(
        "SELECT h.id, h.order_id, h.rider_id, h.kind, h.detail FROM dispatch_history h "
        "JOIN orders o "
        f"ON o.id = h.order_id WHERE o.customer_id IN ({_in(customer_ids)}) "
        "AND h.kind IN ('accepted', 'released', 'freed') ORDER BY h.id"
    )
    holder: dict[int, int] = {}  # order → rider
    carrying: dict[int, dict[int, str | None]] = {}  # rider → its orders, each with its bundle
    bad: list[str] = []
    bundles = 0
    for _id, order, rider, kind, detail in rows:
        if kind == "accepted":
            if order in holder:
                bad.append(
                    f"order {order} taken by rider {rider} while rider {holder[order]} had it"
                )
            load = carrying.setdefault(rider, {})
            bundle = detail if detail and str(detail).startswith("bundle ") else None
            # A second order only with the first, from the same bundle, and never a third.
            if load and (bundle is None or set(load.values()) != {bundle} or len(load) > 1):
                bad.append(f"rider {rider} took order {order} while carrying {sorted(load)}")
            bundles += bool(load) and bundle is not None
            holder[order] = rider
            load[order] = bundle
        else:
            holder.pop(order, None)
            carrying.get(rider, {}).pop(order, None)
    accepted = db.rows(
        "SELECT f.order_id, COUNT(*) FROM offers f JOIN orders o ON o.id = f.order_id "
        f"WHERE o.customer_id IN ({_in(customer_ids)}) AND f.status = 'accepted' "
        "GROUP BY f.order_id HAVING COUNT(*) > 1"
    )
    bad += [f"order {o} has {n} accepted offers" for o, n in accepted]
    assignments = sum(1 for r in rows if r[3] == "accepted")
    return Check(
        "dispatch: one rider per order, one order per rider",
        _verdict(not bad),
        [
            f"{assignments} assignments ({bundles} bundles of two), "
            f"{len(rows) - assignments} releases and frees replayed"
        ]
        + ["problems: " + _sample(bad)] * bool(bad),
    )


def check_earnings(db: Database | None, recorder: Recorder, customer_ids: list[int]) -> Check:
    """Each delivered order earned once, by its rider, the fee its offers showed; nothing else
    earned; no offer told a rider the street or a note before assignment."""
    name = "earnings: one entry per delivery, the fee offered"
    if db is None:
        return Check(name, "SKIP", ["no database"])
    rows = db.rows(
        "SELECT o.id, o.status, o.rider_id, e.rider_id, e.amount, e.kind, f.fee "
        "FROM orders o LEFT JOIN rider_earnings e ON e.order_id = o.id "
        "LEFT JOIN offers f ON f.order_id = o.id AND f.rider_id = o.rider_id "
        "AND f.status = 'accepted' "
        f"WHERE o.customer_id IN ({_in(customer_ids)})"
    )
    bad: list[str] = []
    seen: Counter[int] = Counter()
    earned = 0
    for oid, status, rider, earner, amount, kind, accepted_fee in rows:
        if kind is None:
            if status == "delivered":
                bad.append(f"order {oid} delivered but not earned")
            continue
        if kind != "delivery":
            continue
        seen[int(oid)] += 1
        earned += int(amount)
        if status != "delivered" or earner != rider:
            bad.append(f"order {oid} ({status}) earned by rider {earner}, carried by {rider}")
        if accepted_fee is not None and int(amount) != int(accepted_fee):
            bad.append(f"order {oid} earned {amount}, its accepted offer showed {accepted_fee}")
        shown = recorder.offered_fees.get((int(earner), int(oid)))
        if shown is not None and shown != int(amount):
            bad.append(f"order {oid} earned {amount}, the rider was offered {shown}")
    bad += [f"order {o} earned {n} times" for o, n in seen.items() if n > 1]
    bad += [f"the offer of order {o} named the street or a note" for o in recorder.revealing_offers]
    return Check(
        name,
        _verdict(not bad),
        [f"{len(seen)} deliveries earned, {earned:,} won in all"]
        + ["problems: " + _sample(bad)] * bool(bad),
    )


def refunds_pending(db: Database | None, customer_ids: list[int]) -> int:
    """How many of these customers' payments still wait for their refund (settled by the
    cancelling request, or by a node's sweeper a few seconds later)."""
    if db is None or not customer_ids:
        return 0
    [(count,)] = db.rows(
        "SELECT COUNT(*) FROM payments p JOIN orders o ON o.id = p.order_id "
        f"WHERE p.status = 'refund_pending' AND o.customer_id IN ({_in(customer_ids)})"
    )
    # And the card parts of part refunds still on their way to the gateway.
    [(parts,)] = db.rows(
        "SELECT COUNT(*) FROM order_refunds r JOIN orders o ON o.id = r.order_id "
        f"WHERE r.card_status = 'pending' AND o.customer_id IN ({_in(customer_ids)})"
    )
    return int(count) + int(parts)


def check_money(db: Database | None, recorder: Recorder, customer_ids: list[int]) -> Check:
    """Charges minus refunds equal what the orders say, and the gateway's ledger agrees."""
    if db is None:
        return Check(
            "money: charges and refunds match the orders and the gateway", "SKIP", ["no database"]
        )
    rows = db.rows(
        "SELECT o.id, o.status, o.paid_amount, p.method, p.amount, p.status, p.reference, "
        "s.amount, s.status, o.total, o.refunded_amount FROM orders o "
        "LEFT JOIN payments p ON p.order_id = o.id "
        "LEFT JOIN sandbox_charges s ON s.reference = p.reference "
        f"WHERE o.customer_id IN ({_in(customer_ids)})"
    )
    # Part refunds: ours per order (all, and the card's share), the gateway's per charge.
    parts = {
        int(oid): (int(n), int(amount), int(card))
        for oid, n, amount, card in db.rows(
            "SELECT r.order_id, COUNT(*), SUM(r.amount), SUM(r.card) FROM order_refunds r "
            f"JOIN orders o ON o.id = r.order_id WHERE o.customer_id IN ({_in(customer_ids)}) "
            "GROUP BY r.order_id"
        )
    }
    gateway_parts = {
        str(ref): int(amount)
        for ref, amount in db.rows(
            "SELECT g.charge_reference, SUM(g.amount) FROM sandbox_refunds g "
            "JOIN payments p ON p.reference = g.charge_reference "
            f"JOIN orders o ON o.id = p.order_id WHERE o.customer_id IN ({_in(customer_ids)}) "
            "GROUP BY g.charge_reference"
        )
    }
    bad: list[str] = []
    charged = refunded = ledger_charged = ledger_refunded = part_refunds = 0
    for oid, status, paid, method, amount, pstatus, ref, samount, sstatus, total, back in rows:
        if method is None:
            bad.append(f"order {oid} has no payment")
            continue
        if amount != paid:
            bad.append(f"order {oid}: paid_amount {paid}, payment {amount}")
        seen = recorder.orders.get(int(oid))
        if seen is not None and seen.paid_amount != paid:
            bad.append(
                f"order {oid}: the client was told {seen.paid_amount}, the order says {paid}"
            )
        should_refund = status in ("rejected", "cancelled")
        if (pstatus == "refunded") != should_refund:
            bad.append(f"order {oid} is {status} but its payment is {pstatus}")
        n_parts, parts_amount, parts_card = parts.get(int(oid), (0, 0, 0))
        part_refunds += n_parts
        if parts_amount != back or back > total:
            bad.append(f"order {oid}: refunds of ₩{parts_amount:,}, refunded_amount {back}")
        if method != "card" or amount == 0:
            continue
        charged += amount
        # Refunded in full, the card got everything back; else what part refunds gave.
        ours = amount if pstatus == "refunded" else parts_card
        refunded += ours
        if samount is None:
            bad.append(f"order {oid}: no charge in the gateway's ledger")
            continue
        ledger_charged += samount
        theirs = samount if sstatus == "refunded" else gateway_parts.get(str(ref), 0)
        ledger_refunded += theirs
        # A cancellation after part refunds gave all the card money back leaves the charge
        # captured at the gateway, fully refunded in parts.
        status_agrees = {"captured": "captured", "refunded": "refunded"}.get(
            pstatus
        ) == sstatus or (pstatus == "refunded" and sstatus == "captured" and theirs == samount)
        if samount != amount or not status_agrees or amount - ours != samount - theirs:
            bad.append(
                f"order {oid}: payment {amount} {pstatus} less ₩{ours:,}, gateway {samount} "
                f"{sstatus} less ₩{theirs:,}"
            )
    orphans = db.rows(
        "SELECT s.reference, s.amount, s.status FROM sandbox_charges s LEFT JOIN payments p "
        "ON p.reference = s.reference WHERE p.id IS NULL AND s.status IN ('captured', 'refunded') "
        "AND s.created_at >= FROM_UNIXTIME(%s)",
        (int(recorder.started) - 60,),
    )
    bad += [f"charge {ref} of {amt} ({st}) has no order" for ref, amt, st in orphans]
    return Check(
        "money: charges and refunds match the orders and the gateway",
        _verdict(not bad),
        [
            f"orders: charged ₩{charged:,}, refunded ₩{refunded:,}, net ₩{charged - refunded:,} "
            f"({part_refunds} part refunds)",
            f"gateway: charged ₩{ledger_charged:,}, refunded ₩{ledger_refunded:,}, "
            f"net ₩{ledger_charged - ledger_refunded:,}; charges without an order: {len(orphans)}",
        ]
        + ["problems: " + _sample(bad)] * bool(bad),
    )


def check_points(db: Database | None, customer_ids: list[int]) -> Check:
    """Balances re-derived from the ledger equal the stored ones; accruals and refunds once."""
    if db is None:
        return Check("points: balances equal the ledger", "SKIP", ["no database"])
    ids = _in(customer_ids)
    balances = {
        int(c): (int(a), int(u))
        for c, a, u in db.rows(
            f"SELECT customer_id, accrued, usable FROM point_balances WHERE customer_id IN ({ids})"
        )
    }
    derived = {
        int(c): (int(a), int(u))
        for c, a, u in db.rows(
            "SELECT customer_id, COALESCE(SUM(accrued_delta), 0), COALESCE(SUM(usable_delta), 0) "
            f"FROM point_ledger WHERE customer_id IN ({ids}) GROUP BY customer_id"
        )
    }
    bad = [
        f"customer {c}: stored {balances.get(c, (0, 0))}, ledger {derived.get(c, (0, 0))}"
        for c in set(balances) | set(derived)
        if balances.get(c, (0, 0)) != derived.get(c, (0, 0))
    ]
    accruals = db.rows(
        "SELECT o.id, o.status, o.paid_amount, l.accrued_delta FROM orders o LEFT JOIN point_ledger l "
        f"ON l.order_id = o.id AND l.reason = 'accrual' WHERE o.customer_id IN ({ids})"
    )
    for oid, status, paid, delta in accruals:
        want = paid * ACCRUAL_PERCENT // 100 if status == "delivered" else None
        if (delta is None and want) or (delta is not None and delta != want):
            bad.append(f"order {oid} ({status}, paid {paid}): accrued {delta}, expected {want}")
    # Points given back per order (in full, and by part refunds) never exceed the points it
    # used, and a rejected or cancelled order got them all back.
    restored = db.rows(
        "SELECT o.id, o.status, o.points_used, COALESCE(SUM(l.usable_delta), 0), "
        "(SELECT COALESCE(SUM(r.points), 0) FROM order_refunds r WHERE r.order_id = o.id) "
        "FROM orders o LEFT JOIN point_ledger l ON l.order_id = o.id "
        "AND l.reason IN ('refund', 'part_refund') "
        f"WHERE o.customer_id IN ({ids}) GROUP BY o.id, o.status, o.points_used"
    )
    for oid, status, used, back, parts in restored:
        if back > used or (status in ("rejected", "cancelled") and back != used):
            bad.append(f"order {oid} ({status}) used {used} points, {back} came back")
        if status not in ("rejected", "cancelled") and back != parts:
            bad.append(f"order {oid}: part refunds gave {parts} points, the ledger {back}")
    totals = db.rows(
        f"SELECT reason, COUNT(*), SUM(accrued_delta), SUM(usable_delta) FROM point_ledger "
        f"WHERE customer_id IN ({ids}) GROUP BY reason"
    )
    return Check(
        "points: balances equal the ledger",
        _verdict(not bad),
        [
            f"{len(balances)} balances; ledger: "
            + ", ".join(f"{r} {n} ({a:+,} accrued, {u:+,} usable)" for r, n, a, u in totals)
        ]
        + ["problems: " + _sample(bad)] * bool(bad),
    )


def check_coupons(db: Database | None, campaign_id: int | None) -> Check:
    """No campaign issued more than its quantity, nor two coupons to one customer."""
    if db is None or campaign_id is None:
        return Check(
            "coupons: no over-issue, one per customer", "SKIP", ["no database or no campaign"]
        )
    quantity, issued = db.rows(
        "SELECT quantity, issued FROM coupon_campaigns WHERE id = %s", (campaign_id,)
    )[0]
    coupons = db.rows(
        "SELECT customer_id, status FROM coupons WHERE campaign_id = %s", (campaign_id,)
    )
    twice = [c for c, n in Counter(r[0] for r in coupons).items() if n > 1]
    used = db.rows(
        "SELECT c.id, o.id, o.status FROM coupons c LEFT JOIN orders o ON o.coupon_id = c.id "
        "AND o.status NOT IN ('rejected', 'cancelled') WHERE c.campaign_id = %s AND c.status = 'used'",
        (campaign_id,),
    )
    orphan_use = [c for c, o, _s in used if o is None]
    ok = len(coupons) <= quantity and len(coupons) == issued and not twice and not orphan_use
    statuses = Counter(r[1] for r in coupons)
    return Check(
        "coupons: no over-issue, one per customer",
        _verdict(ok),
        [
            f"campaign {campaign_id}: quantity {quantity}, issued {issued}, coupons {len(coupons)} "
            f"({', '.join(f'{k} {v}' for k, v in sorted(statuses.items()))})"
        ]
        + [f"customers with two: {_sample(twice)}"] * bool(twice)
        + [f"used coupons without a live order: {_sample(orphan_use)}"] * bool(orphan_use),
    )


def check_errors(recorder: Recorder) -> Check:
    """Never a 500; a 503 always says Retry-After; during faults, only 503s and dropped ones."""
    bad = Counter[str]()
    during, outside = Counter[str](), Counter[str]()
    for a in recorder.answers:
        if a.status < 500 and a.status != 0:
            continue
        label = "dropped" if a.status == 0 else f"{a.status} {a.code}".strip()
        fault = recorder.in_fault(recorder.started + a.at)
        (during if fault else outside)[label] += 1
        if a.status >= 500 and a.status != 503:
            bad[f"{label} ({a.op})"] += 1
        elif a.status == 503 and not a.retry_after:
            bad[f"503 without Retry-After ({a.op})"] += 1

    def fmt(c: Counter[str]) -> str:
        return ", ".join(f"{k} ×{v}" for k, v in c.most_common()) or "none"

    return Check(
        "errors: no 5xx but 503 with Retry-After; during faults only 503 or a dropped connection",
        _verdict(not bad),
        [f"{len(recorder.answers)} answers; during faults: {fmt(during)}; outside: {fmt(outside)}"]
        + [f"problems: {fmt(bad)}"] * bool(bad),
    )


def check_retries(recorder: Recorder) -> Check:
    """A call sent again after a 503 or a dropped connection is not refused for what its own
    first attempt did: an order action refused as `invalid-transition` while the order is where
    that action leads, an accept refused as `already-assigned` while the order is the rider's.
    (A retry refused because someone else moved the order meanwhile is a right answer.)"""
    outcomes = Counter(f"{status} {code}".strip() for _, _, status, code in recorder.retried)
    refused = recorder.refused_retries
    return Check(
        "retries: a call retried after a lost answer is answered, never refused",
        _verdict(not refused),
        [
            f"{len(recorder.retried)} calls retried: "
            + (", ".join(f"{k} ×{v}" for k, v in outcomes.most_common()) or "none")
        ]
        + [f"refused for what they did: {_sample(refused)}"] * bool(refused),
    )
