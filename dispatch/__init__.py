"""Rider shifts and positions, offers, assignment."""

from quart import Quart


def register(app: Quart) -> None:
    """Mount the dispatch endpoints; run the search worker and location sharing."""
    from dispatch.location import LocationSharing
    from dispatch.views import bp
    from dispatch.worker import SearchWorker

    app.register_blueprint(bp)

    @app.before_serving
    async def _start_dispatch() -> None:
        resources = app.extensions["delivery"]
        worker = SearchWorker(resources)
        resources.extra["dispatch_worker"] = worker
        resources.extra["dispatch_location"] = LocationSharing(
            resources.db, resources.cache_redis, resources.events_redis
        )
        worker.start()

    @app.after_serving
    async def _stop_dispatch() -> None:
        resources = app.extensions.get("delivery")
        if resources is None:
            return
        worker = resources.extra.pop("dispatch_worker", None)
        if worker is not None:
            await worker.stop()
        sharing = resources.extra.pop("dispatch_location", None)
        if sharing is not None:
            await sharing.close()
