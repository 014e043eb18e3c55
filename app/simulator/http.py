"""A simulated client's REST side: its session, CSRF token and a patient retry policy."""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass
from typing import Any

import httpx

from app.simulator.recorder import Recorder

PASSWORD = "simulated-city-pw"
# How long a call keeps retrying 503s, dropped connections, 429s and keys still in progress:
# longer than a database restart, and than the 60 s after which a placement whose node died is
# taken over under the same Idempotency-Key.
PATIENCE = 150.0


@dataclass
class Reply:
    """The final answer to a call: status (0: no answer at all), body and problem code."""

    status: int
    body: Any
    code: str
    # Sent more than once after a 503 or a dropped connection: the first may have taken effect.
    retried: bool = False

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


class ApiClient:
    """One person's user agent: a cookie jar, the CSRF token, and every answer recorded."""

    def __init__(self, base_url: str, recorder: Recorder, rng: random.Random) -> None:
        self.http = httpx.AsyncClient(
            base_url=base_url,
            timeout=httpx.Timeout(30.0, connect=10.0),
            limits=httpx.Limits(max_connections=4, max_keepalive_connections=2),
        )
        self.recorder = recorder
        self.rng = rng
        self.csrf: str | None = None
        self.user: dict[str, Any] = {}

    @property
    def cookie(self) -> str:
        """The session cookie, for the Socket.IO connection."""
        return str(self.http.cookies.get("delivery_session") or "")

    async def close(self) -> None:
        """Close the connection pool."""
        await self.http.aclose()

    async def call(
        self,
        op: str,
        method: str,
        path: str,
        *,
        json: Any = None,
        headers: dict[str, str] | None = None,
        params: dict[str, Any] | None = None,
        patience: float = PATIENCE,
    ) -> Reply:
        """Send until a definite answer: 503, no answer, 429 and 409 in-progress are retried."""
        deadline = time.monotonic() + patience
        delay = 0.25
        headers = dict(headers or {})
        if self.csrf and method in {"POST", "PUT", "PATCH", "DELETE"}:
            headers["X-CSRF-Token"] = self.csrf
        retried = False
        while True:
            reply, wait = await self._once(op, method, path, json, headers, params)
            if wait is None or time.monotonic() + wait > deadline:
                if retried:
                    self.recorder.retried.append((op, path, reply.status, reply.code))
                    reply.retried = True
                return reply
            # Sent again after an answer that may have been lost (not after a 429 or a key in
            # progress, which say for certain that nothing happened yet).
            retried = retried or reply.status in (0, 503)
            await asyncio.sleep(wait if wait > 0 else delay * self.rng.uniform(0.5, 1.5))
            delay = min(delay * 2, 4.0)

    async def _once(
        self,
        op: str,
        method: str,
        path: str,
        json: Any,
        headers: dict[str, str],
        params: dict[str, Any] | None,
    ) -> tuple[Reply, float | None]:
        started = time.perf_counter()
        try:
            response = await self.http.request(
                method, path, json=json, headers=headers, params=params
            )
        except httpx.HTTPError as error:
            self.recorder.answer(op, 0, type(error).__name__, time.perf_counter() - started, False)
            return Reply(0, None, type(error).__name__), 0.0
        latency = time.perf_counter() - started
        body: Any = None
        if response.content and "json" in response.headers.get("content-type", ""):
            body = response.json()
        code = body.get("code", "") if isinstance(body, dict) and response.is_error else ""
        retry_after = response.headers.get("retry-after")
        self.recorder.answer(op, response.status_code, code, latency, retry_after is not None)
        reply = Reply(response.status_code, body, code)
        if response.status_code in (429, 503) or code == "idempotency-in-progress":
            wait = float(retry_after) if retry_after and retry_after.isdigit() else 0.0
            return reply, min(wait, 10.0)
        return reply, None

    async def sign_up_and_in(self, email: str, name: str, role: str) -> None:
        """Create the account (or find it exists) and sign in."""
        reply = await self.call(
            "signup",
            "POST",
            "/api/auth/signup",
            json={"email": email, "password": PASSWORD, "name": name, "role": role},
        )
        if reply.status not in (201, 409):
            raise RuntimeError(f"sign-up of {email} failed: {reply.status} {reply.body}")
        await self.sign_in(email, PASSWORD)

    async def sign_in(self, email: str, password: str) -> None:
        """Sign in; keeps the cookie and the CSRF token."""
        reply = await self.call(
            "login", "POST", "/api/auth/login", json={"email": email, "password": password}
        )
        if reply.status != 200:
            raise RuntimeError(f"sign-in of {email} failed: {reply.status} {reply.body}")
        self.csrf = reply.body["csrf_token"]
        self.user = reply.body["user"]
