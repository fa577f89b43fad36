"""Per-video state of the onnxruntime video predictor, typed and in NumPy.

The layout follows :mod:`sam2.video.state` (the torch tracker's): one :class:`ObjectTrack` per
object with its prompts, its consolidated outputs (prompted "cond" frames and tracked
frames) and the outputs of clicks not consolidated yet ("pending"). Official dict-style
reads (``state["num_frames"]``, ``state["images"]``, ...) are kept.
"""

from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Tuple

import numpy as np


def to_bf16_bits(x: np.ndarray) -> np.ndarray:
    """float32 -> bfloat16 bit patterns (uint16), rounded to nearest even like torch's cast."""
    u = np.ascontiguousarray(x, dtype=np.float32).view(np.uint32)
    rounded = u + (np.uint32(0x7FFF) + ((u >> np.uint32(16)) & np.uint32(1)))
    return (rounded >> np.uint32(16)).astype(np.uint16)


def from_bf16_bits(bits: np.ndarray) -> np.ndarray:
    """bfloat16 bit patterns (uint16) -> float32 (exact)."""
    return (bits.astype(np.uint32) << np.uint32(16)).view(np.float32)


@dataclass
class FrameResult:
    """One object's stored result on one frame (what later frames and clicks read back).

    mask_logits (1, 1, S/4, S/4) after hole filling; object_score_logits (1, 1); obj_ptr (1, C);
    memory (1, mem_dim, h, w) as bfloat16 bits (the reference stores memories in bfloat16),
    None until encoded. ``memory_pos`` is unused here (the graphs hold the position encoding);
    it exists so the shared memory policy can read these like the torch outputs.
    """

    mask_logits: np.ndarray
    object_score_logits: np.ndarray
    obj_ptr: np.ndarray
    memory: Optional[np.ndarray] = None
    memory_pos: Optional[np.ndarray] = None


@dataclass
class FrameResults:
    cond: Dict[int, FrameResult] = field(default_factory=dict)
    tracked: Dict[int, FrameResult] = field(default_factory=dict)

    def of(self, is_cond: bool) -> Dict[int, FrameResult]:
        return self.cond if is_cond else self.tracked

    def clear(self) -> None:
        self.cond.clear()
        self.tracked.clear()


@dataclass
class PointPrompt:
    coords: np.ndarray  # (1, P, 2) float32 in model-input pixels
    labels: np.ndarray  # (1, P) int64


@dataclass
class ObjectTrack:
    obj_id: int
    point_inputs: Dict[int, PointPrompt] = field(default_factory=dict)
    mask_inputs: Dict[int, np.ndarray] = field(default_factory=dict)  # (1, 1, S, S) float32 0/1
    outputs: FrameResults = field(default_factory=FrameResults)
    pending: FrameResults = field(default_factory=FrameResults)
    frames_tracked: Dict[int, bool] = field(default_factory=dict)  # frame -> last tracked in reverse

    def output_on(self, frame_idx: int, pending_is_cond: Optional[bool] = None) -> Optional[FrameResult]:
        """Newest output on a frame: a pending click first (of that kind), then consolidated results."""
        out = None
        if pending_is_cond is not None:
            out = self.pending.of(pending_is_cond).get(frame_idx)
        if out is None:
            out = self.outputs.cond.get(frame_idx)
        if out is None:
            out = self.outputs.tracked.get(frame_idx)
        return out


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


class ConditionedCache:
    """(object, frame, direction) -> memory-conditioned features (1, C, h, w), valid while the
    memories they were computed from are the same objects (the torch tracker's rule, see
    ``sam2.video.feature_cache.ConditionedFeatureCache``): a click on a tracked frame, or a
    re-track pass over frames whose memories did not change, skips memory attention."""

    def __init__(self, max_entries: int = 64):
        self.max_entries = max_entries
        self._entries: "OrderedDict[tuple, Tuple[object, np.ndarray]]" = OrderedDict()

    def lookup(self, key: tuple, selection) -> Optional[np.ndarray]:
        entry = self._entries.get(key)
        if entry is not None and entry[0].same_memories(selection):
            self._entries.move_to_end(key)
            return entry[1]
        return None

    def store(self, key: tuple, selection, conditioned: np.ndarray) -> None:
        if self.max_entries <= 0:
            return
        self._entries[key] = (selection, conditioned)
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)

    def clear(self) -> None:
        self._entries.clear()


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
class OnnxInferenceState:
    source: object  # a frame source of sam2.video.sources
    features: FeatureCache
    objects: List[ObjectTrack] = field(default_factory=list)
    images: Optional[NormalizedFrames] = None
    conditioned: ConditionedCache = field(default_factory=ConditionedCache)

    @property
    def num_frames(self) -> int:
        return int(self.source.num_frames)

    @property
    def video_height(self) -> int:
        return int(self.source.height)

    @property
    def video_width(self) -> int:
        return int(self.source.width)

    @property
    def obj_ids(self) -> List[int]:
        return [o.obj_id for o in self.objects]

    def index_of(self, obj_id) -> Optional[int]:
        for i, o in enumerate(self.objects):
            if o.obj_id == obj_id:
                return i
        return None

    _DICT_KEYS: Tuple[str, ...] = ("num_frames", "video_height", "video_width", "images", "obj_ids")

    def __getitem__(self, key: str):
        if key == "obj_id_to_idx":
            return {o.obj_id: i for i, o in enumerate(self.objects)}
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
