"""How a change of someone's rights reaches the live connections still holding the old ones.

Declared here, implemented by the realtime side and registered by the composition root, so
that what changes rights (signing out, a rider handing an order back) need not know who
listens. Each call is made after the change is committed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol


class Revocations(Protocol):
    """Tells every node that rights changed, so each drops what its sockets may no longer have."""

    async def streams_changed(self, streams: Sequence[str]) -> None:
        """Who may follow these streams changed: the sockets following them are re-checked."""

    async def session_ended(self, session_id: str) -> None:
        """This session ended: its sockets are disconnected."""

    async def user_ended(self, user_id: int) -> None:
        """Every session of this user ended (a suspension): all its sockets are disconnected."""
