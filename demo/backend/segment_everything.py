"""Segment everything on one frame of a session: proposals the user may keep as new objects.

The automatic mask generator (`sam2.automatic_mask_generator`) runs on the frame at the video's
own size. Its masks usually overlap (a person, their coat, the coat's pocket); proposals must
not, so they are assigned **score first**: by decreasing predicted IoU, each mask keeps only
the pixels no better-scored proposal has taken, and is dropped when fewer than `min_area`
pixels remain (`sam2.utils.amg.assign_non_overlapping`). A proposal must also survive the
tracker's resolution: a mask prompt is resized to the model's input and kept as logits at a
quarter of it (256 x 256 for the official models), where a thin sliver can vanish; such a
proposal would be an object with an empty mask from the start, so it is not proposed.
At most `MAX_OBJECTS` minus the objects the session already tracks are proposed (and at most
`max_objects`, if given).
Keeping a proposal is the existing `addMask` mutation with the proposal's mask.

Compute: the generator shares the server's model and its compute gate. It holds one gate
slot per batch of point prompts (background priority, like a propagation step), so other
users' clicks get in between batches. It does not hold the session lock: it only reads the
frame, so the user may keep clicking meanwhile.

Progress and cancel: `progress(session_id)` reports batches done / total while a run is in
flight (one run per session at a time). Cancelling uses the session's cancel epoch (the same
mechanism as `cancelPropagateInVideo`, so either mutation stops both); the run ends at the
next batch and answers `cancelled=True` with no proposals.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import torch
import torch.nn.functional as F

from . import rle
from .compute_gate import BACKGROUND
from .errors import BadInput, Busy, LimitExceeded, SessionExpired

if TYPE_CHECKING:
    from .service import DemoService
    from .sessions import Session

log = logging.getLogger(__name__)

MAX_POINTS_PER_SIDE = 64  # 4096 prompts: minutes on a CPU already
DEFAULT_POINTS_PER_SIDE = 16
DEFAULT_MIN_SCORE = 0.7
DEFAULT_MIN_STABILITY = 0.9
DEFAULT_BOX_NMS_THRESH = 0.7
DEFAULT_MIN_AREA_FRACTION = 1 / 2000  # of the frame's pixels, at least 16 pixels
POINTS_PER_BATCH = 64


@dataclass(frozen=True)
class EverythingParams:
    frame_index: int
    points_per_side: int
    min_score: float
    min_stability: float
    max_objects: int  # already capped by MAX_OBJECTS minus the session's objects
    min_area: int  # pixels
    box_nms_thresh: float  # the generator's de-duplication (box IoU above it: the lower score goes)


@dataclass(frozen=True)
class Proposal:
    rle: dict  # COCO RLE {"size": [H, W], "counts": str}, column-major
    score: float  # predicted IoU
    stability_score: float
    area: int  # pixels, after the overlap assignment
    bbox: list[int]  # x, y, width, height in video pixels (the pixels the mask covers)
    point: list[float]  # the prompt that produced it, normalised to [0, 1]


@dataclass(frozen=True)
class EverythingResult:
    frame_index: int
    proposals: list[Proposal]  # best first
    candidates: int  # masks the generator returned, before the overlap assignment
    cancelled: bool
    seconds: float


@dataclass
class Progress:
    running: bool = False
    done: int = 0  # batches of point prompts processed
    total: int = 0


class _Cancelled(Exception):
    pass


def _whole(value, name: str, low: int, high: int | None = None) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise BadInput(f"{name} must be a whole number.")
    if value < low or (high is not None and value > high):
        bounds = f"from {low} to {high}" if high is not None else f">= {low}"
        raise BadInput(f"{name} must be {bounds}, got {value}.")
    return value


def _fraction(value, name: str) -> float:
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value):
        raise BadInput(f"{name} must be a number from 0 to 1.")
    if not 0.0 <= value <= 1.0:
        raise BadInput(f"{name} must be from 0 to 1, got {value}.")
    return float(value)


class SegmentEverything:
    """The `segmentEverything` operations of one server (see the module docstring)."""

    def __init__(self, service: DemoService):
        self.service = service
        self._lock = threading.Lock()
        self._running: dict[str, Progress] = {}

    # -- operations ------------------------------------------------------------------------

    def progress(self, session_id) -> Progress:
        session = self.service.session(session_id, edit=False)
        with self._lock:
            current = self._running.get(session.id)
            return Progress(current.running, current.done, current.total) if current else Progress()

    def cancel(self, session_id) -> bool:
        """Lock-free like `cancelPropagateInVideo` (and the same epoch: it stops both)."""
        self.service.session(session_id).cancel()
        return True

    def run(
        self,
        session_id,
        frame_index,
        points_per_side=None,
        min_score=None,
        min_stability=None,
        max_objects=None,
        min_area=None,
        box_nms_thresh=None,
    ) -> EverythingResult:
        session = self.service.session(session_id)
        epoch = session.cancel_epoch  # a cancel from now on stops this run
        params = self._check(session, frame_index, points_per_side, min_score, min_stability, max_objects, min_area,
                             box_nms_thresh)
        with self._lock:
            if session.id in self._running:
                raise Busy("Segment everything is already running on this session; wait for it or cancel it.")
            progress = self._running[session.id] = Progress(running=True)
        started = time.monotonic()
        try:
            records = self._generate(session, params, epoch, progress)
        except _Cancelled:
            if session.ended is not None:  # closed or evicted meanwhile: not the user's cancel
                raise SessionExpired(f"Session expired: {session.ended}. Start a new session.") from None
            log.info("segment everything cancelled in session %s…", session.id[:6])
            return EverythingResult(params.frame_index, [], 0, True, time.monotonic() - started)
        finally:
            with self._lock:
                self._running.pop(session.id, None)
        if session.ended is not None:
            raise SessionExpired(f"Session expired: {session.ended}. Start a new session.")
        proposals = self._assign(session, records, params, self.service.segmenter.predictor.image_size)
        seconds = time.monotonic() - started
        log.info("segment everything in session %s…: %d candidates, %d proposals in %.1f s",
                 session.id[:6], len(records), len(proposals), seconds)
        return EverythingResult(params.frame_index, proposals, len(records), False, seconds)

    # -- steps -------------------------------------------------------------------------------

    def _check(self, s: Session, frame_index, points_per_side, min_score, min_stability, max_objects,
               min_area, box_nms_thresh) -> EverythingParams:
        if not isinstance(frame_index, int) or isinstance(frame_index, bool):
            raise BadInput("frameIndex must be a whole number.")
        frame = frame_index
        if not 0 <= frame < s.num_frames:
            raise BadInput(f"frameIndex={frame} is out of range: the video has frames 0..{s.num_frames - 1}.")
        pps = _whole(DEFAULT_POINTS_PER_SIDE if points_per_side is None else points_per_side,
                     "pointsPerSide", 1, MAX_POINTS_PER_SIDE)
        score = _fraction(DEFAULT_MIN_SCORE if min_score is None else min_score, "minScore")
        stability = _fraction(DEFAULT_MIN_STABILITY if min_stability is None else min_stability, "minStability")
        nms = _fraction(DEFAULT_BOX_NMS_THRESH if box_nms_thresh is None else box_nms_thresh, "boxNmsThresh")
        limit = self.service.limits.max_objects
        free = limit - len(s.prompted)
        if max_objects is not None:
            _whole(max_objects, "maxObjects", 1)
        if free <= 0:
            raise LimitExceeded(f"A session can track at most {limit} objects; remove one first.")
        cap = free if max_objects is None else min(free, max_objects)
        default_area = max(16, math.ceil(s.height * s.width * DEFAULT_MIN_AREA_FRACTION))
        area = _whole(default_area if min_area is None else min_area, "minArea", 1, s.height * s.width)
        return EverythingParams(frame, pps, score, stability, cap, area, nms)

    def _generate(self, s: Session, p: EverythingParams, epoch: int, progress: Progress) -> list[dict]:
        from sam2.automatic_mask_generator import SAM2AutomaticMaskGenerator  # heavy: only when used

        segmenter = self.service.segmenter
        if segmenter.info.runtime == "onnxruntime":  # no automatic mask generator on exported graphs
            raise BadInput("Segment everything needs the torch runtime: this server runs SAM2_DEMO_RUNTIME=onnxruntime")
        try:
            image = s.state.frames.original(p.frame_index)
        except (OSError, ValueError, RuntimeError) as exc:
            raise BadInput(f"Cannot read frame {p.frame_index}: {exc}") from None
        generator = SAM2AutomaticMaskGenerator(
            segmenter.predictor,
            points_per_side=p.points_per_side,
            points_per_batch=POINTS_PER_BATCH,
            pred_iou_thresh=p.min_score,
            stability_score_thresh=p.min_stability,
            box_nms_thresh=p.box_nms_thresh,
            output_mode="binary_mask",
        )
        gate = segmenter.gate

        def between_batches(done: int, total: int) -> None:
            with self._lock:
                progress.done, progress.total = done, total
            if s.is_cancelled(epoch):
                raise _Cancelled
            gate.release()  # let waiting clicks in between batches
            gate.acquire(BACKGROUND)

        with self._lock:
            progress.total = math.ceil(p.points_per_side**2 / POINTS_PER_BATCH)
        gate.acquire(BACKGROUND)
        try:
            if s.is_cancelled(epoch):
                raise _Cancelled
            # The image predictor runs the model in the model's precision (SAM2_DEMO_PRECISION).
            with torch.inference_mode():
                return generator.generate(image, progress=between_batches)
        except (_Cancelled, SessionExpired):
            raise
        except (RuntimeError, ValueError) as exc:
            if s.ended is not None:
                raise SessionExpired(f"Session expired: {s.ended}. Start a new session.") from None
            log.exception("segment everything failed in session %s…", s.id[:6])
            raise BadInput(f"Segment everything failed: {exc}") from None
        finally:
            gate.release()

    @staticmethod
    def _assign(s: Session, records: list[dict], p: EverythingParams, model_side: int) -> list[Proposal]:
        from sam2.utils.amg import assign_non_overlapping

        kept = assign_non_overlapping([r["segmentation"] for r in records], [r["predicted_iou"] for r in records],
                                      min_area=p.min_area)
        proposals = []
        for index, mask in kept:
            if len(proposals) >= p.max_objects:
                break
            if not survives_tracking(mask, model_side):
                continue
            rec = records[index]
            ys, xs = np.nonzero(mask)
            x, y = rec["point_coords"][0]
            proposals.append(Proposal(
                rle=rle.encode(mask),
                score=float(rec["predicted_iou"]),
                stability_score=float(rec["stability_score"]),
                area=int(len(xs)),
                bbox=[int(xs.min()), int(ys.min()), int(xs.max() - xs.min() + 1), int(ys.max() - ys.min() + 1)],
                point=[min(max(x / s.width, 0.0), 1.0), min(max(y / s.height, 0.0), 1.0)],
            ))
        return proposals


def survives_tracking(mask: np.ndarray, model_side: int) -> bool:
    """Whether a (H, W) mask given as a prompt keeps any pixel in the tracker's mask logits.

    Mirrors the video predictor: the prompt is resized to the model's S x S input
    (antialiased bilinear, >= 0.5), the mask-as-output path keeps it as logits on an
    S/4 x S/4 grid (antialiased bilinear of +-10), and the answer is those logits resized
    back to the video (bilinear), positive where the object is.
    """
    with torch.no_grad():
        full = torch.from_numpy(np.ascontiguousarray(mask, dtype=np.float32))[None, None]
        at_input = F.interpolate(full, (model_side, model_side), mode="bilinear", align_corners=False,
                                 antialias=True) >= 0.5
        logits = F.interpolate(at_input.float() * 20.0 - 10.0, (model_side // 4, model_side // 4), mode="bilinear",
                               align_corners=False, antialias=True)
        at_video = F.interpolate(logits, tuple(mask.shape), mode="bilinear", align_corners=False)
        return bool((at_video > 0).any())
