"""Demand over a day: a Poisson process whose rate follows a lunch and a dinner peak."""

from __future__ import annotations

import math
import random
from collections.abc import Iterator

LUNCH = 12 * 3600.0
DINNER = 18.5 * 3600.0
# Relative heights and widths (seconds) of the day's curve; the dinner peak is the day's top.
BASE, LUNCH_HEIGHT, DINNER_HEIGHT = 0.08, 0.6, 1.0
LUNCH_WIDTH, DINNER_WIDTH = 50 * 60.0, 60 * 60.0


def _raw(clock: float) -> float:
    def bump(center: float, width: float) -> float:
        return math.exp(-0.5 * ((clock - center) / width) ** 2)

    return (
        BASE + LUNCH_HEIGHT * bump(LUNCH, LUNCH_WIDTH) + DINNER_HEIGHT * bump(DINNER, DINNER_WIDTH)
    )


_TOP = max(_raw(DINNER + d) for d in range(-600, 601, 10))


def shape(clock: float) -> float:
    """The day's demand at `clock` (seconds after midnight), 1.0 at the top of the dinner peak."""
    return _raw(clock % 86400) / _TOP


def arrivals(
    rng: random.Random,
    *,
    peak_per_minute: float,
    start: float,
    speed: float,
    wall_seconds: float,
    flat: bool = False,
) -> Iterator[float]:
    """Wall-clock offsets (seconds from the start) of order arrivals, by thinning.

    The rate at wall second t is `peak_per_minute / 60 × shape(start + t × speed)` (or the peak
    itself when `flat`): a non-homogeneous Poisson process drawn from a homogeneous one at the
    peak rate, each candidate kept with probability rate / peak.
    """
    top = peak_per_minute / 60.0
    if top <= 0:
        return
    t = 0.0
    while True:
        t += rng.expovariate(top)
        if t >= wall_seconds:
            return
        if flat or rng.random() < shape(start + t * speed):
            yield t
