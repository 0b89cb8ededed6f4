"""The worker's collector settings (bootstrap/heap.py)."""

import gc
from collections.abc import Iterator

import pytest

from postroom.bootstrap.heap import YOUNG_THRESHOLD, settle_heap


@pytest.fixture
def restored() -> Iterator[None]:
    threshold = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*threshold)


def test_start_up_objects_are_frozen_and_young_ones_collected_less_often(
    restored: None,
) -> None:
    """After settle_heap what existed is out of the collector's sight; the older generations'
    thresholds stay as they were."""
    _, middle, old = gc.get_threshold()
    settle_heap()
    assert gc.get_freeze_count() > 0
    assert gc.get_threshold() == (YOUNG_THRESHOLD, middle, old)
