"""Stream names a socket may ask for: `kind:id` exactly, or `ops`; anything else does not exist."""

from __future__ import annotations

import pytest

from realtime.access import Refused, parse_stream


@pytest.mark.parametrize(
    ("name", "parsed"),
    [
        ("order:5", ("order", 5)),
        ("store-public:12", ("store-public", 12)),
        ("rider:999999999999999999", ("rider", 999999999999999999)),
        ("ops", ("ops", 0)),
    ],
)
def test_a_stream_name_is_its_kind_and_id(name: str, parsed: tuple[str, int]) -> None:
    assert parse_stream(name) == parsed


@pytest.mark.parametrize(
    "name",
    ["order:5\n", "order:05", "order:0", "order:1000000000000000000", " store:1", "ops\n", 5, None],
)
def test_anything_else_is_a_stream_that_does_not_exist(name: object) -> None:
    with pytest.raises(Refused) as refused:
        parse_stream(name)
    assert refused.value.code == "not-found"
