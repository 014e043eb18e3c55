"""Unit tests without I/O: distances, bounding boxes, field rules, image cleaning."""

from __future__ import annotations

import math

import pytest
from pydantic import ValidationError

from app.catalog.images import ImageDecoder, new_key
from app.catalog.queries import bounding_box
from app.catalog.schemas import StoreCreate, StoreQuery
from app.errors import TooLarge, UnsupportedMediaType
from app.geo import distance_km
from tests.catalog.conftest import CITY_HALL, image_bytes, store_body


def test_haversine_matches_known_distances() -> None:
    assert distance_km(*CITY_HALL, *CITY_HALL) == 0
    # Seoul City Hall to Busan City Hall is about 325 km.
    assert 320 < distance_km(*CITY_HALL, 35.1798, 129.0750) < 330
    # One degree of latitude is about 111.2 km everywhere.
    assert abs(distance_km(10, 20, 11, 20) - 111.2) < 0.1


@pytest.mark.parametrize("lat", [-89.9, -45.0, 0.0, 37.5665, 80.0])
def test_bounding_box_contains_every_point_of_the_circle(lat: float) -> None:
    lng, radius = 126.978, 7.5
    min_lat, max_lat, min_lng, max_lng = bounding_box(lat, lng, radius)
    for step in range(360):
        bearing = math.radians(step)
        # A point `radius` km away along `bearing` (the spherical destination formula).
        d = radius / 6371.0088
        p1, l1 = math.radians(lat), math.radians(lng)
        p2 = math.asin(math.sin(p1) * math.cos(d) + math.cos(p1) * math.sin(d) * math.cos(bearing))
        l2 = l1 + math.atan2(
            math.sin(bearing) * math.sin(d) * math.cos(p1),
            math.cos(d) - math.sin(p1) * math.sin(p2),
        )
        point_lat, point_lng = math.degrees(p2), math.degrees(l2)
        assert min_lat - 1e-9 <= point_lat <= max_lat + 1e-9
        assert min_lng - 1e-9 <= point_lng <= max_lng + 1e-9


@pytest.mark.parametrize(
    "phone", ["02-123-4567", "+82-2-123-4567", "010 1234 5678", "0212345678", "1588-1234"]
)
def test_phone_numbers_in_common_shapes_are_accepted(phone: str) -> None:
    assert StoreCreate.model_validate(store_body(phone=phone)).phone == phone


@pytest.mark.parametrize("phone", ["", "12", "02--123-4567", "02-123-4567 ext 9", "phone", "+"])
def test_malformed_phone_numbers_are_refused(phone: str) -> None:
    with pytest.raises(ValidationError):
        StoreCreate.model_validate(store_body(phone=phone))


def test_search_query_cache_key_differs_for_different_queries() -> None:
    a = StoreQuery.model_validate({"lat": "37.5", "lng": "127"})
    b = StoreQuery.model_validate({"lat": "37.5", "lng": "127", "radius_km": "3"})
    same = StoreQuery.model_validate({"lng": "127.0", "lat": "37.50"})
    assert a.key() != b.key()
    assert a.key() == same.key()


async def test_clean_image_refuses_by_content_and_size() -> None:
    clean_image = ImageDecoder(slots=1, wait=1).clean
    with pytest.raises(UnsupportedMediaType):
        await clean_image(b"<svg xmlns='http://www.w3.org/2000/svg'/>")
    with pytest.raises(UnsupportedMediaType):
        await clean_image(b"")
    with pytest.raises(TooLarge):
        await clean_image(b"\x89PNG" + b"\0" * (5 * 1024 * 1024))
    cleaned = await clean_image(image_bytes("WEBP"))
    assert (cleaned.extension, cleaned.content_type) == ("webp", "image/webp")


def test_new_keys_are_never_reused() -> None:
    keys = {new_key("stores", 1, "jpg") for _ in range(1000)}
    assert len(keys) == 1000
