"""Health, readiness, metrics, OpenAPI, unexpected errors, the admin bootstrap and the CLI."""

from __future__ import annotations

import logging
import os
import subprocess
import sys

import httpx
import pytest

from app import create_app
from app.launcher.processes import free_port
from tests.client import Api, assert_problem
from tests.conftest import AppPool
from tests.harness import TEST_SECRET, Infra


async def test_healthz_and_readyz_answer_when_everything_is_up(api: Api) -> None:
    assert (await api.get("/healthz")).status_code == 200
    ready = await api.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"] == {
        "database": "ok",
        "session_redis": "ok",
        "cache_redis": "ok",
        "events_redis": "ok",
    }


async def test_readyz_names_the_redis_that_is_down(apps: AppPool, infra: Infra) -> None:
    dead = f"redis://127.0.0.1:{free_port()}/0"
    app = await apps.start(infra.settings(cache_redis_url=dead))
    client = await apps.client(app)
    response = await client.get("/readyz")
    body = assert_problem(response, 503, "unavailable")
    assert body["checks"]["cache_redis"].startswith("failed")
    assert body["checks"]["database"] == "ok" and body["checks"]["session_redis"] == "ok"
    assert "cache_redis" in body["detail"]


async def test_unexpected_error_is_a_plain_500_problem_with_a_request_id(
    apps: AppPool, caplog: pytest.LogCaptureFixture
) -> None:
    app = create_app(apps.settings)

    @app.quart.get("/boom")
    async def boom() -> str:
        raise RuntimeError("secret internals: password=hunter2")

    await apps.serve(app)
    client = await apps.client(app)
    with caplog.at_level(logging.ERROR, logger="delivery.errors"):
        response = await client.get("/boom", headers={"X-Request-ID": "req-123"})
    body = assert_problem(response, 500, "internal")
    assert "hunter2" not in response.text and "Traceback" not in response.text
    assert "req-123" in body["detail"]
    assert any("req-123" in r.getMessage() for r in caplog.records)


async def test_openapi_describes_the_endpoints_and_docs_render(api: Api) -> None:
    spec = (await api.get("/api/openapi.json")).json()
    assert {"/api/auth/signup", "/api/auth/login", "/api/auth/logout", "/api/me"} <= set(
        spec["paths"]
    )
    assert "requestBody" in spec["paths"]["/api/auth/signup"]["post"]
    docs = await api.get("/docs")
    assert docs.status_code == 200 and "/vendor/swagger-ui/swagger-ui-bundle.js" in docs.text


async def test_metrics_are_prometheus_text(api: Api) -> None:
    await api.get("/healthz")
    response = await api.get("/metrics")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
    assert 'http_requests_total{method="GET",route="/healthz",status="200"}' in response.text


async def test_admin_is_created_at_start_from_the_environment(apps: AppPool, infra: Infra) -> None:
    settings = infra.settings(
        delivery_admin_email="Boss@Example.com", delivery_admin_password="admin-password-123"
    )
    first, second = await apps.start(settings), await apps.start(settings)
    client = await apps.client(second)
    body = await client.login("boss@example.com", "admin-password-123")
    assert body["user"]["role"] == "admin"
    assert infra.query("SELECT COUNT(*) FROM users WHERE role = 'admin'") == [(1,)]
    assert first is not second


def _cli(infra: Infra, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, **infra.node_env(), **env}
    return subprocess.run(
        [sys.executable, "-m", "app.cli", *args],
        env=full_env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_create_admin_command_takes_the_password_from_the_environment(
    settings: object, infra: Infra
) -> None:
    result = _cli(
        infra, "create-admin", "ops@example.com", DELIVERY_ADMIN_PASSWORD="ops-password-1234"
    )
    assert result.returncode == 0, result.stderr
    assert "created" in result.stdout
    again = _cli(
        infra, "create-admin", "ops@example.com", DELIVERY_ADMIN_PASSWORD="ops-password-1234"
    )
    assert again.returncode == 0 and "already exists" in again.stdout
    assert infra.query("SELECT role FROM users WHERE email = 'ops@example.com'") == [("admin",)]


def test_create_admin_refuses_a_short_password(settings: object, infra: Infra) -> None:
    result = _cli(infra, "create-admin", "ops@example.com", DELIVERY_ADMIN_PASSWORD="short")
    assert result.returncode != 0 and "at least 10" in result.stderr


def test_invalid_configuration_stops_with_a_message_naming_the_variable(infra: Infra) -> None:
    result = _cli(infra, "migrate", SECRET_KEY="", DATABASE_URL="postgres://nope")
    assert result.returncode != 0
    assert "database_url" in result.stderr and "Traceback" not in result.stderr


def test_default_secret_is_refused_outside_embedded_mode(infra: Infra) -> None:
    result = _cli(infra, "migrate", SECRET_KEY="")
    assert result.returncode != 0 and "SECRET_KEY" in result.stderr


async def test_a_real_hypercorn_node_serves_the_api(settings: object, infra: Infra) -> None:
    node = infra.start_node("ops-node")
    async with httpx.AsyncClient(base_url=node.url) as http:
        client = Api(http)
        user = await client.sign_in_as("owner")
        me = await client.get("/api/me")
        assert me.json()["user"] == user
        assert me.headers["server"].startswith("hypercorn")
    node.stop()
    assert TEST_SECRET
