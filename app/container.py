"""The services one running app holds: built once by `app.bootstrap`, closed in reverse.

The platform's shared plumbing (settings, database, Redis clients, metrics) are typed attributes.
Each part of the business adds the services it owns, keyed by their class, so this module knows
no business package and every lookup is typed: `container().get(PaymentGateway)`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, TypeVar

from quart import current_app
from redis.asyncio import Redis

from app.config import Settings
from app.db import Database
from app.metrics import Metrics

T = TypeVar("T")

EXTENSION = "delivery"


@dataclass
class Container:
    """Everything a request handler or a background task of one app may need."""

    settings: Settings
    db: Database
    session_redis: Redis
    cache_redis: Redis
    events_redis: Redis
    metrics: Metrics
    _parts: dict[type, Any] = field(default_factory=dict, repr=False)

    def provide(self, service: T, kind: type[T] | None = None) -> T:
        """Register `service` under its class (or `kind`, an interface it implements)."""
        key = kind or type(service)
        if key in self._parts:
            raise RuntimeError(f"{key.__name__} is already provided")
        self._parts[key] = service
        return service

    def get(self, kind: type[T]) -> T:
        """The service registered under `kind`."""
        try:
            service: T = self._parts[kind]
        except KeyError:
            raise LookupError(f"no {kind.__name__} in this app (not started?)") from None
        return service


def container() -> Container:
    """The current app's container (inside a request or app context of a serving app)."""
    found: Container | None = current_app.extensions.get(EXTENSION)
    if found is None:
        raise RuntimeError("the app is not serving: its services are not open")
    return found
