"""How closely two runs' masks agree: pixel agreement and per-object IoU, frame by frame.

Used to measure a lower precision against float32 (tools/benchmark_video.py, tests).
"""

from dataclasses import dataclass
from typing import Sequence

import numpy as np


@dataclass(frozen=True)
class MaskAgreement:
    """Agreement of two mask sequences. Fractions in [0, 1]."""

    frames: int
    pixel_mean: float  # share of equal pixels, mean over frames (all objects' pixels together)
    pixel_min: float  # the worst frame's share
    iou_mean: float  # per-object IoU, mean over frames and objects
    iou_min: float  # the worst object on the worst frame

    def as_dict(self) -> dict:
        return {"frames": self.frames, "pixel_agreement_mean": self.pixel_mean,
                "pixel_agreement_min": self.pixel_min, "iou_mean": self.iou_mean, "iou_min": self.iou_min}


def object_ious(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """a, b: (num_objects, H, W) bool -> (num_objects,) IoU; 1.0 where both masks are empty."""
    a = a.reshape(a.shape[0], -1)
    b = b.reshape(b.shape[0], -1)
    inter = np.logical_and(a, b).sum(axis=1)
    union = np.logical_or(a, b).sum(axis=1)
    return np.where(union > 0, inter / np.maximum(union, 1), 1.0)


def mask_agreement(reference: Sequence[np.ndarray], other: Sequence[np.ndarray]) -> MaskAgreement:
    """reference, other: per frame (num_objects, H, W) bool masks, same frames in the same order."""
    if len(reference) != len(other):
        raise ValueError(f"{len(reference)} frames against {len(other)}")
    if not reference:
        raise ValueError("no frames to compare")
    pixels, ious = [], []
    for a, b in zip(reference, other):
        if a.shape != b.shape:
            raise ValueError(f"mask shapes differ: {a.shape} and {b.shape}")
        pixels.append(float((a == b).mean()))
        ious.append(object_ious(a, b))
    every_iou = np.concatenate(ious)
    return MaskAgreement(len(reference), float(np.mean(pixels)), float(np.min(pixels)),
                         float(every_iou.mean()), float(every_iou.min()))
