"""A small API client for tests: JSON, the session cookie and the CSRF header handled."""

from __future__ import annotations

import itertools
from typing import Any

import httpx

DEFAULT_PASSWORD = "correct-horse-battery"
_counter = itertools.count(1)


def unique_email(prefix: str = "user") -> str:
    """An email no other test in this run uses."""
    return f"{prefix}{next(_counter)}@example.com"


class Api:
    """One user agent: keeps its cookie jar and sends the CSRF token it was given."""

    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http
        self.csrf: str | None = None
        self.user: dict[str, Any] | None = None

    async def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = dict(kwargs.pop("headers", None) or {})
        if self.csrf and method.upper() in {"POST", "PUT", "PATCH", "DELETE"}:
            headers.setdefault("X-CSRF-Token", self.csrf)
        return await self.http.request(method, path, headers=headers, **kwargs)

    async def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return await self.request("GET", path, **kwargs)

    async def post(self, path: str, **kwargs: Any) -> httpx.Response:
        return await self.request("POST", path, **kwargs)

    async def put(self, path: str, **kwargs: Any) -> httpx.Response:
        return await self.request("PUT", path, **kwargs)

    async def patch(self, path: str, **kwargs: Any) -> httpx.Response:
        return await self.request("PATCH", path, **kwargs)

    async def delete(self, path: str, **kwargs: Any) -> httpx.Response:
        return await self.request("DELETE", path, **kwargs)

    async def signup(
        self,
        role: str = "customer",
        *,
        email: str | None = None,
        password: str = DEFAULT_PASSWORD,
        name: str = "Test User",
    ) -> dict[str, Any]:
        email = email or unique_email(role)
        response = await self.post(
            "/api/auth/signup",
            json={"email": email, "password": password, "name": name, "role": role},
        )
        assert response.status_code == 201, response.text
        user: dict[str, Any] = response.json()["user"]
        return user

    async def login(self, email: str, password: str = DEFAULT_PASSWORD) -> dict[str, Any]:
        response = await self.post("/api/auth/login", json={"email": email, "password": password})
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        self.csrf = body["csrf_token"]
        self.user = body["user"]
        return body

    async def sign_in_as(self, role: str = "customer", **kwargs: Any) -> dict[str, Any]:
        """Sign up a fresh account of `role` and log in as it."""
        user = await self.signup(role, **kwargs)
        await self.login(user["email"], kwargs.get("password", DEFAULT_PASSWORD))
        return user

    def share_session_with(self, other: Api) -> None:
        """Make `other` send this agent's cookie and CSRF token (same browser, other node)."""
        for cookie in self.http.cookies.jar:
            other.http.cookies.set(cookie.name, cookie.value or "")
        other.csrf = self.csrf
        other.user = self.user


def assert_problem(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """Assert the API's problem+json with this status and code; return the body."""
    assert response.status_code == status, f"{response.status_code} {response.text}"
    assert response.headers["content-type"].startswith("application/problem+json"), response.headers
    body: dict[str, Any] = response.json()
    assert body["code"] == code, body
    assert body["status"] == status
    assert body["type"] and body["title"]
    return body
