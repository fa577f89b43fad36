"""J (region similarity) and F (boundary accuracy), as the DAVIS benchmark defines them.

J is the IoU of the predicted and true masks; two empty masks count as 1.
F is the F-measure of boundary pixels: the boundary of a mask is the set of its pixels
that differ from the right, lower or lower-right neighbour (one-pixel-wide, following
the DAVIS definition), and a boundary pixel counts as matched when the other boundary
lies within a disk of radius ceil(0.008 x image diagonal) around it. Precision is the
matched share of predicted boundary pixels, recall the matched share of true ones;
a side with no boundary pixels has precision (or recall) 1 when the other side is empty
too, otherwise the empty side scores 0 and its counterpart 1.
"""

import math
from typing import Dict, Optional, Sequence

import numpy as np
from scipy import ndimage

BOUNDARY_TOLERANCE = 0.008  # fraction of the image diagonal (DAVIS)
VOID_ID = 255  # annotation value of pixels that are not scored


def region_similarity(pred: np.ndarray, gt: np.ndarray, void: Optional[np.ndarray] = None) -> float:
    """J = |pred & gt| / |pred | gt| for (H, W) boolean masks; 1.0 when both are empty.

    ``void``: pixels left out of the count (DAVIS marks them 255 in the annotation).
    """
    pred, gt = _as_bool(pred, gt)
    keep = np.ones_like(pred) if void is None else ~np.asarray(void, dtype=bool)
    union = (np.logical_or(pred, gt) & keep).sum()
    if union == 0:
        return 1.0
    return float((np.logical_and(pred, gt) & keep).sum() / union)


def boundary_map(mask: np.ndarray) -> np.ndarray:
    """One-pixel-wide boundary of a (H, W) bool mask, at the mask's own resolution.

    A pixel is on the boundary when its value differs from its right, lower or lower-right
    neighbour; outside the image counts as background to the right and below, except that
    the last row compares only with its right neighbour, the last column only with the pixel
    below it, and the bottom-right pixel is never a boundary pixel.
    """
    m = mask.astype(bool)
    h, w = m.shape
    right = np.zeros_like(m)
    right[:, :-1] = m[:, 1:]
    below = np.zeros_like(m)
    below[:-1, :] = m[1:, :]
    diag = np.zeros_like(m)
    diag[:-1, :-1] = m[1:, 1:]
    edge = (m != right) | (m != below) | (m != diag)
    edge[-1, :] = m[-1, :] != right[-1, :]
    edge[:, -1] = m[:, -1] != below[:, -1]
    edge[-1, -1] = False
    return edge


def disk(radius: int) -> np.ndarray:
    """Structuring element: pixels with dx^2 + dy^2 <= radius^2."""
    r = int(radius)
    yy, xx = np.mgrid[-r:r + 1, -r:r + 1]
    return (xx * xx + yy * yy) <= r * r


def boundary_measure(pred: np.ndarray, gt: np.ndarray, tolerance: float = BOUNDARY_TOLERANCE,
                     void: Optional[np.ndarray] = None) -> float:
    """F for (H, W) masks. ``tolerance`` < 1 is a fraction of the diagonal, >= 1 pixels.

    ``void`` pixels are removed from both masks before their boundaries are taken.
    """
    pred, gt = _as_bool(pred, gt)
    if void is not None:
        keep = ~np.asarray(void, dtype=bool)
        pred, gt = pred & keep, gt & keep
    radius = tolerance if tolerance >= 1 else math.ceil(tolerance * math.hypot(*pred.shape))
    pb, gb = boundary_map(pred), boundary_map(gt)
    n_pred, n_gt = int(pb.sum()), int(gb.sum())
    if n_pred == 0 and n_gt == 0:
        return 1.0
    if n_pred == 0 or n_gt == 0:
        return 0.0  # precision or recall is 0, so F is 0
    se = disk(radius)
    gt_near = ndimage.binary_dilation(gb, structure=se)
    pred_near = ndimage.binary_dilation(pb, structure=se)
    precision = np.logical_and(pb, gt_near).sum() / n_pred
    recall = np.logical_and(gb, pred_near).sum() / n_gt
    if precision + recall == 0:
        return 0.0
    return float(2 * precision * recall / (precision + recall))


def _as_bool(pred: np.ndarray, gt: np.ndarray):
    pred, gt = np.asarray(pred).astype(bool), np.asarray(gt).astype(bool)
    if pred.shape != gt.shape or pred.ndim != 2:
        raise ValueError(f"masks must both be (H, W) of the same size, got {pred.shape} and {gt.shape}")
    return pred, gt


def sequence_scores(pred_ids: Sequence[np.ndarray], gt_ids: Sequence[np.ndarray], object_ids: Sequence[int],
                    skip_first_last: bool = True, ignore_void: bool = False) -> Dict[int, Dict[str, float]]:
    """Mean J and F per object over a video's frames (id masks, (H, W) each).

    ``skip_first_last`` leaves out the first frame (given to the method) and the last, as
    the DAVIS 2017 semi-supervised evaluation does (when the video has more than 2 frames).
    ``ignore_void`` leaves annotation pixels of value 255 out of both measures; the DAVIS 2017
    semi-supervised evaluation does not (it scores them as background), hence off by default.
    """
    if len(pred_ids) != len(gt_ids):
        raise ValueError(f"{len(pred_ids)} predicted frames for {len(gt_ids)} annotated frames")
    frames = list(range(len(gt_ids)))
    if skip_first_last and len(frames) > 2:
        frames = frames[1:-1]
    scores = {}
    voids = {t: (gt_ids[t] == VOID_ID) if ignore_void else None for t in frames}
    for obj in object_ids:
        js = [region_similarity(pred_ids[t] == obj, gt_ids[t] == obj, voids[t]) for t in frames]
        fs = [boundary_measure(pred_ids[t] == obj, gt_ids[t] == obj, void=voids[t]) for t in frames]
        scores[int(obj)] = {"J": float(np.mean(js)), "F": float(np.mean(fs)),
                            "J_recall": float(np.mean(np.array(js) > 0.5)),
                            "F_recall": float(np.mean(np.array(fs) > 0.5))}
    return scores
