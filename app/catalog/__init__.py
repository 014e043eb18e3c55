"""Stores, menus, images and the cached public reads."""

from quart import Quart


def register(app: Quart) -> None:
    """Mount the catalog (filled in by the catalog part)."""
