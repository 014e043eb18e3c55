"""The resources one app instance holds, opened when it starts serving and closed after."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from quart import current_app
from redis.asyncio import Redis

from app.config import Settings
from app.db import Database
from app.ratelimit import RateLimiter

if TYPE_CHECKING:
    from app.auth.login import LoginMechanism
    from app.auth.passwords import Passwords


@dataclass
class Resources:
    """Everything a request handler may need, built by the composition root."""

    settings: Settings
    db: Database
    session_redis: Redis
    cache_redis: Redis
    events_redis: Redis
    passwords: Passwords
    login: LoginMechanism
    limiter: RateLimiter
    extra: dict[str, Any] = field(default_factory=dict)

    async def close(self) -> None:
        """Release connections and pools."""
        for client in {
            id(c): c for c in (self.session_redis, self.cache_redis, self.events_redis)
        }.values():
            await client.aclose()
        await self.db.close()


def resources() -> Resources:
    """The current app's resources (inside a request or app context)."""
    res: Resources = current_app.extensions["delivery"]
    return res
