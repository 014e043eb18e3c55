"""Points and first-come coupons."""

from quart import Quart


def register(app: Quart) -> None:
    """Mount points and coupons (filled in by the rewards part)."""
