"""Per-video inference state of the video predictor, typed.

An :class:`InferenceState` holds the frames, caches and one :class:`ObjectTrack` per
object. The official API hands the state around as a dict; for compatibility, the keys it
documents (``num_frames``, ``video_height``, ``video_width``, ``images``, ``obj_ids``,
``device``, ...) are readable with ``state["key"]``.
"""

from dataclasses import dataclass, field
from typing import Dict, List, Optional

import torch

from sam2.video.feature_cache import ConditionedFeatureCache, FrameFeatureCache
from sam2.video.frames import VideoFrames


def empty_output_dict() -> Dict[str, Dict[int, dict]]:
    """Outputs of one object: prompted ("cond") frames and tracked ("non_cond") frames."""
    return {"cond_frame_outputs": {}, "non_cond_frame_outputs": {}}


@dataclass
class ObjectTrack:
    """Prompts and outputs of one object, keyed by frame index."""

    obj_id: int
    point_inputs: Dict[int, dict] = field(default_factory=dict)
    mask_inputs: Dict[int, torch.Tensor] = field(default_factory=dict)
    # Outputs consolidated by propagate_in_video_preflight (memories encoded).
    outputs: Dict[str, Dict[int, dict]] = field(default_factory=empty_output_dict)
    # Outputs of clicks not yet consolidated (no memory encoded yet).
    temp_outputs: Dict[str, Dict[int, dict]] = field(default_factory=empty_output_dict)
    # frame index -> whether it was last tracked in reverse.
    frames_tracked: Dict[int, bool] = field(default_factory=dict)

    def clear(self) -> None:
        self.point_inputs.clear()
        self.mask_inputs.clear()
        for d in (self.outputs, self.temp_outputs):
            d["cond_frame_outputs"].clear()
            d["non_cond_frame_outputs"].clear()
        self.frames_tracked.clear()

    def output_on(self, frame_idx: int, storage_key: Optional[str] = None) -> Optional[dict]:
        """Newest output on a frame: a pending click first, then consolidated results."""
        out = None
        if storage_key is not None:
            out = self.temp_outputs[storage_key].get(frame_idx)
        if out is None:
            out = self.outputs["cond_frame_outputs"].get(frame_idx)
        if out is None:
            out = self.outputs["non_cond_frame_outputs"].get(frame_idx)
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
    # Positional encoding of memories: identical for every frame and object.
    maskmem_pos_enc: Optional[List[torch.Tensor]] = None
    # bounded_memory: frames this far behind the tracked one are stored compactly.
    memory_window: Optional[int] = None

    @property
    def num_frames(self) -> int:
        return len(self.frames)

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
            return {i: o.outputs for i, o in enumerate(self.objects)}
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
        self.frames.close()
