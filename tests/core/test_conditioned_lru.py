"""ConditionedLRU: conditioned features come back only for the very same memories."""

from dataclasses import dataclass
from typing import Any, Optional

import numpy as np

from sam2.video.conditioned_lru import ConditionedLRU
from sam2.video.memory_policy import MemorySelection


@dataclass(eq=False)
class Memory:
    obj_ptr: Any
    memory: Optional[Any]
    memory_pos: Optional[Any]


def _memory() -> Memory:
    return Memory(np.zeros(4), np.zeros((2, 2)), np.zeros((2, 2)))


def _selection(*entries: Memory) -> MemorySelection:
    return MemorySelection(
        spatial=tuple((slot, m) for slot, m in enumerate(entries)),
        pointers=tuple((distance + 1, m) for distance, m in enumerate(entries)),
    )


def test_features_come_back_for_the_same_memories_only():
    cache = ConditionedLRU(4)
    a, b = _memory(), _memory()
    features = np.ones(3)
    cache.store(("obj", 5, False), _selection(a, b), features)
    assert cache.lookup(("obj", 5, False), _selection(a, b)) is features
    # Equal values but another object (a recomputed memory): not the same memories.
    assert cache.lookup(("obj", 5, False), _selection(a, _memory())) is None
    # A record holding another memory tensor than the stored one: not the same either.
    b_again = Memory(b.obj_ptr, np.zeros((2, 2)), b.memory_pos)
    assert cache.lookup(("obj", 5, False), _selection(a, b_again)) is None
    assert cache.lookup(("obj", 6, False), _selection(a, b)) is None  # another key
    assert (cache.hits, cache.misses) == (1, 3)


def test_least_recently_used_entries_go_first():
    cache = ConditionedLRU(2)
    selection = _selection(_memory())
    for frame in range(3):
        cache.store(frame, selection, frame)
        cache.lookup(0, selection)  # frame 0 stays recently used
    assert len(cache) == 2
    assert cache.lookup(0, selection) == 0 and cache.lookup(2, selection) == 2
    assert cache.lookup(1, selection) is None


def test_zero_entries_keeps_nothing():
    cache = ConditionedLRU(0)
    selection = _selection(_memory())
    cache.store(1, selection, "features")
    assert len(cache) == 0 and cache.lookup(1, selection) is None
