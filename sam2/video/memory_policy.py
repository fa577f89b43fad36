"""The rules that choose which earlier frames a frame attends to (no tensor work, no torch).

SAM 2 conditions a frame on (a) the spatial memories of prompted frames and of the last
``num_maskmem - 1`` tracked frames, and (b) object pointers of prompted frames and of the
last ``max_obj_ptrs_in_encoder - 1`` frames. :class:`MemoryPolicy` makes that choice; the
torch tracker (:mod:`sam2.video.memory_bank`) and the onnxruntime tracker
(:mod:`sam2.onnx.video_predictor`) both use it, so the two cannot drift apart.
"""

from dataclasses import dataclass
from typing import Any, Dict, List, Mapping, Optional, Protocol, Sequence, Tuple


class FrameMemory(Protocol):
    """What one frame leaves for later frames (for one object, or a training batch)."""

    obj_ptr: Any  # (B, C)
    memory: Optional[Any]  # (B, mem_dim, H, W); None when not kept
    memory_pos: Optional[Any]  # (B, mem_dim, H, W)


@dataclass(frozen=True)
class MemorySelection:
    """The memories one object attends to on one frame.

    spatial: (temporal slot, entry); slot 0 marks prompted frames, num_maskmem - 1 the
    previous frame. pointers: (temporal distance, entry), prompted frames first.
    """

    spatial: Tuple[Tuple[int, FrameMemory], ...]
    pointers: Tuple[Tuple[int, FrameMemory], ...]

    @property
    def layout(self) -> Tuple[Tuple[int, ...], Tuple[int, ...]]:
        """Selections with equal layouts can be stacked into one batch."""
        return tuple(t for t, _ in self.spatial), tuple(d for d, _ in self.pointers)

    def same_memories(self, other: "MemorySelection") -> bool:
        """True if both read exactly the same tensors (compared by identity, no tensor work)."""
        if self.layout != other.layout:
            return False
        for (_, a), (_, b) in zip(self.spatial, other.spatial):
            if a is not b or a.memory is not b.memory or a.memory_pos is not b.memory_pos:
                return False
        return all(a is b and a.obj_ptr is b.obj_ptr for (_, a), (_, b) in zip(self.pointers, other.pointers))


@dataclass(frozen=True)
class MemoryPolicy:
    """The model's rules for choosing memories (from its config)."""

    num_maskmem: int
    temporal_stride: int
    max_cond_frames: int
    use_obj_ptrs: bool
    max_obj_ptrs: int
    only_past_ptrs_in_eval: bool
    signed_ptr_distance: bool

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any]) -> "MemoryPolicy":
        """From the model settings an ONNX export's manifest records (same names as the model's)."""
        return cls(
            num_maskmem=int(settings["num_maskmem"]),
            temporal_stride=int(settings["memory_temporal_stride_for_eval"]),
            max_cond_frames=int(settings["max_cond_frames_in_attn"]),
            use_obj_ptrs=bool(settings["use_obj_ptrs_in_encoder"]),
            max_obj_ptrs=int(settings["max_obj_ptrs_in_encoder"]),
            only_past_ptrs_in_eval=bool(settings["only_obj_ptrs_in_the_past_for_eval"]),
            signed_ptr_distance=bool(settings["use_signed_tpos_enc_to_obj_ptrs"]),
        )

    @classmethod
    def of(cls, model) -> "MemoryPolicy":
        return cls(
            num_maskmem=model.num_maskmem,
            temporal_stride=model.memory_temporal_stride_for_eval,
            max_cond_frames=model.max_cond_frames_in_attn,
            use_obj_ptrs=model.use_obj_ptrs_in_encoder,
            max_obj_ptrs=model.max_obj_ptrs_in_encoder,
            only_past_ptrs_in_eval=model.only_obj_ptrs_in_the_past_for_eval,
            signed_ptr_distance=model.use_signed_tpos_enc_to_obj_ptrs,
        )

    def memory_slots(self, frame_idx: int, reverse: bool, training: bool = False) -> List[Tuple[int, int]]:
        """(slot, frame index) of the tracked-frame memories, slots 1 .. num_maskmem - 1.

        The last slot is the previous frame; with a temporal stride r > 1 (eval only) the
        older slots sample every r-th frame.
        """
        stride = 1 if training else self.temporal_stride
        slots = []
        for slot in range(1, self.num_maskmem):
            back = self.num_maskmem - slot
            if back == 1:
                prev = frame_idx + 1 if reverse else frame_idx - 1
            elif not reverse:
                prev = ((frame_idx - 2) // stride) * stride - (back - 2) * stride
            else:
                prev = -(-(frame_idx + 2) // stride) * stride + (back - 2) * stride
            slots.append((slot, prev))
        return slots

    def select(
        self,
        frame_idx: int,
        cond: Mapping[int, FrameMemory],
        tracked: Mapping[int, FrameMemory],
        num_frames: int,
        reverse: bool,
        training: bool = False,
    ) -> MemorySelection:
        """Memories for a non-initial frame from prompted (``cond``) and ``tracked`` frames."""
        if not cond:
            raise RuntimeError("tracking a frame needs at least one conditioning frame")
        selected, unselected = select_closest_cond_frames(frame_idx, cond, self.max_cond_frames)
        spatial = [(0, out) for out in selected.values()]
        for slot, prev in self.memory_slots(frame_idx, reverse, training):
            out = tracked.get(prev)
            if out is None:
                out = unselected.get(prev)
            # Outputs kept compactly (bounded memory) have no spatial memory left.
            if out is not None and out.memory is not None:
                spatial.append((slot, out))

        pointers: List[Tuple[int, FrameMemory]] = []
        if self.use_obj_ptrs:
            if not training and self.only_past_ptrs_in_eval:
                past = (lambda t: t >= frame_idx) if reverse else (lambda t: t <= frame_idx)
                ptr_cond = {t: o for t, o in selected.items() if past(t)}
            else:
                ptr_cond = selected
            sign = -1 if reverse else 1
            for t, out in ptr_cond.items():
                pointers.append(
                    ((frame_idx - t) * sign if self.signed_ptr_distance else abs(frame_idx - t), out)
                )
            for dist in range(1, min(num_frames, self.max_obj_ptrs)):
                t = frame_idx + dist if reverse else frame_idx - dist
                if t < 0 or t >= num_frames:
                    break
                out = tracked.get(t, unselected.get(t))
                if out is not None:
                    pointers.append((dist, out))
        return MemorySelection(tuple(spatial), tuple(pointers))


def group_by_layout(selections: Sequence[MemorySelection]) -> List[List[int]]:
    """Indices of ``selections`` grouped so each group can run as one batch (first-seen order)."""
    groups: Dict[tuple, List[int]] = {}
    for i, sel in enumerate(selections):
        groups.setdefault(sel.layout, []).append(i)
    return list(groups.values())


def select_closest_cond_frames(
    frame_idx: int, cond_frame_outputs: Dict[int, Any], max_cond_frame_num: int
) -> Tuple[Dict[int, Any], Dict[int, Any]]:
    """Pick at most ``max_cond_frame_num`` conditioning frames to attend to.

    Keeps the nearest one before and the nearest one after ``frame_idx``, then fills the
    remaining slots with the frames closest in time. Returns (selected, unselected).
    """
    if max_cond_frame_num == -1 or len(cond_frame_outputs) <= max_cond_frame_num:
        return cond_frame_outputs, {}
    if max_cond_frame_num < 2:
        raise ValueError("max_cond_frame_num must be -1 or at least 2")
    chosen = {}
    before = max((t for t in cond_frame_outputs if t < frame_idx), default=None)
    after = min((t for t in cond_frame_outputs if t >= frame_idx), default=None)
    for t in (before, after):
        if t is not None:
            chosen[t] = cond_frame_outputs[t]
    slots = max_cond_frame_num - len(chosen)
    rest = sorted((t for t in cond_frame_outputs if t not in chosen), key=lambda t: abs(t - frame_idx))
    for t in rest[:slots]:
        chosen[t] = cond_frame_outputs[t]
    unchosen = {t: v for t, v in cond_frame_outputs.items() if t not in chosen}
    return chosen, unchosen
