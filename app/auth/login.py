"""How a request proves who it is: a small interface with the cookie-session implementation."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from quart import Request, Response, request

from app.auth.models import Role
from app.auth.sessions import SessionStore

COOKIE_NAME = "delivery_session"


@dataclass(frozen=True)
class Principal:
    """The signed-in caller."""

    user_id: int
    role: Role
    csrf_token: str | None
    session_id: str | None
    # Cookie-borne credentials ride along automatically, so they need the CSRF check.
    needs_csrf: bool
    # The account's email and name when the session keeps them (None: read the account).
    email: str | None = None
    name: str | None = None


class LoginMechanism(Protocol):
    """What views rely on; a token login can be added beside the cookie session."""

    async def authenticate(self, request: Request) -> Principal | None:
        """The caller of `request`, or None."""

    async def start(
        self, response: Response, *, user_id: int, role: Role, email: str, name: str
    ) -> Principal:
        """Sign the user in (ending the request's own session, if any), attaching whatever the
        client must keep to `response`."""

    async def end(self, response: Response, principal: Principal) -> None:
        """Sign the caller out everywhere at once."""


class CookieSessionLogin:
    """Opaque session id in an HttpOnly, SameSite=Lax cookie; the session in the session Redis."""

    def __init__(self, store: SessionStore, *, secure: bool, max_age: int) -> None:
        self._store = store
        self._secure = secure
        self._max_age = max_age

    async def authenticate(self, request: Request) -> Principal | None:
        session_id = request.cookies.get(COOKIE_NAME)
        if not session_id:
            return None
        data = await self._store.get(session_id)
        if data is None:
            return None
        return Principal(
            user_id=data.user_id,
            role=Role(data.role),
            csrf_token=data.csrf_token,
            session_id=data.session_id,
            needs_csrf=True,
            email=data.email or None,
            name=data.name or None,
        )

    async def start(
        self, response: Response, *, user_id: int, role: Role, email: str, name: str
    ) -> Principal:
        # A session id planted in the browser before sign-in (session fixation) must not become
        # the signed-in one: whatever session the request carried ends, and a new id is issued.
        carried = request.cookies.get(COOKIE_NAME)
        if carried:
            await self._store.destroy(carried)
        data = await self._store.create(user_id=user_id, role=role, email=email, name=name)
        response.set_cookie(
            COOKIE_NAME,
            data.session_id,
            max_age=self._max_age,
            httponly=True,
            samesite="Lax",
            secure=self._secure or request.scheme == "https",
            path="/",
        )
        return Principal(
            user_id=user_id,
            role=role,
            csrf_token=data.csrf_token,
            session_id=data.session_id,
            needs_csrf=True,
            email=email,
            name=name,
        )

    async def end(self, response: Response, principal: Principal) -> None:
        if principal.session_id:
            await self._store.destroy(principal.session_id)
        response.delete_cookie(
            COOKIE_NAME, path="/", httponly=True, samesite="Lax", secure=self._secure
        )
