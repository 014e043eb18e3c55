"""Socket.IO, stream logs, the outbox relay and cross-node fan-out."""

from quart import Quart


def register(app: Quart) -> None:
    """Start the realtime machinery (filled in by the realtime part)."""
