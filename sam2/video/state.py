"""Per-video inference state of the video predictor, typed.

An :class:`InferenceState` holds the frames, caches and one :class:`ObjectTrack` per
object. The official API hands the state around as a dict; for compatibility, the keys it
documents (``num_frames``, ``video_height``, ``video_width``, ``images``, ``obj_ids``,
``device``, ...) are readable with ``state["key"]``.
"""

import itertools
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Dict, List, Optional, Union

import torch

from sam2.video.compact import PackedMask
from sam2.video.feature_cache import ConditionedFeatureCache, FrameFeatureCache
from sam2.video.frames import VideoFrames
from sam2.video.output_buffer import ReusableOutput

if TYPE_CHECKING:
    from sam2.video.live import StreamWindow

OPEN_ENDED_FRAMES = 1 << 62

_serials = itertools.count()


@dataclass
class TrackedOutput:
    """One object's stored result on one frame (what later frames and clicks read back).

    mask_logits: (1, 1, S/4, S/4) logits after hole filling (a PackedMask once compacted);
    object_score_logits: (1, 1); obj_ptr: (1, C); memory: (1, mem_dim, H, W) bfloat16, None
    until encoded (pending clicks) or once dropped (bounded memory); memory_pos: its
    position encoding, one tensor shared by every output of a state.
    """

    mask_logits: Union[torch.Tensor, PackedMask]
    object_score_logits: torch.Tensor
    obj_ptr: torch.Tensor
    memory: Optional[torch.Tensor] = None
    memory_pos: Optional[torch.Tensor] = None
    # A number of its own (ids of freed objects recur), by which later outputs name their memories.
    serial: int = field(default_factory=lambda: next(_serials), compare=False)
    # A tracked output: the memories it was computed from (tracking.memory_fingerprint).
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
class FrameOutputs:
    """Outputs of one object by frame: prompted ("cond") frames and tracked frames."""

    cond: Dict[int, TrackedOutput] = field(default_factory=dict)
    tracked: Dict[int, TrackedOutput] = field(default_factory=dict)

    def of(self, is_cond: bool) -> Dict[int, TrackedOutput]:
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
class ObjectTrack:
    """Prompts and outputs of one object, keyed by frame index."""

    obj_id: int
    point_inputs: Dict[int, dict] = field(default_factory=dict)
    mask_inputs: Dict[int, torch.Tensor] = field(default_factory=dict)
    # Outputs consolidated by propagate_in_video_preflight (memories encoded).
    outputs: FrameOutputs = field(default_factory=FrameOutputs)
    # Outputs of clicks not consolidated yet (no memory encoded yet).
    pending: FrameOutputs = field(default_factory=FrameOutputs)
    # frame index -> whether it was last tracked in reverse.
    frames_tracked: Dict[int, bool] = field(default_factory=dict)

    def clear(self) -> None:
        self.point_inputs.clear()
        self.mask_inputs.clear()
        self.outputs.clear()
        self.pending.clear()
        self.frames_tracked.clear()

    def output_on(self, frame_idx: int, pending_is_cond: Optional[bool] = None) -> Optional[TrackedOutput]:
        """Newest output on a frame: a pending click first (of that kind), then consolidated results."""
        out = None
        if pending_is_cond is not None:
            out = self.pending.of(pending_is_cond).get(frame_idx)
        if out is None:
            out = self.outputs.cond.get(frame_idx)
        if out is None:
            out = self.outputs.tracked.get(frame_idx)
        return out


@dataclass
class InferenceState:
    frames: VideoFrames
    device: torch.device
    storage_device: torch.device
    features: FrameFeatureCache
    conditioned: ConditionedFeatureCache
    offload_video_to_cpu: bool = False
    offload_state_to_cpu: bool = False
    objects: List[ObjectTrack] = field(default_factory=list)
    # Position encoding of memories (1, mem_dim, H, W): identical for every frame and object.
    memory_pos: Optional[torch.Tensor] = None
    # Frames that leave the memory window while tracking are stored compactly (lossy).
    bounded_memory: bool = False
    # The tensors propagation yields masks in, each reused once the caller lets go of it.
    video_res_output: ReusableOutput = field(default_factory=ReusableOutput)
    # A live stream has no known length. Memory selection treats it as a video longer than
    # any memory window (object-pointer positions are scaled by min(num_frames, max_obj_ptrs)),
    # so its masks equal those of the same frames read from a long enough file.
    open_ended: bool = False
    # What a live stream keeps (sam2.video.live.StreamWindow); None for files and folders.
    stream_window: Optional["StreamWindow"] = None

    @property
    def num_frames(self) -> int:
        return len(self.frames)

    @property
    def memory_horizon(self) -> int:
        """The video length memory selection works with (unbounded for a live stream)."""
        return OPEN_ENDED_FRAMES if self.open_ended else len(self.frames)

    @property
    def video_height(self) -> int:
        return self.frames.height

    @property
    def video_width(self) -> int:
        return self.frames.width

    @property
    def obj_ids(self) -> List[int]:
        return [o.obj_id for o in self.objects]

    def index_of(self, obj_id) -> Optional[int]:
        for i, o in enumerate(self.objects):
            if o.obj_id == obj_id:
                return i
        return None

    # Read-only dict-style access for code written against the official dict state.
    _DICT_KEYS = {
        "num_frames": "num_frames",
        "video_height": "video_height",
        "video_width": "video_width",
        "images": "frames",
        "obj_ids": "obj_ids",
        "device": "device",
        "storage_device": "storage_device",
        "offload_video_to_cpu": "offload_video_to_cpu",
        "offload_state_to_cpu": "offload_state_to_cpu",
    }

    def __getitem__(self, key: str):
        if key == "output_dict_per_obj":
            return {i: o.outputs.as_dict() for i, o in enumerate(self.objects)}
        if key == "obj_id_to_idx":
            return {o.obj_id: i for i, o in enumerate(self.objects)}
        if key not in self._DICT_KEYS:
            raise KeyError(key)
        return getattr(self, self._DICT_KEYS[key])

    def __contains__(self, key: str) -> bool:
        return key in self._DICT_KEYS or key in ("output_dict_per_obj", "obj_id_to_idx")

    def close(self) -> None:
        """Release frames and caches (the state cannot be used afterwards)."""
        self.features.clear()
        self.conditioned.clear()
        self.objects.clear()
        self.video_res_output.release()
        self.frames.close()
