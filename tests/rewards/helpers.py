"""Fast set-up for reward tests: many customers with live sessions, an admin, a campaign."""

from __future__ import annotations

import itertools
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pymysql
from argon2 import PasswordHasher, Type
from redis.asyncio import Redis

from app import DeliveryApp
from app.auth.passwords import Passwords
from app.auth.service import ensure_admin
from app.auth.sessions import SessionStore
from app.db import UnitOfWork
from tests.client import DEFAULT_PASSWORD, Api
from tests.harness import Infra

# One Argon2id hash of the shared test password, so that 1,000 customers are a single INSERT.
_HASH = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1, type=Type.ID).hash(
    DEFAULT_PASSWORD
)
_batch = itertools.count(1)


@dataclass(frozen=True)
class Customer:
    """A customer with a live session, usable from any client on any instance."""

    id: int
    session_id: str
    csrf: str

    @property
    def headers(self) -> dict[str, str]:
        """The cookie and CSRF header a browser of this customer would send."""
        return {"Cookie": f"delivery_session={self.session_id}", "X-CSRF-Token": self.csrf}


def insert_users(infra: Infra | dict[str, Any], count: int, role: str = "customer") -> list[int]:
    """Insert `count` users straight into the database; returns their ids."""
    tag = f"{uuid.uuid4().hex[:8]}-{next(_batch)}"
    now = datetime.now(UTC).replace(tzinfo=None)
    rows = [
        (f"{role}{tag}-{i}@example.com", _HASH, f"{role} {i}", role, now, now) for i in range(count)
    ]
    sync = infra.sync_db if isinstance(infra, Infra) else infra
    conn = pymysql.connect(**sync)  # type: ignore[arg-type]
    try:
        with conn.cursor() as cursor:
            cursor.executemany(
                "INSERT INTO users (email, password_hash, name, role, created_at, updated_at) "
                "VALUES (%s, %s, %s, %s, %s, %s)",
                rows,
            )
            cursor.execute(
                "SELECT id FROM users WHERE email LIKE %s ORDER BY id", (f"{role}{tag}-%",)
            )
            ids = [int(r[0]) for r in cursor.fetchall()]
        conn.commit()
    finally:
        conn.close()
    return ids


async def make_customers(
    infra: Infra | dict[str, Any], session_redis_url: str, count: int
) -> list[Customer]:
    """Create customers and sign each in (sessions written to the session Redis)."""
    ids = insert_users(infra, count)
    redis = Redis.from_url(session_redis_url)
    try:
        store = SessionStore(redis, ttl_seconds=3600, absolute_seconds=3600)
        out = []
        for user_id in ids:
            data = await store.create(user_id=user_id, role="customer")
            out.append(Customer(user_id, data.session_id, data.csrf_token))
        return out
    finally:
        await redis.aclose()


async def sign_in_admin(apps: Any, app: DeliveryApp) -> Api:
    """A client signed in as a freshly created admin on `app`."""
    services = app.container
    email = f"admin-{uuid.uuid4().hex[:8]}@example.com"
    await ensure_admin(
        db=services.db,
        passwords=services.get(Passwords),
        email=email,
        password=DEFAULT_PASSWORD,
    )
    admin: Api = await apps.client(app)
    await admin.login(email)
    return admin


def campaign_body(**overrides: Any) -> dict[str, Any]:
    """A valid campaign that is open now."""
    now = datetime.now(UTC)
    body: dict[str, Any] = {
        "name": "Lunch rush",
        "discount": 3_000,
        "min_order": 15_000,
        "quantity": 100,
        "starts_at": (now - timedelta(minutes=1)).isoformat().replace("+00:00", "Z"),
        "ends_at": (now + timedelta(hours=1)).isoformat().replace("+00:00", "Z"),
    }
    body.update(overrides)
    return body


def uow_of(app: DeliveryApp) -> UnitOfWork:
    """A unit of work on `app`'s database."""
    uow: UnitOfWork = app.container.db.uow()
    return uow


def http_client(app: DeliveryApp) -> httpx.AsyncClient:
    """A bare ASGI client for `app` (customers send their own cookie headers)."""
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver", timeout=120
    )
