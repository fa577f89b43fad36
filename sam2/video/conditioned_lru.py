"""Memory-conditioned features kept for reuse, by both trackers (torch-free).

Memory attention is the costliest step of tracking a frame, and its output depends only on the
frame and the memories it reads. :class:`ConditionedLRU` keeps that output per key (object,
frame, direction) beside the :class:`~sam2.video.memory_policy.MemorySelection` it was computed
from, and hands it back only while a new selection reads the very same memories
(``same_memories``: compared by identity). A click on a tracked frame, or a re-track pass over
frames whose memories did not change, then skips memory attention. The torch tracker's
:class:`~sam2.video.feature_cache.ConditionedFeatureCache` adds host-memory storage; the
onnxruntime tracker keeps NumPy arrays as they are.
"""

from collections import OrderedDict
from typing import Generic, Hashable, Optional, Tuple, TypeVar

Features = TypeVar("Features")


class ConditionedLRU(Generic[Features]):
    """At most ``max_entries`` conditioned features (0: none kept), least recently used dropped."""

    def __init__(self, max_entries: int):
        self.max_entries = max_entries
        self._entries: "OrderedDict[Hashable, Tuple[object, object]]" = OrderedDict()
        self.hits = 0
        self.misses = 0

    def _keep(self, features: Features) -> object:
        """What is stored for ``features`` (subclasses may move it elsewhere)."""
        return features

    def _load(self, stored: object) -> Features:
        return stored  # type: ignore[return-value]

    def lookup(self, key: Hashable, selection) -> Optional[Features]:
        """The features stored under ``key`` if they were computed from ``selection``'s memories."""
        entry = self._entries.get(key)
        if entry is not None and entry[0].same_memories(selection):
            self._entries.move_to_end(key)
            self.hits += 1
            return self._load(entry[1])
        self.misses += 1
        return None

    def store(self, key: Hashable, selection, features: Features) -> None:
        if self.max_entries <= 0:
            return
        self._entries[key] = (selection, self._keep(features))
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)

    def clear(self) -> None:
        self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)
