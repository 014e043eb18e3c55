"""Operations endpoints: health, readiness, metrics, API docs and vendored front-end assets."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from pathlib import Path

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from quart import Blueprint, Response, jsonify, render_template, send_from_directory
from quart_schema import hide

from app.container import container
from app.errors import NotFound, problem_body

bp = Blueprint("ops", __name__)

ROOT = Path(__file__).resolve().parent.parent
VENDOR_DIRS = {
    "socket.io": ROOT / "node_modules" / "socket.io-client" / "dist",
    "swagger-ui": ROOT / "node_modules" / "swagger-ui-dist",
}
READY_TIMEOUT = 2.0


@bp.get("/healthz")
@hide
async def healthz() -> Response:
    """200 while the process runs."""
    return jsonify({"status": "ok"})


async def _within(check: Awaitable[object], seconds: float) -> object:
    async with asyncio.timeout(seconds):
        return await check


@bp.get("/readyz")
@hide
async def readyz() -> tuple[Response, int]:
    """200 when the database and every Redis answer; else 503 naming what failed."""
    res = container()
    checks = {
        "database": res.db.ping(),
        "session_redis": res.session_redis.ping(),
        "cache_redis": res.cache_redis.ping(),
        "events_redis": res.events_redis.ping(),
    }
    names = list(checks)
    results = await asyncio.gather(
        *(_within(c, READY_TIMEOUT) for c in checks.values()), return_exceptions=True
    )
    status = {
        name: ("ok" if not isinstance(r, BaseException) else f"failed: {type(r).__name__}")
        for name, r in zip(names, results, strict=True)
    }
    failed = [name for name, state in status.items() if state != "ok"]
    body: dict[str, object] = {"ready": not failed, "checks": status}
    if failed:
        body.update(
            problem_body(
                503,
                "unavailable",
                "A dependency is unavailable",
                f"Not answering: {', '.join(failed)}.",
            )
        )
        response = jsonify(body)
        response.content_type = "application/problem+json"
        return response, 503
    return jsonify(body), 200


@bp.get("/metrics")
@hide
async def metrics() -> Response:
    """Prometheus text exposition."""
    registry = container().metrics.registry
    return Response(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)


@bp.get("/docs")
@hide
async def docs() -> str:
    """The OpenAPI description rendered by Swagger UI (served locally, no CDN)."""
    return await render_template("docs.html")


@bp.get("/vendor/<name>/<path:filename>")
@hide
async def vendor(name: str, filename: str) -> Response:
    """Front-end packages installed from the npm registry (nginx serves these in production)."""
    folder = VENDOR_DIRS.get(name)
    if folder is None:
        raise NotFound("No such asset.")
    return await send_from_directory(folder, filename)
