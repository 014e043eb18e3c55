"""Prometheus collectors of one app, and the hooks that count and time every request."""

from __future__ import annotations

import time

from prometheus_client import CollectorRegistry, Counter, Histogram
from quart import Quart, Response, g, request


class Metrics:
    """Per-app Prometheus collectors (a registry each, so several apps can share a process)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "http_requests_total",
            "HTTP requests by method, route and status.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "http_request_duration_seconds",
            "HTTP request latency by route.",
            ["method", "route"],
            registry=self.registry,
        )
        self.slow_clients_dropped = Counter(
            "realtime_slow_clients_dropped_total",
            "Sockets disconnected for having more than REALTIME_MAX_CLIENT_QUEUE packets queued.",
            registry=self.registry,
        )


def install_metrics(app: Quart) -> Metrics:
    """Count and time every request."""
    metrics = Metrics()

    @app.before_request
    async def _start_timer() -> None:
        g.started = time.perf_counter()

    @app.after_request
    async def _observe(response: Response) -> Response:
        route = request.url_rule.rule if request.url_rule else "unmatched"
        elapsed = time.perf_counter() - g.get("started", time.perf_counter())
        metrics.requests.labels(request.method, route, str(response.status_code)).inc()
        metrics.latency.labels(request.method, route).observe(elapsed)
        return response

    return metrics
