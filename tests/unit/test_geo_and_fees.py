"""Distances on the globe, the rider's fee and the widening search radius."""

from __future__ import annotations

import math

import pytest

from app.config import Settings
from app.geo import EARTH_RADIUS_KM, distance_km
from dispatch.earnings import FeeSchedule
from dispatch.offers import MAX_RADIUS_KM, radius_for

CITY_HALL = (37.5665, 126.9780)
BUSAN = (35.1798, 129.0750)
PLACES = [CITY_HALL, BUSAN, (0.0, 0.0), (0.0, 180.0), (89.9, 10.0), (-33.86, 151.21), (51.5, -0.12)]


def test_known_distances() -> None:
    assert distance_km(*CITY_HALL, *CITY_HALL) == 0
    # Seoul City Hall to Busan City Hall is about 325 km.
    assert 320 < distance_km(*CITY_HALL, *BUSAN) < 330
    # One degree of latitude is about 111.2 km everywhere; of longitude, that times cos(lat).
    assert distance_km(10, 20, 11, 20) == pytest.approx(111.2, abs=0.1)
    assert distance_km(60, 20, 60, 21) == pytest.approx(111.2 * math.cos(math.radians(60)), 0.01)
    # Half way round the globe, even where rounding would push asin past 1.
    assert distance_km(0, 0, 0, 180) == pytest.approx(math.pi * EARTH_RADIUS_KM)
    assert distance_km(90, 0, -90, 0) == pytest.approx(math.pi * EARTH_RADIUS_KM)


def test_distance_is_symmetric_and_across_the_date_line_short() -> None:
    for a in PLACES:
        for b in PLACES:
            assert distance_km(*a, *b) == pytest.approx(distance_km(*b, *a))
    assert distance_km(0, 179.5, 0, -179.5) == pytest.approx(111.2, abs=0.1)


@pytest.mark.parametrize(
    ("km", "fee"), [(0, 3_000), (0.19, 3_100), (1, 3_500), (2.34, 4_200), (10, 8_000)]
)
def test_the_rider_fee_is_the_base_and_500_won_a_km_rounded_to_100(km: float, fee: int) -> None:
    assert FeeSchedule().fee(km) == fee


def test_the_rider_fee_never_falls_as_the_distance_grows() -> None:
    fees = [FeeSchedule().fee(step / 100) for step in range(0, 3_000)]
    assert fees[0] == FeeSchedule().base == 3_000
    assert all(fee % 100 == 0 for fee in fees)
    assert fees == sorted(fees)


def test_the_fee_settings_default_to_3000_won_and_500_won_a_km_and_set_the_schedule() -> None:
    fields = Settings.model_fields
    assert (fields["dispatch_fee_base"].default, fields["dispatch_fee_per_km"].default) == (
        3_000,
        500,
    )
    for bad in ({"dispatch_fee_base": -1}, {"dispatch_fee_per_km": 10**9}):
        with pytest.raises(ValueError, match="dispatch_fee"):
            Settings(**bad)  # type: ignore[arg-type]
    assert FeeSchedule(base=4_000, per_km=1_000).fee(2.34) == 4_000 + 2_300
    assert FeeSchedule(base=0, per_km=0).fee(50) == 0


def test_the_radius_doubles_each_round_up_to_the_bound() -> None:
    assert [radius_for(n, 3.0) for n in range(1, 7)] == [3, 6, 12, 24, 24, 24]
    assert MAX_RADIUS_KM == 24
    assert radius_for(0, 3.0) == 3.0  # before the first round: the base
    assert [radius_for(n, 5.0) for n in range(1, 5)] == [5, 10, 20, 24]


def test_a_base_radius_above_the_bound_is_kept_not_shrunk() -> None:
    assert [radius_for(n, 30.0) for n in range(1, 4)] == [30, 30, 30]
