"""Fixtures of the realtime tests: the cluster, and a database handle on it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from app.db import Database
from app.launcher.cluster import Cluster
from tests.system import cluster, people

__all__ = ["cluster", "people"]


@pytest.fixture
async def cluster_db(cluster: Cluster) -> AsyncIterator[Database]:
    """The cluster's database, written directly (as a node that died after committing would)."""
    import app.models  # noqa: F401  (every mapper, so that relationships resolve)

    db = Database(cluster.database_url)
    try:
        yield db
    finally:
        await db.close()
