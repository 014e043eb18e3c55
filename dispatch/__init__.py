"""Rider shifts and positions, offers, assignment."""

from quart import Quart


def register(app: Quart) -> None:
    """Mount dispatch (filled in by the dispatch part)."""
