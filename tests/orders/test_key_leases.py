"""An Idempotency-Key is held by a lease its live request renews: a stalled request keeps it, a
dead one loses it within one lease, and a request whose key was taken over cannot finish."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import Any

import httpx
import pymysql

from app.launcher.nodes import Node
from tests.client import Api, assert_problem
from tests.conftest import AppPool
from tests.harness import Infra
from tests.orders.helpers import new_key, open_shop, order_body
from tests.waiting import wait_until

LEASE = 1.0


@contextmanager
def ledger_locked(infra: Infra) -> Iterator[None]:
    """Hold a table lock on the sandbox gateway's ledger: every charge waits, as on a hung
    gateway, until the block ends."""
    conn = pymysql.connect(**infra.sync_db)  # type: ignore[arg-type]
    try:
        with conn.cursor() as cursor:
            cursor.execute("LOCK TABLES sandbox_charges WRITE")
        yield
        with conn.cursor() as cursor:
            cursor.execute("UNLOCK TABLES")
    finally:
        conn.close()


def charges_waiting(infra: Infra) -> int:
    """How many charges wait on the ledger right now."""
    [(count,)] = infra.query(
        "SELECT COUNT(*) FROM information_schema.processlist "
        "WHERE id <> CONNECTION_ID() AND info LIKE 'INSERT INTO sandbox_charges%%'"
    )
    return int(str(count))


def key_reference(infra: Infra, key: str) -> str | None:
    """The payment reference under which `key` is held now (its fencing token)."""
    rows = infra.query("SELECT payment_reference FROM idempotency_keys WHERE `key` = %s", key)
    return str(rows[0][0]) if rows else None


@contextmanager
def node_on(infra: Infra, name: str, **env: str) -> Iterator[Node]:
    """A real `delivery serve` node on the test's services, stopped (and resumed) at the end."""
    node = infra.start_node(name, ORDER_KEY_LEASE_SECONDS=str(LEASE), **env)
    try:
        yield node
    finally:
        if node.process is not None:
            os.kill(node.process.pid, signal.SIGCONT)
        node.stop()


async def _cast(apps: AppPool, infra: Infra, customer_a: Api) -> tuple[Api, Api]:
    """An owner on an in-process node, and `customer_a` (on the real node) signed in as a
    customer, with a second client of that customer on the in-process node."""
    app = await apps.start(infra.settings(order_key_lease_seconds=LEASE))
    owner, customer_b = await apps.client(app), await apps.client(app)
    await owner.sign_in_as("owner")
    await customer_a.sign_in_as("customer")
    customer_a.share_session_with(customer_b)
    return owner, customer_b


async def test_a_request_stalled_on_the_gateway_keeps_its_key_for_many_leases(
    apps: AppPool, infra: Infra
) -> None:
    settings = infra.settings(order_key_lease_seconds=LEASE)
    node_a, node_b = await apps.start(settings), await apps.start(settings)
    owner, customer_a, customer_b = (
        await apps.client(node_a),
        await apps.client(node_a),
        await apps.client(node_b),
    )
    await owner.sign_in_as("owner")
    await customer_a.sign_in_as("customer")
    customer_a.share_session_with(customer_b)
    shop = await open_shop(owner)
    key, body = new_key(), order_body(shop)
    headers = {"Idempotency-Key": key}

    with ledger_locked(infra):
        first = asyncio.create_task(customer_a.post("/api/orders", json=body, headers=headers))
        await wait_until(lambda: charges_waiting(infra) == 1, what="the charge to hang")
        stalled_at = time.monotonic()

        async def refused_for_three_leases() -> bool:
            retry = await customer_b.post("/api/orders", json=body, headers=headers)
            assert_problem(retry, 409, "idempotency-in-progress")
            return time.monotonic() - stalled_at > 3 * LEASE

        await wait_until(
            refused_for_three_leases, timeout=30, interval=0.2, what="three leases to pass"
        )
    placed = await first
    assert placed.status_code == 201, placed.text
    again = await customer_b.post("/api/orders", json=body, headers=headers)
    assert again.status_code == 201 and again.json()["id"] == placed.json()["id"]
    assert infra.query("SELECT COUNT(*) FROM orders") == [(1,)]
    assert infra.query("SELECT reference, status FROM sandbox_charges") == [
        (placed.json()["payment"]["reference"], "captured")
    ]


async def test_a_paused_request_whose_key_was_taken_over_voids_its_charge_and_places_nothing(
    apps: AppPool, infra: Infra
) -> None:
    with node_on(infra, "orders-paused") as node:
        assert node.process is not None
        http = httpx.AsyncClient(base_url=node.url, timeout=60)
        customer_a = Api(http)
        owner, customer_b = await _cast(apps, infra, customer_a)
        shop = await open_shop(owner)
        key, body = new_key(), order_body(shop)
        headers = {"Idempotency-Key": key}
        retries: list[asyncio.Task[httpx.Response]] = []
        with ledger_locked(infra):
            first = asyncio.create_task(customer_a.post("/api/orders", json=body, headers=headers))
            await wait_until(lambda: charges_waiting(infra) == 1, what="the first charge to hang")
            first_reference = key_reference(infra, key)
            # The node stops mid-charge (a long GC pause, a frozen VM): its lease runs out.
            os.kill(node.process.pid, signal.SIGSTOP)

            async def taken_over() -> bool:
                if not retries or retries[-1].done():
                    if retries:
                        assert_problem(retries[-1].result(), 409, "idempotency-in-progress")
                    retries.append(
                        asyncio.create_task(
                            customer_b.post("/api/orders", json=body, headers=headers)
                        )
                    )
                return key_reference(infra, key) != first_reference

            await wait_until(taken_over, timeout=30, interval=0.1, what="a retry to take the key")
            await wait_until(lambda: charges_waiting(infra) == 2, what="the retry's charge to hang")
        retry = await retries[-1]
        assert retry.status_code == 201, retry.text
        order = retry.json()
        # The first request's charge goes through at the gateway once it runs again.
        os.kill(node.process.pid, signal.SIGCONT)
        answer = await first
        await http.aclose()

    assert answer.status_code in (201, 409), answer.text
    if answer.status_code == 201:
        assert answer.json()["id"] == order["id"]
    else:
        assert_problem(answer, 409, "idempotency-in-progress")
    assert infra.query("SELECT id FROM orders") == [(order["id"],)]
    charges: dict[Any, Any] = dict(infra.query("SELECT reference, status FROM sandbox_charges"))
    assert charges == {order["payment"]["reference"]: "captured", first_reference: "voided"}
    again = await customer_b.post("/api/orders", json=body, headers=headers)
    assert again.status_code == 201 and again.json()["id"] == order["id"]


async def test_the_key_of_a_request_whose_node_died_is_taken_by_a_retry_within_a_lease(
    apps: AppPool, infra: Infra
) -> None:
    # Each charge takes 5 s at the gateway: long enough to kill the node in the middle of one.
    with node_on(infra, "orders-dying", PAYMENT_LATENCY_MS="5000") as node:
        http = httpx.AsyncClient(base_url=node.url, timeout=60)
        customer_a = Api(http)
        owner, customer_b = await _cast(apps, infra, customer_a)
        shop = await open_shop(owner)
        key, body = new_key(), order_body(shop)
        headers = {"Idempotency-Key": key}
        first = asyncio.create_task(customer_a.post("/api/orders", json=body, headers=headers))
        await wait_until(lambda: key_reference(infra, key), what="the first request's key")
        node.kill()
        died_at = time.monotonic()
        with suppress(httpx.HTTPError):
            await first
        await http.aclose()

        async def placed() -> httpx.Response | None:
            retry = await customer_b.post("/api/orders", json=body, headers=headers)
            if retry.status_code == 409:
                assert_problem(retry, 409, "idempotency-in-progress")
                return None
            return retry

        retry = await wait_until(placed, timeout=30, interval=0.1, what="the retry's order")
    took = time.monotonic() - died_at
    assert retry.status_code == 201, retry.text
    # One lease (and the retry's own charge), not the minute a dead request used to hold it.
    assert took < LEASE + 5, took
    assert infra.query("SELECT id FROM orders") == [(retry.json()["id"],)]
    assert infra.query("SELECT reference, status FROM sandbox_charges") == [
        (retry.json()["payment"]["reference"], "captured")
    ]


@contextmanager
def stream_head_locked(infra: Infra, stream: str) -> Iterator[None]:
    """Hold the row lock of a stream's head: a transaction that records an event on it waits
    (after its charge is captured) until the block ends."""
    conn = pymysql.connect(**infra.sync_db)  # type: ignore[arg-type]
    try:
        with conn.cursor() as cursor:
            cursor.execute("BEGIN")
            cursor.execute(
                "SELECT last_seq FROM stream_heads WHERE stream = %s FOR UPDATE", (stream,)
            )
            assert cursor.fetchone() is not None, f"{stream} has no head yet"
        yield
        conn.rollback()
    finally:
        conn.close()


def order_waiting_on_head(infra: Infra) -> bool:
    """Whether an order's transaction waits on a stream head right now."""
    rows = infra.query(
        "SELECT COUNT(*) FROM information_schema.processlist "
        "WHERE id <> CONNECTION_ID() AND info LIKE 'INSERT INTO stream_heads%%'"
    )
    return int(str(rows[0][0])) == 1


async def test_a_charge_captured_before_its_node_died_is_voided_once_a_retry_takes_the_key(
    apps: AppPool, infra: Infra
) -> None:
    with node_on(infra, "orders-crashing") as node:
        http = httpx.AsyncClient(base_url=node.url, timeout=60)
        customer_a = Api(http)
        owner, customer_b = await _cast(apps, infra, customer_a)
        shop = await open_shop(owner)
        # An earlier order gives the store's stream its head row, which the test then holds.
        earlier = await customer_b.post(
            "/api/orders", json=order_body(shop), headers={"Idempotency-Key": new_key()}
        )
        assert earlier.status_code == 201, earlier.text
        key, body = new_key(), order_body(shop)
        headers = {"Idempotency-Key": key}
        with stream_head_locked(infra, f"store:{shop.id}"):
            first = asyncio.create_task(customer_a.post("/api/orders", json=body, headers=headers))
            await wait_until(lambda: order_waiting_on_head(infra), what="the order to wait")
            first_reference = key_reference(infra, key)
            # The gateway has taken the money; the order has not committed. The node dies.
            assert infra.query(
                "SELECT status FROM sandbox_charges WHERE reference = %s", first_reference
            ) == [("captured",)]
            node.kill()
        with suppress(httpx.HTTPError):
            await first
        await http.aclose()

    async def placed() -> httpx.Response | None:
        retry = await customer_b.post("/api/orders", json=body, headers=headers)
        if retry.status_code == 409:
            assert_problem(retry, 409, "idempotency-in-progress")
            return None
        return retry

    retry = await wait_until(placed, timeout=30, interval=0.1, what="the retry's order")
    assert retry.status_code == 201, retry.text
    order = retry.json()

    def charges() -> dict[Any, Any]:
        rows = infra.query("SELECT reference, status FROM sandbox_charges")
        return {
            ref: status for ref, status in rows if ref != earlier.json()["payment"]["reference"]
        }

    # Every node's sweeper looks for superseded charges; one voids it, once.
    await wait_until(
        lambda: charges().get(first_reference) == "voided",
        timeout=60,
        what="the dead request's charge to be voided",
    )
    assert charges() == {order["payment"]["reference"]: "captured", first_reference: "voided"}
    assert infra.query("SELECT COUNT(*) FROM orders") == [(2,)]
    assert infra.query(
        "SELECT settled_at IS NOT NULL FROM superseded_charges WHERE reference = %s",
        first_reference,
    ) == [(1,)]
