"""Points and first-come coupons."""

from quart import Quart


def register(app: Quart) -> None:
    """Mount points and coupons; the backlog reconciler runs while the app serves."""
    from app.resources import resources
    from app.rewards.counter import ClaimCounter
    from app.rewards.state import RewardsState
    from app.rewards.views import bp

    app.register_blueprint(bp)

    @app.before_serving
    async def _start_rewards() -> None:
        res = resources()
        state = RewardsState(ClaimCounter(res.cache_redis))
        app.extensions["rewards"] = state
        state.start(res.db)

    @app.after_serving
    async def _stop_rewards() -> None:
        state = app.extensions.pop("rewards", None)
        if state is not None:
            await state.stop()
