"""One video of a batch job: open it, apply its prompts, track every object, encode the masks.

The tracking is exactly what a single-process user writes with the public API, so a batch
gives the same masks as that script (tests hold it to the same RLE strings):

    state = predictor.init_state(video)
    (everything: generate on its frame, keep disjoint masks best first, add_new_mask each)
    for each object, for each prompt in manifest order: add_new_points_or_box / add_new_mask
    propagate_in_video forwards from the first prompted frame, then backwards from it
    each frame, each object: COCO RLE of ``logits > 0`` (empty masks included)

Where the time goes is measured on the way (:class:`ClipTimings`).
"""

from __future__ import annotations

import os
import resource
import shutil
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field

import numpy as np
import torch

from sam2.batch.manifest import Everything, VideoJob
from sam2.utils.rle import coco_encode_rle, masks_to_rle, rle_to_mask


class PromptError(ValueError):
    """The video opened but a prompt does not fit it (frame out of range, mask of the wrong
    size): retrying cannot help, so the job records it at once."""


@dataclass
class ClipTimings:
    """Seconds spent per stage. ``decode_wait`` is the time tracking waited for frames the
    prefetch threads had not decoded yet (decoding that overlapped the model is not counted)."""

    fetch: float = 0.0  # downloading a URL
    open: float = 0.0  # opening the video, first frame decoded and encoded
    prompts: float = 0.0  # everything's proposals and the prompted frames
    track: float = 0.0  # propagation, decode waits included
    decode_wait: float = 0.0
    encode: float = 0.0  # run-length encoding of the masks
    write: float = 0.0  # set by the writer: JSON (and PNGs) to disk

    @property
    def model(self) -> float:
        return max(0.0, self.prompts + self.track - self.decode_wait)

    def as_dict(self) -> dict:
        out = {k: round(v, 4) for k, v in vars(self).items()}
        out["model"] = round(self.model, 4)
        return out


@dataclass
class ClipResult:
    """Masks of one video: ``masks`` holds (frame, object id, compressed RLE, area), sorted by
    frame then object; the rest feeds the output's head and the run report."""

    video_id: str
    video: str
    width: int
    height: int
    num_frames: int
    fps: float
    object_ids: list[int]
    masks: list[tuple[int, int, dict, int]]
    timings: ClipTimings = field(default_factory=ClipTimings)
    seconds: float = 0.0  # the whole clip in the worker (fetch to encoded masks)
    peak_memory_bytes: int = 0
    device: str = "cpu"


def track_clip(predictor, job: VideoJob, runtime: dict | None = None) -> ClipResult:
    """Track ``job``'s objects through its video with ``predictor`` (a SAM2VideoPredictor).

    ``runtime``: keyword arguments of ``init_state`` (offload_video_to_cpu, offload_state_to_cpu,
    bounded_memory). Raises PromptError for prompts that do not fit the video, VideoLoadError
    (a ValueError) for videos that cannot be read.
    """
    start, timings = time.perf_counter(), ClipTimings()
    device = torch.device(predictor.device)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    with _LocalVideo(job.video, timings) as path:
        t = time.perf_counter()
        state = predictor.init_state(path, **(runtime or {}))
        timings.open = time.perf_counter() - t
        try:
            result = _track(predictor, state, job, timings)
            result.fps = _fps(state)
        finally:
            predictor.close_state(state)
    if device.type == "cuda":
        result.peak_memory_bytes = int(torch.cuda.max_memory_allocated(device))
    else:  # the worker process's peak resident size so far (Linux: KiB)
        result.peak_memory_bytes = int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024
    result.device = str(device)
    result.seconds = time.perf_counter() - start
    return result


def _track(predictor, state, job: VideoJob, timings: ClipTimings) -> ClipResult:
    num_frames, height, width = state["num_frames"], state["video_height"], state["video_width"]
    t = time.perf_counter()
    prompted: list[int] = []
    for obj in job.objects:
        for p in obj.prompts:
            _check_frame(p.frame, num_frames, f"object {obj.obj_id}")
            if p.mask is not None:
                if list(p.mask["size"]) != [height, width]:
                    raise PromptError(f"object {obj.obj_id}: mask on frame {p.frame} is {p.mask['size'][0]}x"
                                      f"{p.mask['size'][1]} (HxW), the video {height}x{width}")  # fmt: skip
                predictor.add_new_mask(state, p.frame, obj.obj_id, rle_to_mask(p.mask))
            else:
                predictor.add_new_points_or_box(
                    state, p.frame, obj.obj_id,
                    points=np.array(p.points, dtype=np.float32) if p.points else None,
                    labels=np.array(p.labels, dtype=np.int32) if p.points else None,
                    box=np.array(p.box, dtype=np.float32) if p.box is not None else None,
                )  # fmt: skip
            prompted.append(p.frame)
    if job.everything is not None:
        _check_frame(job.everything.frame, num_frames, "everything")
        first_id = max((o.obj_id for o in job.objects), default=0) + 1
        for k, mask in enumerate(propose_everything(predictor, state, job.everything)):
            predictor.add_new_mask(state, job.everything.frame, first_id + k, mask)
            prompted.append(job.everything.frame)
    timings.prompts = time.perf_counter() - t

    masks: list[tuple[int, int, dict, int]] = []
    obj_ids = [int(i) for i in state.obj_ids]
    if obj_ids:  # everything may find nothing: an empty result, not an error
        start = min(prompted)
        waited = state.frames.wait_seconds
        t = time.perf_counter()
        for reverse in (False, True):
            for idx, ids, logits in predictor.propagate_in_video(
                state, start_frame_idx=start, reverse=reverse
            ):
                if reverse and idx == start:
                    continue  # the forward pass gave it
                e = time.perf_counter()
                for obj_id, rle in zip(ids, masks_to_rle(logits[:, 0] > 0.0)):
                    area = int(sum(rle["counts"][1::2]))
                    masks.append((int(idx), int(obj_id), coco_encode_rle(rle), area))
                timings.encode += time.perf_counter() - e
        timings.track = time.perf_counter() - t - timings.encode
        timings.decode_wait = state.frames.wait_seconds - waited
        masks.sort(key=lambda m: (m[0], m[1]))
    return ClipResult(job.video_id, job.video, int(width), int(height), int(num_frames), 0.0, obj_ids, masks,
                      timings)  # fmt: skip


def propose_everything(predictor, state, everything: Everything) -> list[np.ndarray]:
    """Disjoint (H, W) bool masks on ``everything.frame``, best predicted IoU first."""
    from sam2.automatic_mask_generator import SAM2AutomaticMaskGenerator
    from sam2.utils.amg import assign_non_overlapping

    generator = SAM2AutomaticMaskGenerator(predictor, **everything.amg)
    records = generator.generate(state.frames.original(everything.frame))
    kept = assign_non_overlapping([r["segmentation"] for r in records], [r["predicted_iou"] for r in records],
                                  min_area=everything.min_area, max_count=everything.max_objects)  # fmt: skip
    return [mask for _, mask in kept]


def _check_frame(frame: int, num_frames: int, what: str) -> None:
    if not 0 <= frame < num_frames:
        raise PromptError(f"{what}: frame {frame} is out of range (the video has {num_frames} frames)")


def _fps(state) -> float:
    return float(getattr(state.frames.source, "fps", 0.0) or 0.0)


class _LocalVideo:
    """A URL is downloaded to a temporary file for the duration of the clip; a path is used as is."""

    def __init__(self, video: str, timings: ClipTimings):
        self.video, self.timings, self.folder = video, timings, None

    def __enter__(self) -> str:
        if not self.video.startswith(("http://", "https://")):
            return self.video
        t = time.perf_counter()
        self.folder = tempfile.mkdtemp(prefix="sam2-batch-")
        name = os.path.basename(self.video.split("?")[0]) or "video"
        path = os.path.join(self.folder, name)
        with urllib.request.urlopen(self.video, timeout=60) as response, open(path, "wb") as f:
            shutil.copyfileobj(response, f, 1 << 20)
        self.timings.fetch = time.perf_counter() - t
        return path

    def __exit__(self, *exc) -> None:
        if self.folder is not None:
            shutil.rmtree(self.folder, ignore_errors=True)
