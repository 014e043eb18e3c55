"""`create_app` returns the node's whole ASGI app: an in-process app serves Socket.IO too."""

from __future__ import annotations

import json
from typing import Any

import httpx

from app import DeliveryApp
from tests.conftest import AppPool
from tests.realtime.flows import open_store, place_order
from tests.realtime.polling import PollingClient
from tests.system import session_cookie


async def test_an_in_process_app_serves_sockets_that_get_its_events(
    apps: AppPool, app: DeliveryApp
) -> None:
    owner, customer = await apps.client(app), await apps.client(app)
    await owner.sign_in_as("owner")
    await customer.sign_in_as("customer")
    store_id, item_id = await open_store(owner)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        socket = PollingClient(http, session_cookie(owner))
        await socket.connect()
        ack = await socket.subscribe(f"store:{store_id}", after_seq=0)
        assert ack["ok"] and ack["last_seq"] == 0, ack
        order = await place_order(customer, store_id=store_id, item_id=item_id)
        events: list[dict[str, Any]] = []
        for _ in range(5):  # a ping may come first; each poll waits for the next packets
            if events:
                break
            events = [
                json.loads(packet[2:])[1]
                for packet in await socket.packets()
                if packet.startswith('42["event"')
            ]
    assert [(e["type"], e["seq"], e["data"]["id"]) for e in events] == [
        ("order.placed", 1, order["id"])
    ]


async def test_an_in_process_app_refuses_a_socket_without_a_session(app: DeliveryApp) -> None:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        socket = PollingClient(http, "no-such-session")
        opened = await socket.packets()
        socket.sid = json.loads(opened[0][1:])["sid"]
        await socket.send("40")
        refused = await socket.packets()
    assert refused[0].startswith("44"), refused
    assert json.loads(refused[0][2:])["code"] == "unauthenticated"
