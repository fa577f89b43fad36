"""Helpers of the automatic mask generator: point grids, crops, stability, boxes and box NMS.

Names follow the official ``sam2.utils.amg`` so scripts importing them keep working; the RLE
and small-region helpers live in :mod:`sam2.utils.rle` and :mod:`sam2.utils.components` and are
re-exported here.
"""

from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn.functional as F

from sam2.utils.amg_common import (  # noqa: F401  (re-export)
    CropBox,
    build_all_layer_point_grids,
    build_point_grid,
    generate_crop_boxes,
    greedy_nms_sorted,
)
from sam2.utils.components import remove_small_regions  # noqa: F401  (re-export)
from sam2.utils.rle import (  # noqa: F401  (re-export)
    area_from_rle,
    coco_encode_rle,
    mask_to_rle,
    masks_to_rle,
    rle_to_mask,
)


def uncrop_boxes_xyxy(boxes: torch.Tensor, crop_box: CropBox) -> torch.Tensor:
    """Boxes (..., 4) in crop pixels -> full-image pixels."""
    x0, y0 = crop_box[0], crop_box[1]
    return boxes + torch.tensor([x0, y0, x0, y0], device=boxes.device, dtype=boxes.dtype)


def uncrop_points(points: torch.Tensor, crop_box: CropBox) -> torch.Tensor:
    """Points (..., 2) in crop pixels -> full-image pixels."""
    return points + torch.tensor([crop_box[0], crop_box[1]], device=points.device, dtype=points.dtype)


def uncrop_masks(masks: torch.Tensor, crop_box: CropBox, orig_h: int, orig_w: int) -> torch.Tensor:
    """Masks (..., h, w) of a crop -> (..., orig_h, orig_w), zero outside the crop."""
    x0, y0, x1, y1 = crop_box
    if (x0, y0, x1, y1) == (0, 0, orig_w, orig_h):
        return masks
    pad = (x0, orig_w - x1, y0, orig_h - y1)  # left, right, top, bottom
    return F.pad(masks, pad, value=0)


def is_box_near_crop_edge(
    boxes: torch.Tensor, crop_box: CropBox, orig_box: Sequence[int], atol: float = 20.0
) -> torch.Tensor:
    """(N,) bool: the box (crop pixels) has an edge within ``atol`` of a crop edge that is not
    also an image edge — the mask is probably cut by the crop."""
    crop_t = torch.as_tensor(crop_box, dtype=torch.float32, device=boxes.device)
    orig_t = torch.as_tensor(orig_box, dtype=torch.float32, device=boxes.device)
    full = uncrop_boxes_xyxy(boxes, crop_box).float()
    near_crop = torch.isclose(full, crop_t[None, :], atol=atol, rtol=0)
    near_image = torch.isclose(full, orig_t[None, :], atol=atol, rtol=0)
    return (near_crop & ~near_image).any(dim=1)


# ----------------------------------------------------------------------------- masks and boxes
def calculate_stability_score(masks: torch.Tensor, mask_threshold: float, threshold_offset: float) -> torch.Tensor:
    """IoU between the masks thresholded at ``mask_threshold +- offset``: (..., H, W) logits -> (...,)."""
    # Count per row in int16 then per mask in int32: exact for rows narrower than 32768 pixels.
    inner = (masks > (mask_threshold + threshold_offset)).sum(-1, dtype=torch.int16).sum(-1, dtype=torch.int32)
    outer = (masks > (mask_threshold - threshold_offset)).sum(-1, dtype=torch.int16).sum(-1, dtype=torch.int32)
    return inner / outer


def batched_mask_to_box(masks: torch.Tensor) -> torch.Tensor:
    """(..., H, W) bool -> (..., 4) int64 inclusive pixel extents x0, y0, x1, y1; 0s if empty."""
    *lead, h, w = masks.shape
    if masks.numel() == 0:
        return torch.zeros(*lead, 4, dtype=torch.int64, device=masks.device)
    flat = masks.reshape(-1, h, w).bool()
    rows = flat.any(dim=-1)  # (B, H)
    cols = flat.any(dim=-2)  # (B, W)

    def extents(occupied: torch.Tensor, length: int) -> Tuple[torch.Tensor, torch.Tensor]:
        idx = torch.arange(length, device=occupied.device)
        last = torch.where(occupied, idx, -1).amax(dim=-1)
        first = torch.where(occupied, idx, length).amin(dim=-1)
        return first, last

    top, bottom = extents(rows, h)
    left, right = extents(cols, w)
    boxes = torch.stack([left, top, right, bottom], dim=-1)
    boxes = torch.where((right < left)[:, None], torch.zeros_like(boxes), boxes)
    return boxes.reshape(*lead, 4)


def box_xyxy_to_xywh(box: torch.Tensor) -> torch.Tensor:
    out = box.clone()
    out[..., 2] = box[..., 2] - box[..., 0]
    out[..., 3] = box[..., 3] - box[..., 1]
    return out


def box_area(boxes: torch.Tensor) -> torch.Tensor:
    """(N, 4) xyxy -> (N,) areas (x1 - x0) * (y1 - y0), in the boxes' dtype."""
    return (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])


# ----------------------------------------------------------------------------- NMS
def batched_nms(boxes: torch.Tensor, scores: torch.Tensor, idxs: torch.Tensor, iou_threshold: float) -> torch.Tensor:
    """Greedy box NMS within each class of ``idxs``; returns kept indices (int64) by decreasing score.

    Boxes are visited by score, descending (equal scores: lower index first). A visited box not
    yet suppressed is kept and suppresses every later box of its class whose IoU with it is
    strictly above ``iou_threshold`` (IoU in float32, compared in float64; two empty boxes have
    IoU NaN and never suppress each other).
    """
    if boxes.dim() != 2 or boxes.shape[1] != 4:
        raise ValueError(f"boxes must be (N, 4), got {tuple(boxes.shape)}")
    n = boxes.shape[0]
    if scores.shape != (n,) or idxs.shape != (n,):
        raise ValueError(f"scores and idxs must be ({n},), got {tuple(scores.shape)} and {tuple(idxs.shape)}")
    if n == 0:
        return torch.zeros(0, dtype=torch.int64, device=boxes.device)
    order = torch.sort(scores, descending=True, stable=True).indices
    b = boxes[order].detach().float().cpu().numpy()
    cls = idxs[order].detach().cpu().numpy()
    kept = greedy_nms_sorted(b, cls, iou_threshold)
    return order[torch.as_tensor(kept, dtype=torch.int64, device=order.device)]


def nms(boxes: torch.Tensor, scores: torch.Tensor, iou_threshold: float) -> torch.Tensor:
    """:func:`batched_nms` with every box in one class."""
    return batched_nms(boxes, scores, torch.zeros(boxes.shape[0], dtype=torch.int64, device=boxes.device),
                       iou_threshold)


# ----------------------------------------------------------------------------- candidate table
class MaskData:
    """Columns of per-mask values (tensors, numpy arrays or lists) filtered and joined together."""

    def __init__(self, **columns: Any) -> None:
        self._stats: Dict[str, Any] = dict(columns)

    def __setitem__(self, key: str, value: Any) -> None:
        self._stats[key] = value

    def __delitem__(self, key: str) -> None:
        del self._stats[key]

    def __getitem__(self, key: str) -> Any:
        return self._stats[key]

    def __contains__(self, key: str) -> bool:
        return key in self._stats

    def items(self):
        return self._stats.items()

    def __len__(self) -> int:
        for value in self._stats.values():
            return len(value)
        return 0

    def filter(self, keep: torch.Tensor) -> None:
        """Keep the rows selected by a bool mask or an index tensor (in that order)."""
        keep_cpu = keep.detach().cpu()
        if keep_cpu.dtype == torch.bool:
            keep_cpu = keep_cpu.nonzero().flatten()
        for key, value in self._stats.items():
            if value is None:
                continue
            if isinstance(value, torch.Tensor):
                self._stats[key] = value[keep_cpu.to(value.device)]
            elif isinstance(value, np.ndarray):
                self._stats[key] = value[keep_cpu.numpy()]
            elif isinstance(value, list):
                self._stats[key] = [value[i] for i in keep_cpu.tolist()]
            else:
                raise TypeError(f"MaskData column {key!r} has unsupported type {type(value).__name__}")

    def cat(self, other: "MaskData") -> None:
        """Append the rows of ``other``."""
        for key, value in other.items():
            mine = self._stats.get(key)
            if mine is None:
                self._stats[key] = value
            elif isinstance(value, torch.Tensor):
                self._stats[key] = torch.cat([mine, value], dim=0)
            elif isinstance(value, np.ndarray):
                self._stats[key] = np.concatenate([mine, value], axis=0)
            elif isinstance(value, list):
                self._stats[key] = mine + value
            else:
                raise TypeError(f"MaskData column {key!r} has unsupported type {type(value).__name__}")

    def to_numpy(self) -> None:
        for key, value in self._stats.items():
            if isinstance(value, torch.Tensor):
                self._stats[key] = value.detach().float().cpu().numpy() if value.dtype == torch.bfloat16 \
                    else value.detach().cpu().numpy()


# ----------------------------------------------------------------------------- beyond the reference
def assign_non_overlapping(
    masks: Sequence[np.ndarray], scores: Sequence[float], min_area: int = 1, max_count: Optional[int] = None
) -> List[Tuple[int, np.ndarray]]:
    """Turn overlapping masks into disjoint objects, score first.

    Masks are visited by decreasing score (equal scores: earlier first); each keeps only the
    pixels no better-scored kept mask has taken, and is kept if at least ``min_area`` pixels
    remain. Stops after ``max_count`` kept masks. Returns (input index, trimmed (H, W) bool
    mask) in visiting order.
    """
    if len(masks) != len(scores):
        raise ValueError(f"{len(masks)} masks but {len(scores)} scores")
    if max_count is not None and max_count <= 0:
        return []
    order = sorted(range(len(masks)), key=lambda i: -float(scores[i]))
    taken: Optional[np.ndarray] = None
    kept: List[Tuple[int, np.ndarray]] = []
    for i in order:
        mask = np.asarray(masks[i], dtype=bool)
        if taken is None:
            taken = np.zeros(mask.shape, dtype=bool)
        if mask.shape != taken.shape:
            raise ValueError(f"mask {i} has shape {mask.shape}, the first has {taken.shape}")
        own = mask & ~taken
        if int(own.sum()) < max(1, min_area):
            continue
        taken |= own
        kept.append((i, own))
        if max_count is not None and len(kept) >= max_count:
            break
    return kept
