"""The operators' stream `ops`: every order event of every store, and riders' positions.

It has no log of its own: a node hands each event of any `store:{id}` stream that reaches it
to its `ops` subscribers as it is (`stream` and `seq` those of the store's stream), and riders'
positions arrive on a channel of their own, throttled per rider where they are sent. So the
stream costs nothing while no admin watches, and no order transaction waits on a shared
sequence. Subscribing replays nothing (`recovered: false`): the console reads the REST queues.
"""

from __future__ import annotations

from datetime import datetime

from redis.asyncio import Redis

from realtime.access import OPS_STREAM
from realtime.schemas import RiderLocationMessage

__all__ = [
    "OPS_EVENTS_CHANNEL",
    "OPS_LOCATION_CHANNEL",
    "OPS_STREAM",
    "carried",
    "publish_rider_location",
]

OPS_LOCATION_CHANNEL = "rt:ops-location"
# On a Redis Cluster, where a node hears only the streams its sockets follow, the append script
# also publishes every carried event here (plain pub/sub, which reaches every node); a node
# listens while it has an `ops` subscriber.
OPS_EVENTS_CHANNEL = "rt:ops-events"
# The streams whose events the ops stream carries: a store's carries every event of its orders.
CARRIED_PREFIX = "store:"


def carried(stream: str) -> bool:
    """Whether an event of `stream` goes to the `ops` subscribers too."""
    return stream.startswith(CARRIED_PREFIX)


async def publish_rider_location(
    redis: Redis, *, rider_id: int, lat: float, lng: float, at: str
) -> None:
    """Send a rider's position to the `ops` subscribers on every node."""
    message = RiderLocationMessage(
        rider_id=rider_id, lat=lat, lng=lng, at=datetime.fromisoformat(at)
    )
    await redis.publish(OPS_LOCATION_CHANNEL, message.model_dump_json())
