"""The SAM 2 video predictor behind the demo: building it, and each call the demo makes.

`Segmenter` is shared by all sessions (the model weights are read-only); every call takes the
session's inference state explicitly. Callers hold the session lock. Masks come back as
`FrameMasks`: COCO RLE per object at the video's resolution.

Only model work runs inside the compute gate. Host work stays outside, so other users' model
calls run meanwhile: decoding and resizing the frame of a click (before the gate; tracking
gets its frames from the predictor's prefetching threads), and waiting for the masks to reach
the host and run-length encoding them (after the gate).
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from . import rle
from .compute_gate import BACKGROUND, INTERACTIVE, ComputeGate
from .random_weights import favour_present_objects
from .settings import ModelSettings

log = logging.getLogger(__name__)


class ModelUnavailable(RuntimeError):
    """The model cannot be built (missing checkpoint, bad config); the message says what to do."""


@dataclass(frozen=True)
class FrameMasks:
    """Masks of all objects on one frame: [(object id, {"size": [H, W], "counts": str})]."""

    frame_index: int
    masks: list[tuple[int, dict]]


@dataclass(frozen=True)
class ModelInfo:
    size: str
    config_file: str
    device: str
    random_weights: bool
    checkpoint: str | None
    precision: str = "fp32"  # what SAM2_DEMO_PRECISION resolved to: fp32 | bf16 | int8
    runtime: str = "torch"  # SAM2_DEMO_RUNTIME: torch | onnxruntime


def check_checkpoint(model: ModelSettings) -> None:
    """Raise ModelUnavailable, saying how to get it, when the checkpoint is needed but missing."""
    if not model.random_weights and not model.checkpoint_path.is_file():
        raise ModelUnavailable(
            f"Checkpoint {model.checkpoint_path} not found. Download it with `make checkpoints` (or set "
            f"CHECKPOINT_DIR to the folder that holds {model.checkpoint_path.name}), or set "
            "SAM2_DEMO_RANDOM_WEIGHTS=1 to run on random weights for a trial."
        )


def build_onnx_predictor(model: ModelSettings):
    """The onnxruntime tracker on the export folder SAM2_DEMO_ONNX_DIR (CPU provider)."""
    from sam2.onnx import ExportFolderError, ProviderError, build_sam2_video_predictor_onnx

    if model.random_weights:
        raise ModelUnavailable(
            "SAM2_DEMO_RANDOM_WEIGHTS=1 needs the torch runtime; unset SAM2_DEMO_RUNTIME (or export random "
            "weights with `python -m sam2.export onnx --config ... --out <dir>`, no --checkpoint)"
        )
    try:
        predictor = build_sam2_video_predictor_onnx(
            model.onnx_dir, threads=model.torch_threads, feature_cache_bytes=model.feature_cache_mb * 1024 * 1024
        )
    except (ExportFolderError, ProviderError, ImportError) as exc:
        raise ModelUnavailable(f"{exc} (SAM2_DEMO_RUNTIME=onnxruntime; `make onnx` exports the graphs)") from exc
    manifest = predictor.model.manifest
    info = ModelInfo(
        size=model.size,
        config_file=manifest.config,
        device="cpu",
        random_weights=False,
        checkpoint=str(model.onnx_dir),
        precision=manifest.precision,
        runtime="onnxruntime",
    )
    return predictor, info


def build_predictor(model: ModelSettings):
    """Build the SAM 2 video predictor the settings ask for; raises ModelUnavailable."""
    if model.runtime == "onnxruntime":
        return build_onnx_predictor(model)
    check_checkpoint(model)
    from sam2.build_sam import build_sam2_video_predictor  # heavy import, only when serving

    # Measured on 2 busy cores (tiny, a click that encodes a new frame): 1 thread 3.4 s,
    # 2 threads 5.3 s; with two calls at once, more threads than cores only wait on each other.
    torch.set_num_threads(model.torch_threads)

    checkpoint: Path | None = model.checkpoint_path
    if model.random_weights:
        log.warning(
            "!!! SAM2_DEMO_RANDOM_WEIGHTS=1: running on RANDOM weights (seed %d); masks are noise. "
            "For real masks run `make checkpoints` and unset SAM2_DEMO_RANDOM_WEIGHTS. !!!",
            model.seed,
        )
        torch.manual_seed(model.seed)
        checkpoint = None
    try:
        predictor = build_sam2_video_predictor(
            model.config_file,
            ckpt_path=str(checkpoint) if checkpoint else None,
            device=model.device,
            # Random weights are biased below first: int8 would pack the head's weights away.
            precision="fp32" if model.random_weights else model.precision,
            hydra_overrides_extra=[
                f"++model.feature_cache_bytes={model.feature_cache_mb * 1024 * 1024}",
                f"++model.decoded_cache_bytes={model.decoded_cache_mb * 1024 * 1024}",
                # A correction on a tracked frame (click, box, brush) anchors tracking as a
                # conditioning frame: Track keeps it there and remembers it. The library's default
                # (off, as the reference) stores it as a tracked frame, which Track then re-tracks over.
                "++model.add_all_frames_to_correct_as_cond=true",
            ],
        )
    except Exception as exc:  # hydra/torch errors: say which file failed
        raise ModelUnavailable(f"Cannot build the model from {model.config_file}: {exc}") from exc
    if model.random_weights:
        favour_present_objects(predictor)
        from sam2.precision import set_precision

        set_precision(predictor, model.precision)
    info = ModelInfo(
        size=model.size,
        config_file=model.config_file,
        device=model.device,
        random_weights=model.random_weights,
        checkpoint=str(checkpoint) if checkpoint else None,
        precision=predictor.precision,
    )
    return predictor, info


@dataclass
class ModelUsage:
    """What the model has run in this process: calls, and which frames (for `/healthy`, where
    a test checks that a rebuilt session ran the model only where it had to)."""

    calls: int = 0
    frames: set[int] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def ran(self, frame: int) -> None:
        with self._lock:
            self.calls += 1
            if len(self.frames) < 10_000:
                self.frames.add(int(frame))

    def as_json(self) -> dict:
        with self._lock:
            return {"calls": self.calls, "frames": sorted(self.frames)}


class Segmenter:
    """Runs predictor calls in inference mode and encodes masks.

    The predictor runs its model calls in the precision it was built with (bf16 autocast on a
    GPU or a CPU with native bf16 unless SAM2_DEMO_PRECISION says otherwise).

    Every call passes the compute gate: interactive calls wait at most `wait_sec` for a slot.
    """

    def __init__(self, predictor, info: ModelInfo, gate: ComputeGate | None = None, wait_sec: float = 30.0):
        self.predictor = predictor
        self.info = info
        self.device = torch.device(info.device)
        self.gate = gate or ComputeGate(1)
        self.wait_sec = wait_sec
        self.usage = ModelUsage()

    @staticmethod
    def has_output(state, obj_id: int, frame: int) -> bool:
        """Whether the model state holds a result of this object on this frame."""
        idx = state.index_of(obj_id)
        if idx is None:
            return False
        track = state.objects[idx]
        return track.output_on(frame, True) is not None or track.output_on(frame, False) is not None

    @contextlib.contextmanager
    def _inference(self, priority: int = INTERACTIVE):
        timeout = self.wait_sec if priority == INTERACTIVE else None
        with self.gate.slot(priority, timeout), torch.inference_mode():
            yield

    def init_state(self, video_file: Path) -> Any:
        """Open the video into a fresh inference state.

        Not gated: it reads the video (frames load lazily in sam2), it does not run the model.
        """
        with torch.inference_mode():
            return self.predictor.init_state(str(video_file))

    def add_points(
        self,
        state,
        frame: int,
        obj_id: int,
        points: np.ndarray,
        labels: np.ndarray,
        clear_old_points: bool,
        box: np.ndarray | None = None,
    ) -> FrameMasks:
        """points: (N, 2) x, y and box: (4,) x0, y0, x1, y1, normalised to [0, 1];
        labels: (N,) 1 = positive, 0 = negative."""
        self._prepare_frame(state, frame)
        with self._inference():
            frame_idx, obj_ids, masks = self.predictor.add_new_points_or_box(
                state,
                frame_idx=frame,
                obj_id=obj_id,
                points=points if len(points) else None,
                labels=labels if len(labels) else None,
                clear_old_points=clear_old_points,
                normalize_coords=False,  # already in [0, 1]
                box=box,
            )
            pending = _PendingMasks.start(frame_idx, obj_ids, masks)
        self.usage.ran(frame)
        return pending.encode()

    def add_mask(self, state, frame: int, obj_id: int, mask: np.ndarray) -> FrameMasks:
        """mask: (H, W) bool at the video's resolution."""
        self._prepare_frame(state, frame)
        with self._inference():
            frame_idx, obj_ids, masks = self.predictor.add_new_mask(
                state, frame_idx=frame, obj_id=obj_id, mask=torch.from_numpy(mask)
            )
            pending = _PendingMasks.start(frame_idx, obj_ids, masks)
        self.usage.ran(frame)
        return pending.encode()

    def clear_points_in_frame(self, state, frame: int, obj_id: int) -> FrameMasks:
        with self._inference():
            frame_idx, obj_ids, masks = self.predictor.clear_all_prompts_in_frame(state, frame, obj_id)
            pending = _PendingMasks.start(frame_idx, obj_ids, masks)
        return pending.encode()

    def reset(self, state) -> None:
        with self._inference():
            self.predictor.reset_state(state)

    def remove_object(self, state, obj_id: int) -> list[FrameMasks]:
        """Masks of the frames where the removal changed something (frames with prompts)."""
        with self._inference():
            obj_ids, updated = self.predictor.remove_object(state, obj_id, strict=False, need_output=True)
            pending = [_PendingMasks.start(frame_idx, obj_ids, masks) for frame_idx, masks in updated]
        return [p.encode() for p in pending]

    def propagate(
        self, state, start_frame: int, reverse: bool, max_frames: int | None
    ) -> Iterator[FrameMasks]:
        """Track every object frame by frame; stop by closing the generator."""
        frames = self.predictor.propagate_in_video(
            state, start_frame_idx=start_frame, max_frame_num_to_track=max_frames, reverse=reverse
        )
        try:
            while True:
                # Enter the model context per step only: a generator must not leave
                # inference/autocast mode switched on in the server thread between frames.
                with self._inference(BACKGROUND):
                    try:
                        frame_idx, obj_ids, masks = next(frames)
                    except StopIteration:
                        return
                    pending = _PendingMasks.start(frame_idx, obj_ids, masks)
                self.usage.ran(frame_idx)
                yield pending.encode()
        finally:
            frames.close()

    # -- live streams (demo/backend/live.py) ----------------------------------------------

    def open_stream(self, first_frame: np.ndarray, keep_frames: int) -> Any:
        """A live stream's state from its first (H, W, 3) uint8 RGB frame (the image encoder runs)."""
        with self._inference(BACKGROUND):
            return self.predictor.init_stream(first_frame, keep_last_frames=keep_frames)

    def track_stream(self, state, frame: np.ndarray) -> FrameMasks:
        """Append a frame to a live stream and track every object on it (none yet: no masks)."""
        with self._inference(BACKGROUND):
            frame_idx, obj_ids, masks = self.predictor.track_new_frame(state, frame)
            pending = _PendingMasks.start(frame_idx, obj_ids, masks)
        return pending.encode()  # not in `usage`: that tells which video frames the model ran on

    def close_stream(self, state) -> None:
        self.predictor.close_state(state)

    @staticmethod
    def _prepare_frame(state, frame: int) -> None:
        """Decode and resize a click's frame before the gate, unless its features are cached.

        Out-of-range or unreadable frames are left to the predictor call, which reports them.
        """
        features = getattr(state, "features", None)
        frames = getattr(state, "frames", None)
        if frames is None or (features is not None and frame in features):
            return
        if isinstance(frame, int) and 0 <= frame < len(frames):
            with contextlib.suppress(ValueError):
                frames.uint8(frame)


@dataclass
class _PendingMasks:
    """A frame's binary masks on their way to the host: started inside the gate, encoded outside.

    On CUDA the copy runs without blocking and an event marks its end, so the gate is not held
    while the device finishes and the host waits.
    """

    frame_idx: int
    obj_ids: list
    binary: torch.Tensor | np.ndarray  # (num_objects, H, W) bool, on the host once `done` has fired
    done: Any  # torch.cuda.Event, or None when the masks were already on the host

    @classmethod
    def start(cls, frame_idx: int, obj_ids, masks: torch.Tensor) -> _PendingMasks:
        """masks: (num_objects, 1, H, W) logits on any device (a NumPy array from onnxruntime)."""
        binary = masks[:, 0] > 0.0
        done = None
        if isinstance(binary, torch.Tensor) and binary.is_cuda:
            binary = binary.to("cpu", non_blocking=True)  # into pinned memory
            done = torch.cuda.Event()
            done.record()
        return cls(int(frame_idx), list(obj_ids), binary, done)

    def encode(self) -> FrameMasks:
        """Wait for the copy (if any) and run-length encode `logit > 0` per object."""
        if self.done is not None:
            self.done.synchronize()
        binary = np.asarray(self.binary) if self.obj_ids else np.zeros((0, 1, 1), bool)
        return FrameMasks(
            frame_index=self.frame_idx,
            masks=[(int(obj_id), rle.encode(binary[i])) for i, obj_id in enumerate(self.obj_ids)],
        )
