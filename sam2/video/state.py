"""Per-video inference state of the video predictor, typed.

An :class:`InferenceState` holds the frames, caches and one :class:`ObjectTrack` per
object (the records of :mod:`sam2.video.tracks`, shared with the onnxruntime tracker).
The official API hands the state around as a dict; for compatibility, the keys it documents
(``num_frames``, ``video_height``, ``video_width``, ``images``, ``obj_ids``, ``device``,
...) are readable with ``state["key"]``.
"""

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, List, Optional

import torch

from sam2.video.feature_cache import ConditionedFeatureCache, FrameFeatureCache
from sam2.video.frames import VideoFrames
from sam2.video.output_buffer import ReusableOutput

# The per-object records are shared with the onnxruntime tracker (torch-free); imported from
# here too by code written against this module.
from sam2.video.tracks import FrameOutputs, ObjectRoster, ObjectTrack, TrackedOutput  # noqa: F401

if TYPE_CHECKING:
    from sam2.video.live import StreamWindow

OPEN_ENDED_FRAMES = 1 << 62


@dataclass
class InferenceState(ObjectRoster):
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
            return self.obj_id_to_idx
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
