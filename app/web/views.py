"""Pages of the web UI; every page loads its data from the public API in the browser."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from quart import Blueprint, Response, redirect, render_template, request
from quart_schema import hide
from werkzeug.wrappers.response import Response as WerkzeugResponse

from app.auth.guard import current_principal
from app.auth.models import Role
from app.catalog.schemas import CATEGORIES
from app.container import container
from app.demo_accounts import demo_sign_ins

bp = Blueprint("web", __name__)

HOME_BY_ROLE = {
    Role.CUSTOMER: "/customer",
    Role.OWNER: "/owner",
    Role.RIDER: "/rider",
    Role.ADMIN: "/docs",
}
Page = str | Response | WerkzeugResponse


async def _page(template: str, role: Role, **context: Any) -> Page:
    """Render a page for a signed-in `role`; send anyone else where they belong."""
    principal = await current_principal()
    if principal is None:
        # Back to this very page after signing in, its query included.
        here = request.path
        if request.query_string:
            here += "?" + request.query_string.decode("latin-1")
        return redirect("/?next=" + quote(here, safe="/"))
    if principal.role != role:
        return redirect(HOME_BY_ROLE.get(principal.role, "/"))
    return await render_template(template, role=role, categories=CATEGORIES, **context)


@bp.get("/")
@hide
async def home() -> Page:
    """The landing page: sign in, sign up and, in the embedded demo, the demo sign-ins."""
    principal = await current_principal()
    if principal is not None:
        return redirect(HOME_BY_ROLE.get(principal.role, "/docs"))
    demo: list[dict[str, str]] = []
    if container().settings.embedded:
        demo = demo_sign_ins()
    return await render_template("home.html", role=None, demo=demo)


@bp.get("/customer")
@hide
async def customer_stores() -> Page:
    """Stores near the customer's address, by category, with search."""
    return await _page("customer/stores.html", Role.CUSTOMER)


@bp.get("/customer/stores/<int:store_id>")
@hide
async def customer_store(store_id: int) -> Page:
    """A store's menu and the cart."""
    return await _page("customer/store.html", Role.CUSTOMER, store_id=store_id)


@bp.get("/customer/checkout")
@hide
async def customer_checkout() -> Page:
    """Address, payment, points and coupon for the cart."""
    return await _page("customer/checkout.html", Role.CUSTOMER)


@bp.get("/customer/orders")
@hide
async def customer_orders() -> Page:
    """The customer's order history."""
    return await _page("customer/orders.html", Role.CUSTOMER)


@bp.get("/customer/orders/<int:order_id>")
@hide
async def customer_order(order_id: int) -> Page:
    """One order, live: timeline, map, ETA."""
    return await _page("customer/order.html", Role.CUSTOMER, order_id=order_id)


@bp.get("/customer/rewards")
@hide
async def customer_rewards() -> Page:
    """Points and coupons."""
    return await _page("customer/rewards.html", Role.CUSTOMER)


@bp.get("/customer/addresses")
@hide
async def customer_addresses() -> Page:
    """The address book: saved addresses, the default, adding and editing on a map."""
    return await _page("customer/addresses.html", Role.CUSTOMER)


@bp.get("/owner")
@hide
async def owner_stores() -> Page:
    """The owner's stores and a form for a new one."""
    return await _page("owner/stores.html", Role.OWNER)


@bp.get("/owner/stores/<int:store_id>")
@hide
async def owner_store(store_id: int) -> Page:
    """Store settings, the open switch and the menu editor."""
    return await _page("owner/store.html", Role.OWNER, store_id=store_id)


@bp.get("/owner/stores/<int:store_id>/board")
@hide
async def owner_board(store_id: int) -> Page:
    """The live order board of one store."""
    return await _page("owner/board.html", Role.OWNER, store_id=store_id)


@bp.get("/rider")
@hide
async def rider_home() -> Page:
    """Shift, position, offers, the active delivery and earnings."""
    return await _page("rider/home.html", Role.RIDER)
