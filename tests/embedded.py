"""The embedded mode (SQLite, in-process Redis stand-in) in this process, called over ASGI."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from app import create_app
from app.config import Settings
from app.migrate import upgrade


@dataclass(frozen=True)
class Embedded:
    settings: Settings
    transport: httpx.ASGITransport

    def client(self) -> httpx.AsyncClient:
        """A client with its own cookie jar (close it, or use it with `async with`)."""
        return httpx.AsyncClient(transport=self.transport, base_url="http://t")

    @property
    def database(self) -> Path:
        """The SQLite file."""
        return Path(self.settings.effective_database_url.split("///", 1)[1])


@asynccontextmanager
async def embedded_app(folder: Path, **overrides: Any) -> AsyncIterator[Embedded]:
    """A migrated embedded-mode app in `folder` (with any other settings), serving until the
    block ends."""
    settings = Settings(var_dir=folder, **overrides)
    assert settings.embedded
    await asyncio.to_thread(upgrade, settings.effective_database_url)
    app = create_app(settings)
    async with app.quart.test_app():
        yield Embedded(settings, httpx.ASGITransport(app=app))
