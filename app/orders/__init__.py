"""Orders: placement, the lifecycle table, refunds."""

from quart import Quart


def register(app: Quart) -> None:
    """Mount the order endpoints (filled in by the orders part)."""
