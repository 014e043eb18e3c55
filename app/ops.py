"""Operations endpoints: health, readiness, metrics, API docs and vendored front-end assets."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from pathlib import Path
from typing import Literal

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import Field
from quart import Blueprint, Response, render_template, send_from_directory
from quart_schema import hide, tag

from app.container import container
from app.errors import NotFound, ProblemCode
from app.problems import PROBLEM_TYPE, Problem, problem_body
from app.responses import Out, binary, no_dependencies, returns

bp = Blueprint("ops", __name__)

ROOT = Path(__file__).resolve().parent.parent
VENDOR_DIRS = {
    "socket.io": ROOT / "node_modules" / "socket.io-client" / "dist",
    "swagger-ui": ROOT / "node_modules" / "swagger-ui-dist",
}
READY_TIMEOUT = 2.0
CHECK = Field(description="`ok`, or `failed: <error>`.")


class HealthOut(Out):
    """The process runs."""

    status: Literal["ok"]


class ChecksOut(Out):
    """Each dependency: `ok`, or `failed: <error>`."""

    database: str = CHECK
    session_redis: str = CHECK
    cache_redis: str = CHECK
    events_redis: str = CHECK


class ReadyOut(Out):
    """The database and every Redis answer."""

    ready: Literal[True]
    checks: ChecksOut


class NotReadyOut(Problem):
    """A dependency does not answer: an `unavailable` problem naming which."""

    ready: Literal[False]
    checks: ChecksOut


@bp.get("/healthz")
@tag(["operations"])
@returns(HealthOut)
@no_dependencies
async def healthz() -> HealthOut:
    """200 while the process runs."""
    return HealthOut(status="ok")


async def _within(check: Awaitable[object], seconds: float) -> object:
    async with asyncio.timeout(seconds):
        return await check


@bp.get("/readyz")
@tag(["operations"])
@returns(ReadyOut)
@returns(NotReadyOut, 503, media_type=PROBLEM_TYPE)
async def readyz() -> ReadyOut | tuple[NotReadyOut, int]:
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
    answers = ChecksOut(**status)
    if failed:
        unavailable = problem_body(
            503,
            ProblemCode.UNAVAILABLE,
            "A dependency is unavailable",
            f"Not answering: {', '.join(failed)}.",
        )
        not_ready = NotReadyOut(**unavailable.model_dump(), ready=False, checks=answers)
        return not_ready, 503
    return ReadyOut(ready=True, checks=answers)


@bp.get("/metrics")
@tag(["operations"])
@binary(200, ["text/plain"], "Prometheus text exposition (0.0.4).", {"type": "string"})
@no_dependencies
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
