"""Rider positions in a Redis geo index (the cache Redis)."""

from __future__ import annotations

from redis.asyncio import Redis

RIDERS_KEY = "dispatch:riders"
# Redis indexes the latitudes Web Mercator covers; WGS84 goes on to ±90, where no store of ours
# stands (EPSG:900913, the limit GEOADD enforces).
INDEXED_LAT = 85.05112878


def indexable(lat: float) -> bool:
    """True for a latitude the geo index can hold."""
    return -INDEXED_LAT <= lat <= INDEXED_LAT


async def place_rider(redis: Redis, rider_id: int, lat: float, lng: float) -> None:
    """Put (or move) a rider in the index of riders on shift; a rider nearer a pole than the
    index reaches leaves it (no offer can find them there), and returns when back in range."""
    if not indexable(lat):
        await remove_rider(redis, rider_id)
        return
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
    if not indexable(lat):
        return []  # none can be indexed there
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
