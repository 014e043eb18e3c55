"""Rider positions in a Redis geo index (the cache Redis)."""

from __future__ import annotations

from redis.asyncio import Redis

RIDERS_KEY = "dispatch:riders"


async def place_rider(redis: Redis, rider_id: int, lat: float, lng: float) -> None:
    """Put (or move) a rider in the index of riders on shift."""
    await redis.geoadd(RIDERS_KEY, [lng, lat, str(rider_id)])


async def remove_rider(redis: Redis, rider_id: int) -> None:
    """Take a rider off the index (off shift)."""
    await redis.zrem(RIDERS_KEY, str(rider_id))


async def rider_position(redis: Redis, rider_id: int) -> tuple[float, float] | None:
    """The rider's last indexed (lat, lng), if any."""
    [pos] = await redis.geopos(RIDERS_KEY, str(rider_id))
    if pos is None:
        return None
    lng, lat = pos
    return float(lat), float(lng)


async def riders_near(
    redis: Redis, *, lat: float, lng: float, radius_km: float, limit: int
) -> list[tuple[int, float]]:
    """Indexed riders within `radius_km` of a point, nearest first, as (rider_id, km)."""
    found = await redis.geosearch(
        RIDERS_KEY,
        longitude=lng,
        latitude=lat,
        radius=radius_km,
        unit="km",
        sort="ASC",
        count=limit,
        withdist=True,
    )
    return [(int(member), float(dist)) for member, dist in found]  # type: ignore[str-unpack, arg-type]
