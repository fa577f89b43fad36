"""Bounded caches that let the video predictor skip work it has already done.

* :class:`FrameFeatureCache` keeps image-encoder outputs per frame (LRU, bounded in bytes),
  so tracking again after a refinement does not re-run the image encoder.
* :class:`ConditionedFeatureCache` keeps memory-conditioned features per (object, frame,
  direction) together with the exact memories they were computed from; a click on an
  already-tracked frame reuses them while those memories are unchanged, which skips
  memory attention (the most expensive step of a click on a tracked frame). It also hands
  out the memory attention's first self-attention per frame (it does not depend on the
  memory), computed once for all objects and tracking passes.

Given a :class:`~sam2.video.host_copies.HostStore` (the predictor's ``feature_cache_on_host``),
both keep their tensors in host memory and hand out device copies, so device memory does not
grow with the frames cached.
"""

from collections import OrderedDict
from typing import Callable, List, Optional, Union

import torch

from sam2.video.conditioned_lru import ConditionedLRU
from sam2.video.host_copies import HostCopy, HostStore

Stored = Union[torch.Tensor, HostCopy]


def _nbytes(t: Stored) -> int:
    return t.nbytes if isinstance(t, HostCopy) else t.numel() * t.element_size()


def _keep(host: Optional[HostStore], t: torch.Tensor) -> Stored:
    return host.keep(t) if host is not None else t


def _load(t: Stored) -> torch.Tensor:
    return t.to_device() if isinstance(t, HostCopy) else t


class FrameFeatureCache:
    """frame index -> image-encoder output ``{"backbone_fpn": [...], "vision_pos_enc": [...]}``.

    Positional encodings depend only on the feature-map size, so one copy is shared by
    every frame, stays on the device and is not counted per frame.
    """

    def __init__(self, max_bytes: int, host: Optional[HostStore] = None):
        self.max_bytes = max_bytes
        self.host = host
        self._entries: "OrderedDict[int, dict]" = OrderedDict()
        self._sizes = {}
        self._shared_pos: Optional[List[torch.Tensor]] = None
        self.bytes = 0
        self.hits = 0
        self.misses = 0

    def get(self, frame_idx: int) -> Optional[dict]:
        entry = self._entries.get(frame_idx)
        if entry is None:
            self.misses += 1
            return None
        self.hits += 1
        self._entries.move_to_end(frame_idx)
        return {"backbone_fpn": [_load(t) for t in entry["backbone_fpn"]], "vision_pos_enc": entry["vision_pos_enc"]}

    def put(self, frame_idx: int, backbone_out: dict) -> dict:
        """Cache a frame's image-encoder output; returns it as the model uses it (on its device)."""
        pos = backbone_out["vision_pos_enc"]
        if self._shared_pos is not None and [p.shape for p in pos] == [p.shape for p in self._shared_pos]:
            pos = self._shared_pos
        else:
            self._shared_pos = pos
        fpn = list(backbone_out["backbone_fpn"])
        entry = {"backbone_fpn": [_keep(self.host, t) for t in fpn], "vision_pos_enc": pos}
        size = sum(_nbytes(t) for t in entry["backbone_fpn"])
        self.discard(frame_idx)
        self._entries[frame_idx] = entry
        self._sizes[frame_idx] = size
        self.bytes += size
        self._evict_oldest()
        return {"backbone_fpn": fpn, "vision_pos_enc": pos}

    def derived(self, frame_idx: int, name: str, compute: Callable[[], torch.Tensor]) -> torch.Tensor:
        """A tensor computed from a cached frame's features, kept (and counted) with them."""
        entry = self._entries.get(frame_idx)
        if entry is None:
            return compute()  # the frame is not cached: nothing to attach the result to
        stored = entry.get(name)
        if stored is not None:
            return _load(stored)
        value = compute()
        stored = entry[name] = _keep(self.host, value)
        self._sizes[frame_idx] += _nbytes(stored)  # counted with the frame's features
        self.bytes += _nbytes(stored)
        self._entries.move_to_end(frame_idx)
        self._evict_oldest()
        return value

    def _evict_oldest(self) -> None:
        """Drop least recently used frames while over budget; the newest always stays."""
        while self.bytes > self.max_bytes and len(self._entries) > 1:
            old, _ = self._entries.popitem(last=False)
            self.bytes -= self._sizes.pop(old)

    def discard(self, frame_idx: int) -> None:
        if frame_idx in self._entries:
            del self._entries[frame_idx]
            self.bytes -= self._sizes.pop(frame_idx)

    def clear(self) -> None:
        self._entries.clear()
        self._sizes.clear()
        self.bytes = 0

    def __len__(self) -> int:
        return len(self._entries)

    def frame_indices(self) -> List[int]:
        return list(self._entries)

    def __contains__(self, frame_idx: int) -> bool:
        return frame_idx in self._entries


class ConditionedFeatureCache(ConditionedLRU[torch.Tensor]):
    """(object, frame, direction) -> memory-conditioned features, valid for given memories
    (:class:`~sam2.video.conditioned_lru.ConditionedLRU`'s rule), kept in host memory when the
    predictor has a :class:`HostStore`."""

    def __init__(self, max_entries: int, frame_features: Optional[FrameFeatureCache] = None,
                 host: Optional[HostStore] = None):
        super().__init__(max_entries)
        self.frame_features = frame_features
        self.host = host

    def _keep(self, features: torch.Tensor) -> Stored:
        return _keep(self.host, features)

    def _load(self, stored: Stored) -> torch.Tensor:
        return _load(stored)

    def first_self_attention(self, frame_idx: int, compute: Callable[[], torch.Tensor]) -> torch.Tensor:
        """The memory attention's memory-independent first step for a frame (batch 1), computed once.

        Stored beside the frame's image features (same byte budget).
        """
        if self.frame_features is None:
            return compute()
        return self.frame_features.derived(frame_idx, "first_self_attention", compute)
