"""When an order should arrive: the kitchen's time and the rides, as pure arithmetic.

The estimate is set when the store accepts (the kitchen's time, then the ride from the store to
the customer) and moved by what changes it: the owner's delay (the kitchen needs longer), the
rider's assignment (the rider may reach the store after the food is ready) and the pickup (only
the ride to the customer is left). `app.orders.clock` applies these to orders.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from app.geo import distance_km

# The pace of a rider over the straight line between two points (what `app.geo` measures).
# A scooter in city traffic averages about 25 km/h on its roads, and streets run about 1.4×
# the straight line between two addresses, so 25 / 1.4 ≈ 18 km/h on the great-circle
# distance. The simulated riders ride 20–30 km/h on that line, so the estimate errs on the late
# side for them, as a promise to a hungry customer should.
RIDER_KMH = 18.0
# The most an owner may push an order back in all, however many delays it takes.
MAX_TOTAL_DELAY_MINUTES = 180


def ride(km: float) -> timedelta:
    """How long a rider takes to cover `km` of straight-line distance."""
    return timedelta(hours=max(0.0, km) / RIDER_KMH)


def ride_between(lat1: float, lng1: float, lat2: float, lng2: float) -> timedelta:
    """The ride from one point to another."""
    return ride(distance_km(lat1, lng1, lat2, lng2))


def food_ready_at(prep_start: datetime, prep_minutes: int) -> datetime:
    """When the kitchen expects the food ready, starting at `prep_start` on `prep_minutes`."""
    return prep_start + timedelta(minutes=prep_minutes)


def delayed(food_ready: datetime, now: datetime, minutes: int) -> datetime:
    """The kitchen needs `minutes` more: from when it expected to be done, or from now when
    that has already passed (a kitchen running late pushes back from the present)."""
    return max(food_ready, now) + timedelta(minutes=minutes)


def at_acceptance(food_ready: datetime, to_customer: timedelta) -> datetime:
    """Accepted: the kitchen's time, then the ride (a rider is assumed there on time)."""
    return food_ready + to_customer


def at_assignment(
    now: datetime, food_ready: datetime, to_store: timedelta | None, to_customer: timedelta
) -> datetime:
    """A rider `to_store` away from the store takes the order: the food leaves when both the
    food and the rider are there (an unknown rider position counts as there on time)."""
    rider_there = now + (to_store or timedelta(0))
    return max(food_ready, rider_there) + to_customer


def after_delay(eta: datetime, food_ready: datetime, to_customer: timedelta) -> datetime:
    """The kitchen's new `food_ready`, later than before: the food leaves at the later of it
    and the time it was already going to leave (a rider still on the way to the store).

    Before any assignment the estimate was `food_ready + ride`, so a delay moves it by exactly
    its minutes (counted from now for a kitchen already late); after one it was
    `max(food, rider) + ride`, and this is the same formula with the new `food_ready`.
    """
    return max(eta, food_ready + to_customer)


def at_pickup(now: datetime, to_customer: timedelta) -> datetime:
    """Picked up now: only the ride to the customer is left."""
    return now + to_customer


def minutes_until(eta: datetime, now: datetime) -> int:
    """Whole minutes from `now` until `eta`, rounded up, and never negative."""
    return max(0, math.ceil((eta - now).total_seconds() / 60))
