"""Per-object records of the video trackers, for any array type (no torch here).

The torch tracker (:mod:`sam2.video.state`) and the onnxruntime tracker
(:mod:`sam2.onnx.video_state`) keep their objects in these same records, holding torch
tensors or NumPy arrays: one definition, so their bookkeeping cannot drift apart.
"""

import itertools
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Generic, List, Optional, Tuple, TypeVar

import numpy as np

from sam2.video.point_prompts import PointPrompt

A = TypeVar("A")  # the array type: torch.Tensor or np.ndarray

_serials = itertools.count()


@dataclass
class TrackedOutput(Generic[A]):
    """One object's stored result on one frame (what later frames and clicks read back).

    mask_logits: (1, 1, S/4, S/4) logits after hole filling (the torch tracker may replace
    them by a compact record, see sam2.video.compact); object_score_logits: (1, 1);
    obj_ptr: (1, C); memory: (1, mem_dim, H, W) in bfloat16 (torch) or as bfloat16 bits
    (NumPy), None until encoded (pending clicks) or once dropped (bounded memory);
    memory_pos: its position encoding (torch: one tensor shared by every output of a state;
    onnxruntime: None, the graphs hold it).
    """

    mask_logits: Any
    object_score_logits: A
    obj_ptr: A
    memory: Optional[A] = None
    memory_pos: Optional[A] = None
    # A number of its own (ids of freed objects recur), by which later outputs name their memories.
    serial: int = field(default_factory=lambda: next(_serials), compare=False)
    # A tracked output: the memories it was computed from (sam2.video.retrack.memory_fingerprint).
    read_from: Optional[tuple] = field(default=None, compare=False)

    def as_dict(self) -> dict:
        """The official output-dict view (for code that reads ``output_dict_per_obj``)."""
        return {
            "pred_masks": self.mask_logits,
            "object_score_logits": self.object_score_logits,
            "obj_ptr": self.obj_ptr,
            "maskmem_features": self.memory,
            "maskmem_pos_enc": None if self.memory_pos is None else [self.memory_pos],
        }


@dataclass
class FrameOutputs(Generic[A]):
    """Outputs of one object by frame: prompted ("cond") frames and tracked frames."""

    cond: Dict[int, TrackedOutput[A]] = field(default_factory=dict)
    tracked: Dict[int, TrackedOutput[A]] = field(default_factory=dict)

    def of(self, is_cond: bool) -> Dict[int, TrackedOutput[A]]:
        return self.cond if is_cond else self.tracked

    def clear(self) -> None:
        self.cond.clear()
        self.tracked.clear()

    def as_dict(self) -> dict:
        return {
            "cond_frame_outputs": {t: o.as_dict() for t, o in self.cond.items()},
            "non_cond_frame_outputs": {t: o.as_dict() for t, o in self.tracked.items()},
        }


@dataclass
class ObjectTrack(Generic[A]):
    """Prompts and outputs of one object, keyed by frame index."""

    obj_id: int
    point_inputs: Dict[int, PointPrompt] = field(default_factory=dict)
    # (1, 1, S, S) float32 0/1 masks at the model's input size.
    mask_inputs: Dict[int, A] = field(default_factory=dict)
    # Outputs consolidated by propagate_in_video_preflight (memories encoded).
    outputs: FrameOutputs[A] = field(default_factory=FrameOutputs)
    # Outputs of clicks not consolidated yet (no memory encoded yet).
    pending: FrameOutputs[A] = field(default_factory=FrameOutputs)
    # frame index -> whether it was last tracked in reverse.
    frames_tracked: Dict[int, bool] = field(default_factory=dict)

    def clear(self) -> None:
        self.point_inputs.clear()
        self.mask_inputs.clear()
        self.outputs.clear()
        self.pending.clear()
        self.frames_tracked.clear()

    def output_on(self, frame_idx: int, pending_is_cond: Optional[bool] = None) -> Optional[TrackedOutput[A]]:
        """Newest output on a frame: a pending click first (of that kind), then consolidated results."""
        out = None
        if pending_is_cond is not None:
            out = self.pending.of(pending_is_cond).get(frame_idx)
        if out is None:
            out = self.outputs.cond.get(frame_idx)
        if out is None:
            out = self.outputs.tracked.get(frame_idx)
        return out


class ObjectRoster:
    """Object ids <-> indices, for a state with an ``objects`` list of :class:`ObjectTrack`.

    Index i of a state's objects is row i of every mask batch the predictors return.
    """

    objects: List[ObjectTrack]

    @property
    def obj_ids(self) -> List[int]:
        return [o.obj_id for o in self.objects]

    @property
    def obj_id_to_idx(self) -> Dict[int, int]:
        return {o.obj_id: i for i, o in enumerate(self.objects)}

    def index_of(self, obj_id) -> Optional[int]:
        for i, o in enumerate(self.objects):
            if o.obj_id == obj_id:
                return i
        return None

    def track_for(
        self, obj_id, before_adding: Optional[Callable[[int], None]] = None
    ) -> Tuple[int, ObjectTrack]:
        """The object's index and track, added at the end if new.

        ``before_adding(new_count)`` may refuse a new object (an export's object limit).
        """
        if isinstance(obj_id, bool) or not isinstance(obj_id, (int, np.integer)):
            raise TypeError(f"obj_id must be an integer, got {obj_id!r}")
        obj_id = int(obj_id)
        idx = self.index_of(obj_id)
        if idx is None:
            if before_adding is not None:
                before_adding(len(self.objects) + 1)
            self.objects.append(ObjectTrack(obj_id=obj_id))
            idx = len(self.objects) - 1
        return idx, self.objects[idx]
