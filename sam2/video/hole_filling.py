"""Filling of small background holes in mask logits (the video predictor's ``fill_hole_area``).

Semantics (same as the official CUDA kernel, on every device): background is ``logit <= 0``;
every 8-connected background component of at most ``max_area`` pixels, including ones that
touch the border, is set to 0.1 (just above the threshold, so it becomes foreground).
"""

import numpy as np
import torch
from scipy import ndimage

HOLE_FILL_VALUE = 0.1
_EIGHT_CONNECTED = np.ones((3, 3), dtype=bool)


def component_areas(binary: np.ndarray) -> np.ndarray:
    """Per pixel, the pixel count of its 8-connected component in ``binary`` (0 where False)."""
    labels, count = ndimage.label(binary, structure=_EIGHT_CONNECTED)
    if count == 0:
        return np.zeros(binary.shape, dtype=np.int64)
    sizes = np.bincount(labels.ravel())
    sizes[0] = 0
    return sizes[labels]


def fill_small_holes(mask_logits: torch.Tensor, max_area: int) -> torch.Tensor:
    """Return ``mask_logits`` (N, 1, H, W) with small background components raised to 0.1."""
    if max_area <= 0:
        return mask_logits
    if mask_logits.dim() != 4 or mask_logits.size(1) != 1:
        raise ValueError(f"mask logits must be (N, 1, H, W), got {tuple(mask_logits.shape)}")
    background = (mask_logits <= 0).cpu().numpy()
    holes = np.zeros_like(background)
    for n in range(background.shape[0]):
        areas = component_areas(background[n, 0])
        holes[n, 0] = (areas > 0) & (areas <= max_area)
    if not holes.any():
        return mask_logits
    holes_t = torch.from_numpy(holes).to(mask_logits.device)
    return torch.where(holes_t, torch.tensor(HOLE_FILL_VALUE, dtype=mask_logits.dtype, device=mask_logits.device),
                       mask_logits)
