"""Pages of the web UI; every page loads its data from the public API in the browser."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from quart import Blueprint, Response, redirect, render_template, request
from quart_schema import hide
from werkzeug.exceptions import NotFound as RouteNotFound
from werkzeug.wrappers.response import Response as WerkzeugResponse

from app.auth.guard import current_principal
from app.auth.models import Role
from app.catalog.queries import store_owner_id
from app.catalog.schemas import CATEGORIES
from app.container import container
from app.demo_accounts import demo_sign_ins
from app.errors import ProblemCode
from app.problems import problem

bp = Blueprint("web", __name__)

HOME_BY_ROLE = {
    Role.CUSTOMER: "/customer",
    Role.OWNER: "/owner",
    Role.RIDER: "/rider",
    Role.ADMIN: "/admin",
}
Page = str | Response | WerkzeugResponse | tuple[str, int]


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
    return await _owner_page("owner/store.html", store_id)


@bp.get("/owner/stores/<int:store_id>/board")
@hide
async def owner_board(store_id: int) -> Page:
    """The live order board of one store."""
    return await _owner_page("owner/board.html", store_id)


async def _owner_page(template: str, store_id: int) -> Page:
    """One of the owner's store pages; a page saying so for a store of someone else's (403)
    or none (404)."""
    principal = await current_principal()
    if principal is not None and principal.role == Role.OWNER:
        async with container().db.uow() as uow:
            owner = await store_owner_id(uow, store_id)
        if owner is None:
            return await _error_page(404), 404
        if owner != principal.user_id:
            return await _error_page(403), 403
    return await _page(template, Role.OWNER, store_id=store_id)


ERROR_PAGES = {
    403: (
        "This store is not yours",
        "This page belongs to another owner's store. Your stores are listed on your home page.",
    ),
    404: (
        "Page not found",
        "There is no page at this address. It may have moved, or the link may be mistyped.",
    ),
}


async def _error_page(status: int) -> str:
    """An error page for people, with the way back to their home page."""
    role = None
    try:
        principal = await current_principal()
        role = principal.role if principal is not None else None
    except Exception:
        pass  # the page says what went wrong even when the session store does not answer
    heading, message = ERROR_PAGES[status]
    home = HOME_BY_ROLE.get(role, "/") if role is not None else "/"
    return await render_template(
        "error.html",
        role=role.value if role is not None else None,
        status=status,
        heading=heading,
        message=message,
        home=home,
        home_label="Back to your home page" if role is not None else "Go to the start page",
    )


def _wants_html() -> bool:
    path = request.path
    if path == "/api" or path.startswith(("/api/", "/socket.io", "/static/")):
        return False
    return request.accept_mimetypes.best_match(["application/json", "text/html"]) == "text/html"


@bp.app_errorhandler(RouteNotFound)
async def not_found(error: RouteNotFound) -> Response | tuple[str, int]:
    """A page for a browser asking for a page that is not there; problem+json for the rest."""
    if _wants_html():
        return await _error_page(404), 404
    return problem(404, ProblemCode.NOT_FOUND, "Not found", error.description)


@bp.get("/rider")
@hide
async def rider_home() -> Page:
    """Shift, position, offers, the active delivery and earnings."""
    return await _page("rider/home.html", Role.RIDER)


@bp.get("/admin")
@hide
async def admin_console() -> Page:
    """The operations console: live map, queues, assignment, cancellation, suspensions, audit."""
    return await _page("admin/console.html", Role.ADMIN)
