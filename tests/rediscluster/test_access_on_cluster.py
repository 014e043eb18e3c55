"""Realtime access follows the data with the events on a Redis Cluster, and `ops` still works.

The same tests as on single servers (`tests/realtime/test_access_follows_data.py`,
`tests/admin/test_console_cluster.py`), run on two nodes whose cache and events Redis is a Redis
Cluster: a change of rights made through one node reaches the other's sockets on the stream's
own shard channel, a rider's position on its order's, an ended session on the broadcast
channel, and every store's events reach the operators' `ops` stream on its broadcast channel.
"""

from __future__ import annotations

import pytest

from app.launcher.cluster import Cluster
from tests.admin.test_console_cluster import (
    admin,
    test_the_ops_stream_brings_every_stores_order_events_and_throttled_positions,
)
from tests.realtime.test_access_follows_data import (
    sockets,
    test_a_rider_who_hands_an_order_back_leaves_its_stream_on_every_node_at_once,
    test_signing_out_disconnects_that_sessions_sockets_on_every_node_at_once,
)

__all__ = [
    "admin",
    "sockets",
    "test_a_rider_who_hands_an_order_back_leaves_its_stream_on_every_node_at_once",
    "test_signing_out_disconnects_that_sessions_sockets_on_every_node_at_once",
    "test_the_ops_stream_brings_every_stores_order_events_and_throttled_positions",
]

pytestmark = pytest.mark.system


@pytest.fixture
def cluster(cluster_on_redis_cluster: Cluster) -> Cluster:
    """The two nodes on the Redis Cluster, under the name those tests ask for."""
    return cluster_on_redis_cluster
