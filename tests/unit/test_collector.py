"""The node's garbage collector settings (app/collector.py)."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from app import collector


@pytest.fixture
def restored() -> Iterator[None]:
    threshold = gc.get_threshold()
    try:
        yield
    finally:
        gc.unfreeze()
        gc.set_threshold(*threshold)


def test_tune_collects_young_objects_rarely_and_leaves_what_exists_out(restored: None) -> None:
    kept = [[n] for n in range(1000)]  # tracked objects that exist before serving
    gc.unfreeze()
    assert gc.get_freeze_count() == 0
    collector.tune()
    assert gc.get_threshold()[0] == collector.YOUNG_THRESHOLD
    assert gc.get_freeze_count() >= len(kept)
    # What existed is frozen; what comes after is collected as before.
    assert gc.is_tracked(kept[0])
    assert all(obj is not kept[0] for generation in range(3) for obj in gc.get_objects(generation))
    made_after = [[n] for n in range(10)]
    assert any(obj is made_after[0] for obj in gc.get_objects(generation=0))
