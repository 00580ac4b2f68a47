"""A process that applies batches collects its young objects less often, and keeps
what start-up made out of every collection (consumers/collector.py)."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from careledger.consumers.collector import YOUNG, set_for_batches


@pytest.fixture()
def collector() -> Iterator[None]:
    before = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*before)


def test_start_up_is_frozen_and_young_collections_are_rarer(collector: None) -> None:
    made_at_start = [object() for _ in range(10)]
    _, middle_before, old_before = gc.get_threshold()
    set_for_batches()
    assert gc.get_freeze_count() >= len(made_at_start)
    young, middle, old = gc.get_threshold()
    assert young == YOUNG > 700
    assert (middle, old) == (middle_before, old_before)


def test_cycles_are_still_collected(collector: None) -> None:
    set_for_batches()

    class Node:
        partner: Node | None = None

    a, b = Node(), Node()
    a.partner, b.partner = b, a
    del a, b
    assert gc.collect() >= 2
