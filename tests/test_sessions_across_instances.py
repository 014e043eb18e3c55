"""Sessions live in the session Redis, so every app instance accepts and ends them at once."""

from __future__ import annotations

import json
import secrets
import time
from pathlib import Path

import pytest
import redis

from app.auth.sessions import SessionStore
from app.launcher.servers import RedisServer
from app.redis_clients import connect
from tests.client import DEFAULT_PASSWORD, assert_problem
from tests.conftest import AppPool
from tests.harness import Infra


async def test_login_on_one_instance_is_accepted_by_the_other(apps: AppPool) -> None:
    node_a, node_b = await apps.start(), await apps.start()
    on_a, on_b = await apps.client(node_a), await apps.client(node_b)
    user = await on_a.sign_in_as("rider")
    on_a.share_session_with(on_b)
    me = await on_b.get("/api/me")
    assert me.status_code == 200 and me.json()["user"]["id"] == user["id"]


async def test_logout_on_one_instance_is_refused_on_the_other_at_once(apps: AppPool) -> None:
    node_a, node_b = await apps.start(), await apps.start()
    on_a, on_b = await apps.client(node_a), await apps.client(node_b)
    await on_a.sign_in_as()
    on_a.share_session_with(on_b)
    assert (await on_b.get("/api/me")).status_code == 200
    assert (await on_a.post("/api/auth/logout")).status_code == 204
    assert_problem(await on_b.get("/api/me"), 401, "unauthenticated")
    assert_problem(await on_b.post("/api/auth/logout"), 401, "unauthenticated")


async def test_session_keys_are_in_the_session_redis_and_none_in_the_cache_redis(
    apps: AppPool, infra: Infra
) -> None:
    app = await apps.start()
    client = await apps.client(app)
    await client.sign_in_as()
    session_id = next(c.value for c in client.http.cookies.jar if c.name == "delivery_session")
    session_db = redis.Redis(port=infra.session_redis.port)
    cache_db = redis.Redis(port=infra.cache_redis.port)
    try:
        assert session_db.exists(f"session:{session_id}") == 1
        assert list(session_db.scan_iter("session:*")) == [f"session:{session_id}".encode()]
        assert list(cache_db.scan_iter("session:*")) == []
        assert all(session_id.encode() not in key for key in cache_db.scan_iter("*"))
        assert 0 < session_db.ttl(f"session:{session_id}") <= 14 * 24 * 3600
    finally:
        session_db.close()
        cache_db.close()


async def test_a_session_redis_outage_is_unavailable_not_a_500(
    apps: AppPool, infra: Infra, tmp_path: Path
) -> None:
    own = RedisServer(tmp_path / "session-redis").start()
    try:
        app = await apps.start(infra.settings(session_redis_url=own.url))
        client = await apps.client(app)
        await client.sign_in_as()
        own.stop()
        response = await client.get("/api/me")
        assert_problem(response, 503, "unavailable")
        assert response.headers["Retry-After"] == "1"
        own.start()
        assert_problem(await client.get("/api/me"), 401, "unauthenticated")  # its data is gone
    finally:
        own.stop()


def _session_redis(infra: Infra) -> redis.Redis:
    return redis.Redis(host="127.0.0.1", port=infra.session_redis.port)


async def test_sign_in_ends_the_session_the_request_carried(apps: AppPool) -> None:
    node = await apps.start()
    attacker, victim = await apps.client(node), await apps.client(node)
    await attacker.sign_in_as()
    planted = str(attacker.http.cookies.get("delivery_session"))
    # The victim's browser holds a session id the attacker knows (session fixation).
    user = await victim.signup()
    signed_in = await victim.post(
        "/api/auth/login",
        json={"email": user["email"], "password": DEFAULT_PASSWORD},
        headers={"Cookie": f"delivery_session={planted}"},
    )
    assert signed_in.status_code == 200
    issued = signed_in.cookies["delivery_session"]
    assert issued and issued != planted
    victim.csrf = signed_in.json()["csrf_token"]
    me = await victim.get("/api/me")
    assert me.status_code == 200 and me.json()["user"]["id"] == user["id"]
    assert_problem(await attacker.get("/api/me"), 401, "unauthenticated")


async def test_a_busy_session_still_ends_at_its_absolute_lifetime(
    apps: AppPool, infra: Infra
) -> None:
    lifetime = 3600
    node = await apps.start(infra.settings(session_absolute_seconds=lifetime))
    api = await apps.client(node)
    await api.sign_in_as()
    key = f"session:{api.http.cookies.get('delivery_session')}"
    store = _session_redis(infra)
    try:

        def began(seconds_ago: int) -> None:
            data = json.loads(store.get(key) or b"{}")
            data["created_at"] = int(time.time()) - seconds_ago
            store.set(key, json.dumps(data), keepttl=True)

        # Used just now, but begun nearly a lifetime ago: it slides no further than its end.
        began(lifetime - 100)
        assert (await api.get("/api/me")).status_code == 200
        assert 0 < store.ttl(key) <= 100
        began(lifetime + 1)
        assert_problem(await api.get("/api/me"), 401, "unauthenticated")
        assert store.exists(key) == 0
    finally:
        store.close()


async def test_me_answers_from_the_session_and_from_the_account_for_an_older_session(
    apps: AppPool, infra: Infra
) -> None:
    node = await apps.start()
    api = await apps.client(node)
    user = await api.sign_in_as("rider", name="Kim Rider")
    key = f"session:{api.http.cookies.get('delivery_session')}"
    store = _session_redis(infra)
    try:
        kept = json.loads(store.get(key) or b"{}")
        assert (kept["email"], kept["name"]) == (user["email"], "Kim Rider")
        assert (await api.get("/api/me")).json()["user"] == user
        # A session written before it kept who the user is: the account is read instead.
        store.set(
            key,
            json.dumps({k: v for k, v in kept.items() if k not in ("email", "name")}),
            keepttl=True,
        )
        assert (await api.get("/api/me")).json()["user"] == user
    finally:
        store.close()


@pytest.mark.parametrize("server", ["redis-server", "embedded"])
async def test_ending_a_users_sessions_reaches_those_the_index_does_not_hold(
    infra: Infra, server: str
) -> None:
    infra.clean()
    client = connect(infra.session_redis.url if server == "redis-server" else None)
    store = SessionStore(client, ttl_seconds=3600, absolute_seconds=7200)
    try:

        async def unindexed(user_id: int) -> str:
            # As a session was written before sessions were indexed by user.
            session_id = secrets.token_urlsafe(32)
            fields = {"user_id": user_id, "role": "customer", "csrf_token": "t"}
            payload = {**fields, "created_at": int(time.time()), "email": "", "name": ""}
            await client.set(store.key(session_id), json.dumps(payload), ex=3600)
            return session_id

        old, bystander = await unindexed(7), await unindexed(8)
        indexed = (await store.create(user_id=7, role="customer")).session_id
        assert await store.alive([old, bystander, indexed]) == {old, bystander, indexed}

        assert await store.destroy_all(7) == 1
        # A socket sweep and a lookup agree: neither finds the sessions that ended.
        assert await store.alive([old, bystander, indexed]) == {bystander}
        assert await store.get(old) is None and await client.exists(store.key(old)) == 0
        assert await store.get(indexed) is None
        assert (await store.get(bystander)) is not None
        # The moment is kept as long as a session begun before it could live.
        assert 7100 < await client.ttl(store.ended_key(7)) <= 7200
        # A session begun afterwards is not touched, even within the same second.
        again = (await store.create(user_id=7, role="customer")).session_id
        assert await store.alive([again]) == {again}
        assert (await store.get(again)) is not None
    finally:
        await client.aclose()


async def test_a_request_reads_its_session_in_one_round_trip(apps: AppPool, infra: Infra) -> None:
    node = await apps.start()
    api = await apps.client(node)
    user = await api.sign_in_as()
    assert (await api.get("/api/me")).status_code == 200  # the script is loaded
    store = _session_redis(infra)
    try:
        # The user's sessions were all ended (a suspension) in this very second, before this
        # one began: the lookup reads that moment and the user's index as well.
        store.set(SessionStore.ended_key(user["id"]), int(time.time()), ex=3600)
        store.config_resetstat()
        for _ in range(20):
            assert (await api.get("/api/me")).status_code == 200
        calls = {
            name.removeprefix("cmdstat_"): stat["calls"]
            for name, stat in store.info("commandstats").items()
            if name != "cmdstat_config|resetstat"
        }
        # One EVALSHA a request; the rest ran inside it: the session and the moment (GET),
        # the index (SISMEMBER) and the sliding expiry (EXPIRE).
        assert calls == {"evalsha": 20, "get": 40, "sismember": 20, "expire": 20}
    finally:
        store.close()
