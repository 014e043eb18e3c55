"""The PC web UI: pages for customers, store owners and riders."""

from quart import Quart


def register(app: Quart) -> None:
    """Mount the web pages (filled in by the web UI part)."""
