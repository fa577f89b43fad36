"""Per-video state of the onnxruntime video predictor, typed and in NumPy.

Its objects are the torch tracker's records (:mod:`sam2.video.tracks`, torch-free) holding
NumPy arrays: one :class:`~sam2.video.tracks.ObjectTrack` per object with its prompts, its
consolidated outputs (prompted "cond" frames and tracked frames) and the outputs of clicks
not consolidated yet ("pending"). Official dict-style reads (``state["num_frames"]``,
``state["images"]``, ...) are kept.
"""

from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Tuple

import numpy as np

from sam2.video.conditioned_lru import ConditionedLRU
from sam2.video.tracks import ObjectRoster, ObjectTrack

# Memory-conditioned features kept per video, per (object, frame, direction): 4 MB each at 1024 px.
CONDITIONED_ENTRIES = 64


def to_bf16_bits(x: np.ndarray) -> np.ndarray:
    """float32 -> bfloat16 bit patterns (uint16), rounded to nearest even like torch's cast."""
    u = np.ascontiguousarray(x, dtype=np.float32).view(np.uint32)
    rounded = u + (np.uint32(0x7FFF) + ((u >> np.uint32(16)) & np.uint32(1)))
    return (rounded >> np.uint32(16)).astype(np.uint16)


def from_bf16_bits(bits: np.ndarray) -> np.ndarray:
    """bfloat16 bit patterns (uint16) -> float32 (exact)."""
    return (bits.astype(np.uint32) << np.uint32(16)).view(np.float32)


FrameFeatures = Dict[str, np.ndarray]  # vision_features, image_embed, high_res_0, high_res_1 (batch 1)


class FeatureCache:
    """frame -> image-encoder outputs, least recently used first out, bounded in bytes."""

    def __init__(self, max_bytes: int):
        self.max_bytes = max_bytes
        self.bytes = 0
        self._entries: "OrderedDict[int, FrameFeatures]" = OrderedDict()

    def __contains__(self, frame_idx: int) -> bool:
        return frame_idx in self._entries

    def get_or_compute(self, frame_idx: int, compute: Callable[[], FrameFeatures]) -> FrameFeatures:
        entry = self._entries.get(frame_idx)
        if entry is not None:
            self._entries.move_to_end(frame_idx)
            return entry
        entry = compute()
        size = sum(a.nbytes for a in entry.values())
        self._entries[frame_idx] = entry
        self.bytes += size
        while self.bytes > self.max_bytes and len(self._entries) > 1:
            _, old = self._entries.popitem(last=False)
            self.bytes -= sum(a.nbytes for a in old.values())
        return entry

    def clear(self) -> None:
        self._entries.clear()
        self.bytes = 0


class NormalizedFrames:
    """``state["images"]``: frame i as the (3, S, S) float32 model input, read on demand."""

    def __init__(self, read: Callable[[int], np.ndarray], count: Callable[[], int]):
        self._read, self._count = read, count

    def __len__(self) -> int:
        return self._count()

    def model_input(self, index: int) -> np.ndarray:
        """(1, 3, S, S) float32: what the image encoder graph reads."""
        return self._read(index)

    def __getitem__(self, index: int) -> np.ndarray:
        return self.model_input(index)[0]


@dataclass
class OnnxInferenceState(ObjectRoster):
    source: object  # a frame source of sam2.video.sources
    features: FeatureCache
    objects: List[ObjectTrack] = field(default_factory=list)
    images: Optional[NormalizedFrames] = None
    # memory attention outputs, reused while their memories are the same (the torch tracker's rule)
    conditioned: ConditionedLRU = field(default_factory=lambda: ConditionedLRU(CONDITIONED_ENTRIES))

    @property
    def num_frames(self) -> int:
        return int(self.source.num_frames)

    @property
    def video_height(self) -> int:
        return int(self.source.height)

    @property
    def video_width(self) -> int:
        return int(self.source.width)

    _DICT_KEYS: Tuple[str, ...] = ("num_frames", "video_height", "video_width", "images", "obj_ids")

    def __getitem__(self, key: str):
        if key == "obj_id_to_idx":
            return self.obj_id_to_idx
        if key not in self._DICT_KEYS:
            raise KeyError(key)
        return getattr(self, key)

    def __contains__(self, key: str) -> bool:
        return key in self._DICT_KEYS or key == "obj_id_to_idx"

    def close(self) -> None:
        self.features.clear()
        self.conditioned.clear()
        self.objects.clear()
        self.source.close()
