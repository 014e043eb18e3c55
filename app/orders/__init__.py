"""Orders: placement, the lifecycle table, refunds."""

from __future__ import annotations

import asyncio

from quart import Quart


def register(app: Quart) -> None:
    """Mount the order endpoints and run the sweeper of unanswered orders."""
    from app.orders import sweeper
    from app.orders.views import bp

    app.register_blueprint(bp)

    @app.before_serving
    async def _start_sweeper() -> None:
        resources = app.extensions["delivery"]
        resources.extra["orders_sweeper"] = asyncio.create_task(sweeper.run_sweeper(resources))

    @app.after_serving
    async def _stop_sweeper() -> None:
        resources = app.extensions.get("delivery")
        task = resources.extra.pop("orders_sweeper", None) if resources else None
        if task is not None:
            await sweeper.stop(task)
