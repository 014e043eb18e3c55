"""Accounts: sign-up, login, logout, me, CSRF and rate limits on real MariaDB and Redis."""

from __future__ import annotations

import re

from tests.client import DEFAULT_PASSWORD, Api, assert_problem, unique_email
from tests.harness import Infra


async def test_signup_login_me_logout(api: Api) -> None:
    user = await api.signup("owner", name="Kim Owner")
    assert user["role"] == "owner" and user["name"] == "Kim Owner" and user["id"] > 0
    assert "password" not in user and "password_hash" not in user
    body = await api.login(user["email"])
    assert body["user"] == user and len(body["csrf_token"]) >= 32
    me = await api.get("/api/me")
    assert me.status_code == 200 and me.json() == {"user": user, "csrf_token": body["csrf_token"]}
    assert (await api.post("/api/auth/logout")).status_code == 204
    assert_problem(await api.get("/api/me"), 401, "unauthenticated")


async def test_session_cookie_is_opaque_httponly_and_lax(api: Api) -> None:
    user = await api.signup()
    response = await api.post(
        "/api/auth/login", json={"email": user["email"], "password": DEFAULT_PASSWORD}
    )
    cookie = response.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/" in cookie
    value = cookie.split(";")[0].split("=", 1)[1]
    # An opaque random id: no signed payload (no dots), nothing of the user in it.
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", value) and user["email"] not in value


async def test_email_is_case_insensitive_and_duplicate_is_email_taken(api: Api) -> None:
    email = unique_email()
    await api.signup(email=email)
    response = await api.post(
        "/api/auth/signup",
        json={
            "email": email.upper(),
            "password": DEFAULT_PASSWORD,
            "name": "x",
            "role": "customer",
        },
    )
    assert_problem(response, 409, "email-taken")
    await api.login(email.upper())


async def test_password_is_stored_as_argon2id(api: Api, infra: Infra) -> None:
    user = await api.signup()
    [(stored,)] = infra.query("SELECT password_hash FROM users WHERE id = %s", user["id"])
    assert str(stored).startswith("$argon2id$") and DEFAULT_PASSWORD not in str(stored)


async def test_weak_password_is_validation(api: Api) -> None:
    for password in ("short", "aaaaaaaaaaaa"):
        response = await api.post(
            "/api/auth/signup",
            json={"email": unique_email(), "password": password, "name": "x", "role": "customer"},
        )
        body = assert_problem(response, 400, "validation")
        assert [e["field"] for e in body["errors"]] == ["password"]


async def test_admin_role_cannot_be_chosen_at_signup(api: Api) -> None:
    response = await api.post(
        "/api/auth/signup",
        json={"email": unique_email(), "password": DEFAULT_PASSWORD, "name": "x", "role": "admin"},
    )
    body = assert_problem(response, 400, "validation")
    assert body["errors"][0]["field"] == "role"


async def test_wrong_password_is_unauthenticated(api: Api) -> None:
    user = await api.signup()
    response = await api.post(
        "/api/auth/login", json={"email": user["email"], "password": "wrong-password!"}
    )
    assert_problem(response, 401, "unauthenticated")
    unknown = await api.post(
        "/api/auth/login", json={"email": unique_email(), "password": "whatever-1234"}
    )
    assert_problem(unknown, 401, "unauthenticated")


async def test_missing_or_wrong_csrf_token_is_refused(api: Api) -> None:
    await api.sign_in_as()
    token = api.csrf
    api.csrf = None
    assert_problem(await api.post("/api/auth/logout"), 403, "csrf")
    assert_problem(
        await api.post("/api/auth/logout", headers={"X-CSRF-Token": "not-the-token"}), 403, "csrf"
    )
    assert (await api.get("/api/me")).status_code == 200
    api.csrf = token
    assert (await api.post("/api/auth/logout")).status_code == 204


async def test_repeated_failed_logins_are_rate_limited_per_account_and_address(api: Api) -> None:
    user = await api.signup()
    statuses = []
    for _ in range(7):
        response = await api.post(
            "/api/auth/login", json={"email": user["email"], "password": "wrong-password!"}
        )
        statuses.append(response.status_code)
    assert statuses[:5] == [401] * 5 and statuses[5:] == [429, 429]
    limited = await api.post(
        "/api/auth/login", json={"email": user["email"], "password": DEFAULT_PASSWORD}
    )
    assert_problem(limited, 429, "rate-limited")
    assert 1 <= int(limited.headers["Retry-After"]) <= 900


async def test_login_attempts_are_rate_limited_per_address(api: Api, infra: Infra, apps) -> None:  # type: ignore[no-untyped-def]
    app = await apps.start(infra.settings(login_max_attempts_per_address=3))
    client = await apps.client(app)
    codes = []
    for _ in range(4):
        response = await client.post(
            "/api/auth/login", json={"email": unique_email(), "password": "wrong-password!"}
        )
        codes.append(response.status_code)
    assert codes == [401, 401, 401, 429]
    assert int(response.headers["Retry-After"]) >= 1
