"""The automatic mask generator's steps that need no torch: point grids, crop boxes, box NMS.

Shared by :mod:`sam2.utils.amg` (the torch generator) and :mod:`sam2.onnx.automatic_mask_generator`
(the onnxruntime one), so both place prompts, tile crops and suppress boxes by the same code.
"""

import math
from itertools import product
from typing import Any, Dict, List, Sequence, Tuple

import numpy as np

from sam2.utils.rle import area_from_rle, coco_encode_rle, rle_to_mask

CropBox = List[int]  # x0, y0, x1, y1 in pixels of the full image (x1, y1 exclusive)


# ----------------------------------------------------------------------------- point grids
def build_point_grid(n_per_side: int) -> np.ndarray:
    """(n*n, 2) float64 points (x, y) in [0, 1]: cell centres of an n x n grid, x varying fastest."""
    if n_per_side < 1:
        raise ValueError(f"n_per_side must be >= 1, got {n_per_side}")
    half_cell = 1.0 / (2 * n_per_side)
    side = np.linspace(half_cell, 1.0 - half_cell, n_per_side)
    xs = np.tile(side[None, :], (n_per_side, 1))
    ys = np.tile(side[:, None], (1, n_per_side))
    return np.stack([xs, ys], axis=-1).reshape(-1, 2)


def build_all_layer_point_grids(n_per_side: int, n_layers: int, scale_per_layer: int) -> List[np.ndarray]:
    """One grid per crop layer; layer i has ``int(n_per_side / scale_per_layer**i)`` points a side."""
    return [build_point_grid(int(n_per_side / (scale_per_layer**i))) for i in range(n_layers + 1)]


# ----------------------------------------------------------------------------- crops
def generate_crop_boxes(
    im_size: Tuple[int, int], n_layers: int, overlap_ratio: float
) -> Tuple[List[CropBox], List[int]]:
    """Crop boxes (x0, y0, x1, y1) and their layer indices for an image of size (H, W).

    Layer 0 is the whole image; layer i (1..n_layers) tiles the image with 2**i x 2**i
    overlapping crops (overlap = ``overlap_ratio`` of the short side, scaled by 2 / 2**i),
    listed column by column (x outer, y inner).
    """
    im_h, im_w = im_size
    short_side = min(im_h, im_w)
    boxes: List[CropBox] = [[0, 0, im_w, im_h]]
    layers = [0]
    for layer in range(1, n_layers + 1):
        per_side = 2**layer
        overlap = int(overlap_ratio * short_side * (2 / per_side))
        crop_w = int(math.ceil((overlap * (per_side - 1) + im_w) / per_side))
        crop_h = int(math.ceil((overlap * (per_side - 1) + im_h) / per_side))
        x0s = [int((crop_w - overlap) * i) for i in range(per_side)]
        y0s = [int((crop_h - overlap) * i) for i in range(per_side)]
        for x0, y0 in product(x0s, y0s):
            boxes.append([x0, y0, min(x0 + crop_w, im_w), min(y0 + crop_h, im_h)])
            layers.append(layer)
    return boxes, layers


def greedy_nms_sorted(boxes: np.ndarray, classes: np.ndarray, iou_threshold: float) -> np.ndarray:
    """Positions kept by greedy NMS over boxes already ordered by decreasing score.

    ``boxes`` (N, 4) float32 xyxy, ``classes`` (N,): a box not yet suppressed is kept and
    suppresses every later box of its class whose IoU with it is strictly above
    ``iou_threshold`` (IoU in float32, compared in float64; two empty boxes have IoU NaN and
    never suppress each other). Returns the kept positions (int64), in order.
    """
    n = boxes.shape[0]
    b = np.asarray(boxes, dtype=np.float32)
    x0, y0, x1, y1 = b[:, 0], b[:, 1], b[:, 2], b[:, 3]
    areas = (x1 - x0) * (y1 - y0)
    zero = np.float32(0)
    suppressed = np.zeros(n, dtype=bool)
    kept = []
    with np.errstate(invalid="ignore", divide="ignore"):
        for i in range(n):
            if suppressed[i]:
                continue
            kept.append(i)
            rest = slice(i + 1, n)
            inter_w = np.maximum(zero, np.minimum(x1[i], x1[rest]) - np.maximum(x0[i], x0[rest]))
            inter_h = np.maximum(zero, np.minimum(y1[i], y1[rest]) - np.maximum(y0[i], y0[rest]))
            inter = inter_w * inter_h
            iou = inter / (areas[i] + areas[rest] - inter)
            hit = (iou.astype(np.float64) > iou_threshold) & (classes[rest] == classes[i])
            suppressed[rest] |= hit
    return np.asarray(kept, dtype=np.int64)


def nms_numpy(boxes: np.ndarray, scores: np.ndarray, iou_threshold: float) -> np.ndarray:
    """Kept indices (int64) by decreasing score (equal scores: lower index first), one class."""
    order = np.argsort(-np.asarray(scores), kind="stable")
    if len(order) == 0:
        return order.astype(np.int64)
    kept = greedy_nms_sorted(np.asarray(boxes, dtype=np.float32)[order], np.zeros(len(order)), iou_threshold)
    return order[kept].astype(np.int64)


def mask_records(
    output_mode: str,
    rles: Sequence[Dict[str, Any]],
    bboxes_xywh: Sequence[Sequence[float]],
    crop_boxes_xywh: Sequence[Sequence[float]],
    ious: Sequence[float],
    stability: Sequence[float],
    points: Sequence[Sequence[float]],
) -> List[Dict[str, Any]]:
    """The generators' output records, one per mask, its segmentation in ``output_mode``
    ("binary_mask", "uncompressed_rle" or "coco_rle")."""
    if output_mode == "coco_rle":
        segmentations = [coco_encode_rle(rle) for rle in rles]
    elif output_mode == "binary_mask":
        segmentations = [rle_to_mask(rle) for rle in rles]
    else:
        segmentations = list(rles)
    return [
        {
            "segmentation": segmentations[i],
            "area": area_from_rle(rles[i]),
            "bbox": bboxes_xywh[i],
            "predicted_iou": ious[i],
            "point_coords": [points[i]],
            "stability_score": stability[i],
            "crop_box": crop_boxes_xywh[i],
        }
        for i in range(len(rles))
    ]
