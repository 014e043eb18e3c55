"""Who may call what, on whose data: every route × every kind of caller, as one table.

The rows are checked against the app's route table, so a new route without a row fails the
test. Each row is run on a world of its own (fresh accounts, a store with a menu, an order in
the state the route needs), so that one row's writes cannot change another row's answer.

Callers: `anon` (no session); `customer`, `owner`, `rider` (the order's own customer, its
store's owner, its assigned or offered rider); `customer2`, `owner2`, `rider2` (the same roles
with nothing to do with that order or store); `admin`.

Streams follow the same scheme: `subscribe` over a real Socket.IO connection to the in-process
app (long-polling over its ASGI transport); the expected answer is the ack's `code`, `ok`, or
`unauthenticated` for a connection refused without a session.

Expected answers: a status code, or `ok` — let through: anything but 401, 403 and 404 (a 409
because an earlier caller in the same row already moved the order is still "allowed"). Pages
(`page`) answer 200 to their role and redirect (302) everyone else.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from app import DeliveryApp
from realtime.access import OPS_STREAM, STREAM
from tests.catalog.conftest import image_bytes
from tests.client import DEFAULT_PASSWORD, Api
from tests.conftest import AppPool
from tests.orders.helpers import CITY_HALL, Shop, new_key, open_shop, order_body, place
from tests.realtime.polling import PollingClient
from tests.rewards.helpers import campaign_body, sign_in_admin
from tests.waiting import wait_until

CALLERS = ("anon", "customer", "customer2", "owner", "owner2", "rider", "rider2", "admin")
OK = "ok"

# Who may do what to whose data. `world` names the state the route needs (see `World`).
Row = tuple[str, str]  # (expectations, world)
MATRIX: dict[str, Row] = {
    # Accounts
    "POST /api/auth/signup": ("all=ok", "bare"),
    "POST /api/auth/login": ("all=ok", "bare"),
    "POST /api/auth/logout": ("anon=401 others=ok", "bare"),
    "GET /api/me": ("anon=401 others=ok", "bare"),
    # Catalog: stores are public; only their owner writes (another owner: 403, not secret)
    "GET /api/stores": ("all=ok", "store"),
    "POST /api/stores": ("anon=401 owner=ok owner2=ok others=403", "bare"),
    "GET /api/stores/<int:store_id>": ("all=ok", "store"),
    "PATCH /api/stores/<int:store_id>": ("anon=401 owner=ok others=403", "store"),
    "PUT /api/stores/<int:store_id>/image": ("anon=401 owner=ok others=403", "store"),
    "POST /api/stores/<int:store_id>/menu": ("anon=401 owner=ok others=403", "store"),
    "PATCH /api/menu-items/<int:item_id>": ("anon=401 owner=ok others=403", "store"),
    "DELETE /api/menu-items/<int:item_id>": ("anon=401 owner=ok others=403", "store"),
    "PUT /api/menu-items/<int:item_id>/image": ("anon=401 owner=ok others=403", "store"),
    "GET /media/<path:key>": ("all=ok", "store"),
    "PUT /api/stores/<int:store_id>/hours": ("anon=401 owner=ok others=403", "store"),
    "POST /api/stores/<int:store_id>/pause": ("anon=401 owner=ok others=403", "store"),
    "DELETE /api/stores/<int:store_id>/pause": ("anon=401 owner=ok others=403", "store"),
    "GET /api/stores/<int:store_id>/delivery-quote": ("all=ok", "store"),
    # A store's money: its owner, or an admin (who runs the platform); another owner 403
    "GET /api/stores/<int:store_id>/settlement": ("anon=401 owner=ok admin=ok others=403", "store"),
    # Points and coupons
    "GET /api/me/points": ("anon=401 customer=ok customer2=ok others=403", "bare"),
    "POST /api/me/points/convert": ("anon=401 customer=ok customer2=ok others=403", "bare"),
    "GET /api/coupon-campaigns": ("all=ok", "campaign"),
    "POST /api/coupon-campaigns": ("anon=401 admin=ok others=403", "bare"),
    "POST /api/coupon-campaigns/<int:campaign_id>/claim": (
        "anon=401 customer=ok customer2=ok others=403",
        "campaign",
    ),
    "GET /api/me/coupons": ("anon=401 customer=ok customer2=ok others=403", "bare"),
    # Orders: a non-party gets 404 (it may not know the order exists); a role that can never
    # take the action gets 403
    "POST /api/orders": ("anon=401 customer=ok customer2=ok others=403", "store"),
    "POST /api/orders/quote": ("anon=401 customer=ok customer2=ok others=403", "store"),
    "GET /api/orders": ("anon=401 others=ok", "placed"),
    "GET /api/orders/<int:order_id>": (
        "anon=401 customer=ok owner=ok rider=ok others=404",
        "assigned",
    ),
    "POST /api/orders/<int:order_id>/accept": (
        "anon=401 owner=ok owner2=404 others=403",
        "placed",
    ),
    "POST /api/orders/<int:order_id>/reject": (
        "anon=401 owner=ok owner2=404 others=403",
        "placed",
    ),
    "POST /api/orders/<int:order_id>/cancel": (
        "anon=401 customer=ok owner=ok customer2=404 owner2=404 others=403",
        "placed",
    ),
    "POST /api/orders/<int:order_id>/ready": (
        "anon=401 owner=ok owner2=404 others=403",
        "accepted",
    ),
    "POST /api/orders/<int:order_id>/pickup": (
        "anon=401 rider=ok rider2=404 others=403",
        "ready",
    ),
    "POST /api/orders/<int:order_id>/deliver": (
        "anon=401 rider=ok rider2=404 others=403",
        "picked_up",
    ),
    "POST /api/orders/<int:order_id>/delay": (
        "anon=401 owner=ok owner2=404 others=403",
        "accepted",
    ),
    # A refund: the store's owner or an admin (who runs the platform); another owner does not
    # know the order exists
    "POST /api/orders/<int:order_id>/refunds": (
        "anon=401 owner=ok owner2=404 admin=ok others=403",
        "accepted",
    ),
    # Dispatch: only riders; an offer or an order is the rider's own or not found
    "PUT /api/riders/me/shift": ("anon=401 rider=ok rider2=ok others=403", "bare"),
    "PUT /api/riders/me/location": ("anon=401 rider=ok rider2=ok others=403", "bare"),
    "GET /api/dispatch/offers": ("anon=401 rider=ok rider2=ok others=403", "bare"),
    "GET /api/riders/me/earnings": ("anon=401 rider=ok rider2=ok others=403", "bare"),
    "POST /api/dispatch/offers/<int:order_id>/accept": (
        "anon=401 rider=ok rider2=404 others=403",
        "offered",
    ),
    "POST /api/dispatch/offers/<int:order_id>/release": (
        "anon=401 rider=ok rider2=404 others=403",
        "assigned",
    ),
    # A bundle (batch dispatch) is a rider's only; one never offered to them is 404 (taking a
    # real one, both orders or neither: tests/dispatch/test_bundles.py).
    "POST /api/dispatch/bundles/<int:bundle_id>/accept": (
        "anon=401 rider=404 rider2=404 others=403",
        "bare",
    ),
    # Reviews: its customer reviews a delivered order (a stranger gets 404); reviews are public,
    # so another owner's reply is 403
    "POST /api/orders/<int:order_id>/review": (
        "anon=401 customer=ok customer2=404 others=403",
        "delivered",
    ),
    "GET /api/orders/<int:order_id>/review": (
        "anon=401 customer=ok customer2=404 others=403",
        "reviewed",
    ),
    "GET /api/stores/<int:store_id>/reviews": ("all=ok", "reviewed"),
    "POST /api/reviews/<int:review_id>/reply": ("anon=401 owner=ok others=403", "reviewed"),
    # Operations and documentation: public (nginx keeps /metrics off the public address)
    "GET /healthz": ("all=ok", "bare"),
    "GET /readyz": ("all=ok", "bare"),
    "GET /metrics": ("all=ok", "bare"),
    "GET /docs": ("all=ok", "bare"),
    "GET /api/openapi.json": ("all=ok", "bare"),
    "GET /static/<path:filename>": ("all=ok", "bare"),
    "GET /vendor/<name>/<path:filename>": ("all=ok", "bare"),
    # Address book and favourites: the customer's own; another customer's address is unknown
    "GET /api/me/addresses": ("anon=401 customer=ok customer2=ok others=403", "bare"),
    "POST /api/me/addresses": ("anon=401 customer=ok customer2=ok others=403", "bare"),
    "PATCH /api/me/addresses/<int:address_id>": (
        "anon=401 customer=ok customer2=404 others=403",
        "address",
    ),
    "DELETE /api/me/addresses/<int:address_id>": (
        "anon=401 customer=ok customer2=404 others=403",
        "address",
    ),
    "GET /api/me/favourites": ("anon=401 customer=ok customer2=ok others=403", "bare"),
    "PUT /api/me/favourites/<int:store_id>": (
        "anon=401 customer=ok customer2=ok others=403",
        "store",
    ),
    "DELETE /api/me/favourites/<int:store_id>": (
        "anon=401 customer=ok customer2=ok others=403",
        "store",
    ),
    "POST /api/orders/<int:order_id>/reorder": (
        "anon=401 customer=ok customer2=404 others=403",
        "placed",
    ),
    # Pages: the role's own pages, everyone else is sent where they belong
    "GET /": ("anon=200 others=302", "bare"),
    "GET /customer": ("customer=200 customer2=200 others=302", "bare"),
    "GET /customer/stores/<int:store_id>": ("customer=200 customer2=200 others=302", "store"),
    "GET /customer/checkout": ("customer=200 customer2=200 others=302", "bare"),
    "GET /customer/orders": ("customer=200 customer2=200 others=302", "bare"),
    "GET /customer/orders/<int:order_id>": ("customer=200 customer2=200 others=302", "placed"),
    "GET /customer/rewards": ("customer=200 customer2=200 others=302", "bare"),
    "GET /customer/addresses": ("customer=200 customer2=200 others=302", "bare"),
    "GET /owner": ("owner=200 owner2=200 others=302", "bare"),
    "GET /owner/stores/<int:store_id>": ("owner=200 owner2=403 others=302", "store"),
    "GET /owner/stores/<int:store_id>/board": ("owner=200 owner2=403 others=302", "store"),
    "GET /rider": ("rider=200 rider2=200 others=302", "bare"),
    "GET /admin": ("admin=200 others=302", "bare"),
    # The operations console: admins only, on anyone's data
    "GET /api/admin/overview": ("anon=401 admin=ok others=403", "bare"),
    "GET /api/admin/orders": ("anon=401 admin=ok others=403", "accepted"),
    "GET /api/admin/riders": ("anon=401 admin=ok others=403", "bare"),
    "GET /api/admin/audit": ("anon=401 admin=ok others=403", "bare"),
    "POST /api/admin/orders/<int:order_id>/assign": ("anon=401 admin=ok others=403", "offered"),
    "POST /api/admin/orders/<int:order_id>/cancel": ("anon=401 admin=ok others=403", "accepted"),
    "PATCH /api/admin/users/<int:user_id>": ("anon=401 admin=ok others=403", "bare"),
    "PATCH /api/admin/stores/<int:store_id>": ("anon=401 admin=ok others=403", "store"),
}


# Who may follow which stream (the socket handlers' `subscribe`): a party, or not-found for
# whatever the caller may not know exists; a store is public, so another's is `forbidden`.
STREAMS: dict[str, Row] = {
    "order": ("anon=unauthenticated customer=ok owner=ok rider=ok others=not-found", "assigned"),
    "store": ("anon=unauthenticated owner=ok others=forbidden", "store"),
    "rider": ("anon=unauthenticated rider=ok others=not-found", "bare"),
    # A store's public stream carries only what its page shows anyone: anyone signed in
    "store-public": ("anon=unauthenticated others=ok", "store"),
    # Every store's order events and riders' positions: the operators' only
    "ops": ("anon=unauthenticated admin=ok others=forbidden", "bare"),
}
MATRIX_ADDRESS = {"label": "Home", "text": "1 Sejong-daero", "lat": 37.566, "lng": 126.977}
SOCKET_EVENTS = {"connect", "disconnect", "subscribe", "unsubscribe"}


def expectations(spec: str) -> dict[str, str]:
    """`anon=401 owner=ok others=403` → the answer expected from every caller."""
    given = dict(part.split("=") for part in spec.split())
    default = given.pop("all", None) or given.pop("others", None)
    result = {caller: given.get(caller, default) for caller in CALLERS}
    missing = [caller for caller, want in result.items() if want is None]
    assert not missing, f"{spec!r} says nothing of {missing}"
    return {caller: str(want) for caller, want in result.items()}


@dataclass
class World:
    """Fresh accounts and, as the row needs, a store, a campaign and an order."""

    callers: dict[str, Api | None]
    shop: Shop | None = None
    order: dict[str, Any] | None = None
    campaign: dict[str, Any] | None = None
    review: dict[str, Any] | None = None
    media: str = ""
    values: dict[str, Any] = field(default_factory=dict)

    def api(self, caller: str) -> Api:
        api = self.callers[caller]
        assert api is not None
        return api


async def build_world(apps: AppPool, app: DeliveryApp, state: str) -> World:
    """Every caller signed in on its own client, and the resources `state` needs."""
    callers: dict[str, Api | None] = {"anon": await apps.client(app)}
    for caller in CALLERS[1:-1]:
        api = await apps.client(app)
        await api.sign_in_as(caller.rstrip("2"))
        callers[caller] = api
    callers["admin"] = await sign_in_admin(apps, app)
    world = World(callers)
    if state == "bare":
        return world
    if state == "address":
        saved = await world.api("customer").post("/api/me/addresses", json=MATRIX_ADDRESS)
        assert saved.status_code == 201, saved.text
        world.values["address_id"] = saved.json()["id"]
        return world
    if state == "campaign":
        created = await world.api("admin").post("/api/coupon-campaigns", json=campaign_body())
        assert created.status_code == 201, created.text
        world.campaign = created.json()
        return world
    world.shop = await open_shop(world.api("owner"))
    image = await world.api("owner").put(
        f"/api/stores/{world.shop.id}/image",
        files={"file": ("p.png", image_bytes(), "image/png")},
    )
    assert image.status_code == 200, image.text
    world.media = image.json()["image_url"]
    if state == "store":
        return world
    rider = world.api("rider")
    near = {"lat": CITY_HALL["lat"], "lng": CITY_HALL["lng"]}
    shift = await rider.put("/api/riders/me/shift", json={"online": True, **near})
    assert shift.status_code == 200, shift.text
    world.order = await place(world.api("customer"), world.shop)
    if state == "placed":
        return world
    await _move(world, "owner", "accept", {"prep_minutes": 10})
    if state == "accepted":
        return world

    async def offered() -> bool:
        offers = (await rider.get("/api/dispatch/offers")).json()["offers"]
        return any(o["order_id"] == _order_id(world) for o in offers)

    await wait_until(offered, timeout=20, what="the rider's offer")
    if state == "offered":
        return world
    taken = await rider.post(f"/api/dispatch/offers/{_order_id(world)}/accept")
    assert taken.status_code == 200, taken.text
    if state == "assigned":
        return world
    await _move(world, "owner", "ready", {})
    if state == "ready":
        return world
    await _move(world, "rider", "pickup", {})
    if state == "picked_up":
        return world
    await _move(world, "rider", "deliver", {})
    if state == "delivered":
        return world
    reviewed = await world.api("customer").post(
        f"/api/orders/{_order_id(world)}/review", json={"rating": 4, "text": "Good"}
    )
    assert reviewed.status_code == 201, reviewed.text
    world.review = reviewed.json()
    assert state == "reviewed", state
    return world


def _order_id(world: World) -> int:
    assert world.order is not None
    return int(world.order["id"])


async def _move(world: World, caller: str, action: str, body: dict[str, Any]) -> None:
    response = await world.api(caller).post(f"/api/orders/{_order_id(world)}/{action}", json=body)
    assert response.status_code == 200, response.text


Call = Callable[[Api], Awaitable[Any]]


def request_for(route: str, world: World) -> Call:
    """A well-formed request to `route` about the world's own resources."""
    method, rule = route.split(" ", 1)
    shop, order = world.shop, world.order
    values = {
        "store_id": shop.id if shop else 1,
        "item_id": shop.fries["id"] if shop else 1,
        "order_id": order["id"] if order else 1,
        "campaign_id": world.campaign["id"] if world.campaign else 1,
        "address_id": world.values.get("address_id", 1),
        "review_id": world.review["id"] if world.review else 1,
        "bundle_id": world.values.get("bundle_id", 1),
        "user_id": (world.api("customer2").user or {}).get("id", 1),
        "key": world.media.removeprefix("/media/"),
        "filename": "css/app.css" if rule.startswith("/static") else "socket.io.min.js",
        "name": "socket.io",
    }
    path = re.sub(r"<(?:\w+:)?(\w+)>", lambda m: str(values[m.group(1)]), rule)
    if rule.endswith("/delivery-quote"):
        path += "?lat=37.566&lng=126.977"
    bodies: dict[str, Any] = {
        "POST /api/auth/signup": {
            "email": f"new-{new_key()}@example.com",
            "password": "correct-horse-battery",
            "name": "New",
            "role": "customer",
        },
        "POST /api/auth/login": {
            "email": (world.api("customer2").user or {}).get("email"),
            "password": DEFAULT_PASSWORD,
        },
        "POST /api/stores": {
            "name": "Matrix Kitchen",
            "category": "korean",
            "address": "1 Sejong-daero",
            "lat": 37.566,
            "lng": 126.977,
            "phone": "02-123-4567",
            "min_order": 0,
            "delivery_fee": 0,
        },
        "PATCH /api/stores/<int:store_id>": {"open": True},
        "PUT /api/stores/<int:store_id>/hours": {"weekly": [], "closed_dates": []},
        "POST /api/stores/<int:store_id>/pause": {"minutes": 10},
        "POST /api/stores/<int:store_id>/menu": {"name": "Tea", "price": 1000, "group": "Drinks"},
        "PATCH /api/menu-items/<int:item_id>": {"price": 3100},
        "POST /api/me/points/convert": {"amount": 5000},
        "POST /api/coupon-campaigns": campaign_body(),
        "POST /api/orders/<int:order_id>/accept": {"prep_minutes": 10},
        "POST /api/orders/<int:order_id>/reject": {"reason": "closing"},
        "POST /api/orders/<int:order_id>/cancel": {"reason": "changed my mind"},
        "POST /api/orders/<int:order_id>/delay": {"minutes": 10},
        "POST /api/orders/<int:order_id>/refunds": {"amount": 100, "reason": "Missing sauce."},
        "PUT /api/riders/me/shift": {"online": True, "lat": 37.566, "lng": 126.977},
        "PUT /api/riders/me/location": {"lat": 37.566, "lng": 126.977},
        "POST /api/me/addresses": MATRIX_ADDRESS,
        "PATCH /api/me/addresses/<int:address_id>": {"label": "Work"},
        "POST /api/orders/<int:order_id>/review": {"rating": 5, "text": "Lovely"},
        "POST /api/reviews/<int:review_id>/reply": {"text": "Thank you!"},
        "POST /api/admin/orders/<int:order_id>/assign": {
            "rider_id": (world.api("rider").user or {}).get("id", 1)
        },
        "POST /api/admin/orders/<int:order_id>/cancel": {"reason": "fraud"},
        "PATCH /api/admin/users/<int:user_id>": {"suspended": True},
        "PATCH /api/admin/stores/<int:store_id>": {"suspended": True},
    }
    if route in ("PUT /api/stores/<int:store_id>/image", "PUT /api/menu-items/<int:item_id>/image"):
        files = {"file": ("p.png", image_bytes(), "image/png")}
        return lambda api: api.put(path, files=files)
    if route == "POST /api/orders":
        assert shop is not None
        headers = {"Idempotency-Key": new_key()}
        return lambda api: api.post(path, json=order_body(shop), headers=headers)
    if route == "POST /api/orders/quote":
        assert shop is not None
        return lambda api: api.post(path, json=order_body(shop))
    body = bodies.get(route, {} if method in ("POST", "PUT", "PATCH") else None)
    if body is None:
        return lambda api: api.request(method, path, follow_redirects=False)
    return lambda api: api.request(method, path, json=body, follow_redirects=False)


def route_table(app: DeliveryApp) -> set[str]:
    """Every method and rule the app answers (HEAD and OPTIONS are the framework's)."""
    return {
        f"{method} {rule.rule}"
        for rule in app.quart.url_map.iter_rules()
        for method in rule.methods or ()
        if method not in ("HEAD", "OPTIONS")
    }


def test_every_row_names_every_caller() -> None:
    for route, (spec, _world) in MATRIX.items():
        assert set(expectations(spec)) == set(CALLERS), route


async def test_every_route_has_a_row(app: DeliveryApp) -> None:
    assert route_table(app) == set(MATRIX)


def _allowed(status: int, want: str) -> bool:
    if want == OK:
        return status not in (401, 403, 404) and status < 500
    return status == int(want)


async def test_every_route_answers_every_caller_as_the_matrix_says(
    apps: AppPool, app: DeliveryApp
) -> None:
    wrong = []
    for route, (spec, state) in MATRIX.items():
        wants = expectations(spec)
        world = await build_world(apps, app, state)
        call = request_for(route, world)
        # Refusals first, then those let through (whose writes may move the order on).
        order = sorted(CALLERS, key=lambda caller: wants[caller] == OK)
        for caller in order:
            response = await call(world.api(caller))
            if not _allowed(response.status_code, wants[caller]):
                wrong.append(f"{route} as {caller}: {response.status_code}, want {wants[caller]}")
    assert wrong == [], "\n".join(wrong)


def test_every_stream_kind_and_socket_event_has_a_row(app: DeliveryApp) -> None:
    kinds = set(STREAM.pattern.split("(", 1)[1].split(")", 1)[0].split("|"))
    assert kinds | {OPS_STREAM} == set(STREAMS)
    assert set(app.realtime.sio.handlers["/"]) == SOCKET_EVENTS


def _stream_of(kind: str, world: World) -> str:
    if kind == OPS_STREAM:
        return OPS_STREAM
    if kind == "order":
        return f"order:{_order_id(world)}"
    if kind == "store":
        assert world.shop is not None
        return f"store:{world.shop.id}"
    if kind == "store-public":
        assert world.shop is not None
        return f"store-public:{world.shop.id}"
    rider = world.api("rider").user
    assert rider is not None
    return f"rider:{rider['id']}"


async def _subscribe_as(app: DeliveryApp, api: Api, stream: str) -> str:
    """What `subscribe` answers `api`'s session: `ok`, the refusal's code, or `unauthenticated`."""
    cookie = api.http.cookies.get("delivery_session") or "none"
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        socket = PollingClient(http, cookie)
        opened = await socket.packets()
        socket.sid = json.loads(opened[0][1:])["sid"]
        await socket.send("40")
        connected = await socket.packets()
        if connected[0].startswith("44"):
            return str(json.loads(connected[0][2:])["code"])
        ack = await socket.subscribe(stream, after_seq=0)
    return "ok" if ack["ok"] else str(ack["code"])


async def test_every_stream_answers_every_caller_as_the_matrix_says(
    apps: AppPool, app: DeliveryApp
) -> None:
    wrong = []
    for kind, (spec, state) in STREAMS.items():
        wants = expectations(spec)
        world = await build_world(apps, app, state)
        stream = _stream_of(kind, world)
        for caller in CALLERS:
            got = await _subscribe_as(app, world.api(caller), stream)
            if got != wants[caller]:
                wrong.append(f"{stream} ({kind}) as {caller}: {got}, want {wants[caller]}")
    assert wrong == [], "\n".join(wrong)
