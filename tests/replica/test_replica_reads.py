"""Catalog and order-history reads on a MariaDB read replica: fresh after a write on another node
however far the replica lags, and answered from the primary while the replica is gone."""

from __future__ import annotations

import signal
import time
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from app import DeliveryApp
from app.db import ReadUnitOfWork, replica_fallback
from tests.catalog.conftest import create_store, item_body
from tests.client import Api
from tests.conftest import AppPool
from tests.harness import Infra
from tests.orders.helpers import open_shop, place
from tests.replica.conftest import catch_up, replica_query, replica_selects
from tests.waiting import wait_until


async def signed_in(apps: AppPool, app: DeliveryApp, role: str) -> Api:
    api = await apps.client(app)
    await api.sign_in_as(role)
    return api


def order_ids(response: Any) -> list[int]:
    assert response.status_code == 200, response.text
    return [order["id"] for order in response.json()["orders"]]


async def test_replication_runs_and_a_write_reaches_the_replica(
    apps: AppPool, infra: Infra
) -> None:
    assert infra.replica is not None
    status = infra.replica.replication()
    assert (status["Slave_IO_Running"], status["Slave_SQL_Running"]) == ("Yes", "Yes")
    assert status["Using_Gtid"] == "Slave_Pos"
    assert replica_query(infra, "SELECT @@read_only") == [(1,)]
    app = await apps.start()
    owner = await signed_in(apps, app, "owner")

    store = await create_store(owner, name="Replicated Kimbap")

    async def replicated() -> bool:
        rows = replica_query(infra, "SELECT name FROM stores WHERE id = %s", store["id"])
        return rows == [("Replicated Kimbap",)]

    await wait_until(replicated, timeout=30, what="the new store on the replica")


async def test_reads_on_the_replica_never_write(apps: AppPool) -> None:
    app = await apps.start()
    async with app.container.db.read_uow() as uow:
        assert isinstance(uow, ReadUnitOfWork) and uow.on_replica
        # Even as root, whom the server's read_only does not bind.
        with pytest.raises(DBAPIError, match="READ ONLY"):
            await uow.session.execute(text("UPDATE stores SET name = 'x' WHERE id = 0"))
        with pytest.raises(RuntimeError):
            await uow.commit()


async def test_a_catalog_write_on_one_node_is_read_on_another_though_the_replica_lags(
    apps: AppPool, infra: Infra
) -> None:
    assert infra.replica is not None
    node_a, node_b = await apps.start(), await apps.start()
    owner = await signed_in(apps, node_a, "owner")
    reader = await apps.client(node_b)
    store = await create_store(owner, name="Before Kimbap")
    catch_up(infra)
    first = await reader.get(f"/api/stores/{store['id']}")
    assert first.status_code == 200 and first.json()["name"] == "Before Kimbap"
    listed = await reader.get("/api/stores", params={"q": "kimbap"})
    assert [s["name"] for s in listed.json()["stores"]] == ["Before Kimbap"]

    infra.replica.sql("STOP SLAVE SQL_THREAD")
    renamed = await owner.patch(f"/api/stores/{store['id']}", json={"name": "After Kimbap"})
    assert renamed.status_code == 200, renamed.text
    added = await owner.post(f"/api/stores/{store['id']}/menu", json=item_body(name="Gimbap"))
    assert added.status_code == 201, added.text
    # The lag is real: the replica has not applied the rename.
    assert replica_query(infra, "SELECT name FROM stores WHERE id = %s", store["id"]) == [
        ("Before Kimbap",)
    ]

    page = await reader.get(f"/api/stores/{store['id']}")
    assert page.status_code == 200
    assert page.headers["X-Cache"] == "miss"
    assert page.json()["name"] == "After Kimbap"
    menu = page.json()["menu"]
    assert [item["name"] for group in menu for item in group["items"]] == ["Gimbap"]
    listed = await reader.get("/api/stores", params={"q": "kimbap"})
    assert [s["name"] for s in listed.json()["stores"]] == ["After Kimbap"]
    # What was cached under the new version is the new data, on every node.
    again = await (await apps.client(node_a)).get(f"/api/stores/{store['id']}")
    assert again.headers["X-Cache"] == "hit" and again.json()["name"] == "After Kimbap"


async def test_order_history_answers_from_the_lagging_replica(apps: AppPool, infra: Infra) -> None:
    assert infra.replica is not None
    app = await apps.start()
    owner = await signed_in(apps, app, "owner")
    customer = await signed_in(apps, app, "customer")
    shop = await open_shop(owner)
    first = await place(customer, shop)
    catch_up(infra)

    infra.replica.sql("STOP SLAVE SQL_THREAD")
    second = await place(customer, shop)

    # History comes from the replica, which has not applied the second order yet.
    assert order_ids(await customer.get("/api/orders")) == [first["id"]]
    assert order_ids(await owner.get("/api/orders")) == [first["id"]]
    # What a party acts on reads the primary.
    current = await customer.get(f"/api/orders/{second['id']}")
    assert current.status_code == 200 and current.json()["status"] == second["status"]

    infra.replica.sql("START SLAVE SQL_THREAD")
    catch_up(infra)
    assert order_ids(await customer.get("/api/orders")) == [second["id"], first["id"]]


async def test_reads_answer_from_the_primary_while_the_replica_is_down_and_use_it_when_back(
    apps: AppPool, infra: Infra
) -> None:
    assert infra.replica is not None
    # Without the catalog cache every catalog read reaches the database.
    app = await apps.start(apps.settings.model_copy(update={"catalog_cache": False}))
    owner = await signed_in(apps, app, "owner")
    customer = await signed_in(apps, app, "customer")
    shop = await open_shop(owner)
    order = await place(customer, shop)
    catch_up(infra)
    health = app.container.db.replica_health

    infra.replica.kill()
    renamed = await owner.patch(f"/api/stores/{shop.id}", json={"name": "Primary Burgers"})
    assert renamed.status_code == 200, renamed.text
    page = await customer.get(f"/api/stores/{shop.id}")
    assert page.status_code == 200 and page.json()["name"] == "Primary Burgers"
    near = await customer.get("/api/stores", params={"lat": 37.5665, "lng": 126.9780})
    assert near.status_code == 200
    assert [s["id"] for s in near.json()["stores"]] == [shop.id]
    reviews = await customer.get(f"/api/stores/{shop.id}/reviews")
    assert reviews.status_code == 200 and reviews.json()["reviews"] == []
    assert order_ids(await customer.get("/api/orders")) == [order["id"]]
    assert order_ids(await owner.get("/api/orders")) == [order["id"]]
    assert health.failures >= 1

    infra.replica.start()
    catch_up(infra)
    before = replica_selects(infra)

    async def replica_used() -> bool:
        assert order_ids(await customer.get("/api/orders")) == [order["id"]]
        return replica_selects(infra) > before

    await wait_until(replica_used, timeout=30, what="history reads on the replica again")


async def test_a_hung_replica_holds_reads_up_for_two_seconds_at_most(
    apps: AppPool, infra: Infra
) -> None:
    assert infra.replica is not None and infra.replica.process is not None
    app = await apps.start(apps.settings.model_copy(update={"catalog_cache": False}))
    owner = await signed_in(apps, app, "owner")
    customer = await signed_in(apps, app, "customer")
    shop = await open_shop(owner)
    order = await place(customer, shop)
    catch_up(infra)
    # Connections to it are pooled and alive: the stop is seen only when one is pinged.
    assert order_ids(await customer.get("/api/orders")) == [order["id"]]

    infra.replica.process.send_signal(signal.SIGSTOP)
    try:
        started = time.monotonic()
        assert order_ids(await customer.get("/api/orders")) == [order["id"]]
        page = await customer.get(f"/api/stores/{shop.id}")
        assert page.status_code == 200 and page.json()["id"] == shop.id
        # One wait of 2 s, then the primary at once (unbounded, the ping would wait for the
        # replica to resume); the margin is for a loaded machine.
        assert time.monotonic() - started < 10
        assert app.container.db.replica_health.failures == 1
    finally:
        infra.replica.process.send_signal(signal.SIGCONT)


async def test_a_replica_lost_in_the_middle_of_a_read_costs_the_reader_nothing(
    apps: AppPool, infra: Infra
) -> None:
    app = await apps.start()
    owner = await signed_in(apps, app, "owner")
    store = await create_store(owner, name="Midway Kimbap")
    catch_up(infra)
    db = app.container.db
    failures = db.replica_health.failures
    attempts: list[bool] = []

    @replica_fallback
    async def read_name() -> object:
        async with db.read_uow() as uow:
            assert isinstance(uow, ReadUnitOfWork)
            attempts.append(uow.on_replica)
            if len(attempts) == 1:
                # The replica drops this very connection between its ping and the read.
                [(connection,)] = (await uow.session.execute(text("SELECT CONNECTION_ID()"))).all()
                replica_query(infra, f"KILL CONNECTION {int(connection)}")
            return await uow.session.scalar(
                text("SELECT name FROM stores WHERE id = :id"), {"id": store["id"]}
            )

    assert await read_name() == "Midway Kimbap"
    # Read once on the replica (lost), then again on the primary, the replica marked down.
    assert attempts == [True, False]
    assert db.replica_health.failures == failures + 1
