"""Clicks and boxes of the video predictors, checked and put in model-input pixels (no torch).

Both video predictors (torch and onnxruntime) turn ``add_new_points_or_box``'s arguments into
one :class:`PointPrompt` here, in NumPy float32 (the arithmetic the torch predictor did in
float32 tensors, so the coordinates are bit-identical), and keep it per object and frame.
"""

from dataclasses import dataclass
from typing import Optional, Tuple

import numpy as np

from sam2.utils.prompts import check_box, check_points

# Box corners are given to the prompt encoder as two points with these labels, box first.
BOX_LABELS = (2, 3)


@dataclass(frozen=True)
class PointPrompt:
    """The clicks (and box corners) of one object on one frame."""

    coords: np.ndarray  # (1, P, 2) float32, x, y in model-input pixels
    labels: np.ndarray  # (1, P) int64: 1 positive, 0 negative, 2 / 3 box corners

    def after(self, previous: Optional["PointPrompt"]) -> "PointPrompt":
        """These points following the ``previous`` ones of the frame (clear_old_points=False)."""
        if previous is None:
            return self
        return PointPrompt(
            np.concatenate([previous.coords, self.coords], axis=1),
            np.concatenate([previous.labels, self.labels], axis=1),
        )


def point_prompt(
    points,
    labels,
    box,
    clear_old_points: bool,
    normalize_coords: bool,
    video_size: Tuple[int, int],
    image_size: int,
) -> PointPrompt:
    """``add_new_points_or_box``'s arguments as a prompt; raises on anything malformed.

    points: (N, 2) x, y in video pixels (in [0, 1] with normalize_coords=False); labels: (N,);
    box: (4,) x0, y0, x1, y1. video_size: (width, height).
    """
    if (points is None) != (labels is None):
        raise ValueError("points and labels must be given together")
    if points is None and box is None:
        raise ValueError("give points (with labels) or a box")
    if box is not None and not clear_old_points:
        raise ValueError("a box must come before any click of its frame, so it needs clear_old_points=True")
    limit = tuple(video_size) if normalize_coords else (1.0, 1.0)
    pts = np.zeros((0, 2))
    lab = np.zeros((0,), dtype=np.int64)
    if points is not None:
        pts, lab = check_points(points, labels, "points")
        pts, lab = pts.reshape(-1, 2), lab.reshape(-1)
        check_inside(pts, limit, "points")
    if box is not None:
        corners = check_box(box)
        if corners.shape[0] != 1:
            raise ValueError(f"one box per call, got {corners.shape[0]}")
        check_inside(corners.reshape(2, 2), limit, "box")
        pts = np.concatenate([corners.reshape(2, 2), pts], axis=0)
        lab = np.concatenate([np.array(BOX_LABELS), lab])
    coords = pts.astype(np.float32)[None]
    if normalize_coords:
        coords = coords / np.array(video_size, dtype=np.float32)
    coords = coords * np.float32(image_size)
    return PointPrompt(coords.astype(np.float32), lab.astype(np.int64)[None])


def check_inside(coords: np.ndarray, limit: Tuple[float, float], name: str) -> None:
    if np.any(coords < 0) or np.any(coords[:, 0] > limit[0]) or np.any(coords[:, 1] > limit[1]):
        raise ValueError(
            f"{name} must lie inside the frame (0 <= x <= {limit[0]}, 0 <= y <= {limit[1]}), "
            f"got {coords.tolist()[:4]}"
        )
