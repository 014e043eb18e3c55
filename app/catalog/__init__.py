"""Stores, menus, images and the cached public reads."""

from __future__ import annotations

from dataclasses import dataclass

from quart import Quart

from app.catalog.cache import CatalogCache
from app.storage import Storage


@dataclass
class CatalogResources:
    """What one app instance holds for the catalog: the read cache and the image storage."""

    cache: CatalogCache
    storage: Storage


def register(app: Quart) -> None:
    """Mount the catalog endpoints; open the storage when serving starts, close it after."""
    from app.catalog.views import bp
    from app.resources import Resources
    from app.storage import storage_from_settings

    app.register_blueprint(bp)

    @app.before_serving
    async def _open_catalog() -> None:
        resources: Resources = app.extensions["delivery"]
        settings = resources.settings
        storage = storage_from_settings(settings)
        await storage.open()
        cache = CatalogCache(
            resources.cache_redis, enabled=settings.catalog_cache, ttl=settings.catalog_cache_ttl
        )
        resources.extra["catalog"] = CatalogResources(cache=cache, storage=storage)

    @app.after_serving
    async def _close_catalog() -> None:
        resources = app.extensions.get("delivery")
        extra = resources.extra.pop("catalog", None) if resources is not None else None
        if extra is not None:
            await extra.storage.close()
