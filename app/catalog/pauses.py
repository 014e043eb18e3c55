"""Every node ends the pauses that have run out, and each end is announced exactly once.

Ordering never waits for this: a pause counts only while `paused_until` is in the future, so
every node takes orders again the moment it passes. The sweep only clears the column and
records `store.resumed`, claiming each end with a conditional UPDATE
(`catalog.service.resume_expired_pauses`), so two nodes sweeping the same pause cannot both
announce it.
"""

from __future__ import annotations

import asyncio
import logging
import random

from app.catalog.cache import CatalogCache
from app.catalog.service import resume_expired_pauses
from app.db import Database
from app.lifecycle import CANCEL_TIMEOUT, STOP_GRACE, run_to_end, stop_task

log = logging.getLogger("delivery.catalog")
PAUSE_SWEEP_INTERVAL = 1.0


class PauseSweeper:
    """Sweeps for pauses that ran out about once a second (with jitter), until stopped."""

    def __init__(
        self, *, db: Database, cache: CatalogCache, interval: float = PAUSE_SWEEP_INTERVAL
    ) -> None:
        self.db = db
        self.cache = cache
        self.interval = interval
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Sweep in the background until `stop`."""
        self._task = asyncio.create_task(self._run(), name="pause-sweeper")

    async def stop(self) -> None:
        """Cancel the sweeper; the sweep in progress gets a grace period to finish."""
        if self._task is not None:
            await stop_task(self._task, unwind=STOP_GRACE + CANCEL_TIMEOUT)
            self._task = None

    async def sweep(self) -> int:
        """One pass: the number of pauses this node ended."""
        return await resume_expired_pauses(db=self.db, cache=self.cache)

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval * random.uniform(0.8, 1.2))
            try:
                await run_to_end(self.sweep(), grace=STOP_GRACE)
            except Exception:
                log.exception("pause sweep failed; retrying on the next round")
