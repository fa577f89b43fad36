"""Exact 8-connected component labelling in torch (any device), and small-region removal.

Labelling works by label propagation: every foreground pixel starts with its own flat index,
then repeatedly takes the minimum over its 3x3 neighbourhood, with pointer jumping
(``label = label[label]``) to shortcut long chains. At the fixed point every component carries
the row-major index of its first pixel, which also orders components as a raster scan finds them.
"""

from typing import Tuple

import numpy as np
import torch
import torch.nn.functional as F


def label_components(binary: torch.Tensor) -> torch.Tensor:
    """(H, W) bool -> (H, W) int64: per foreground pixel the row-major index of its
    component's first pixel (8-connectivity); -1 on background."""
    if binary.dim() != 2:
        raise ValueError(f"expected a (H, W) mask, got {tuple(binary.shape)}")
    fg = binary.bool()
    h, w = fg.shape
    n = h * w
    if n == 0 or not fg.any():
        return torch.full((h, w), -1, dtype=torch.int64, device=fg.device)
    # max_pool2d needs floats; float32 holds integers exactly below 2**24.
    dtype = torch.float32 if n < 2**24 else torch.float64
    background = float(n)
    index = torch.arange(n, device=fg.device).view(h, w)
    labels = torch.where(fg, index, n).to(dtype)
    fg_flat = fg.flatten()
    while True:
        neighbour_min = -F.max_pool2d(-labels[None, None], 3, stride=1, padding=1)[0, 0]
        new = torch.where(fg, torch.minimum(labels, neighbour_min), background)
        flat = new.flatten().long()
        while True:  # pointer jumping: a label is a pixel of the same component, with a label <= it
            jumped = torch.where(fg_flat, flat[flat.clamp(max=n - 1)], flat)
            if torch.equal(jumped, flat):
                break
            flat = jumped
        new = flat.view(h, w).to(dtype)
        if torch.equal(new, labels):
            break
        labels = new
    out = labels.long()
    return torch.where(fg, out, -1)


def component_sizes(labels: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
    """Labels of :func:`label_components` -> (component ids in raster order (K,), sizes (K,))."""
    flat = labels.flatten()
    fg = flat[flat >= 0]
    if fg.numel() == 0:
        empty = torch.zeros(0, dtype=torch.int64, device=labels.device)
        return empty, empty
    counts = torch.bincount(fg, minlength=flat.numel())
    ids = counts.nonzero().flatten()
    return ids, counts[ids]


def remove_small_regions(mask: np.ndarray, area_thresh: float, mode: str) -> Tuple[np.ndarray, bool]:
    """Fill small holes (``mode="holes"``) or drop small islands (``mode="islands"``) of a mask.

    A region is small when its 8-connected pixel count is below ``area_thresh``. Holes are the
    background components (border-touching ones included). If every island is small, the
    largest one (the first in raster order among equals) is kept. Returns (mask (H, W) bool,
    whether anything changed).
    """
    if mode not in ("holes", "islands"):
        raise ValueError(f"mode must be 'holes' or 'islands', got {mode!r}")
    mask = np.asarray(mask, dtype=bool)
    fill_holes = mode == "holes"
    working = torch.from_numpy(np.ascontiguousarray(mask != fill_holes))
    labels = label_components(working)
    ids, sizes = component_sizes(labels)
    small = sizes < area_thresh
    if not bool(small.any()):
        return mask, False
    if fill_holes:
        selected = ids[small]
    else:
        selected = ids[~small] if bool((~small).any()) else ids[torch.argmax(sizes)].view(1)
    chosen = torch.isin(labels, selected).numpy()
    return (mask | chosen) if fill_holes else chosen, True
