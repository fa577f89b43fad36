"""Filling of small background holes in mask logits, in NumPy (the video predictor's ``fill_hole_area``).

The same rule and the same fixed-work algorithm as :mod:`sam2.video.hole_filling` (see its
docstring): background is ``logit <= 0``; 8-connected background components of at most
``max_area`` pixels, border ones included, are set to 0.1. Labels spread by ``max_area - 1``
rounds of 3x3 minimum; a label that covers at most ``max_area`` pixels and has no background
neighbour with another label is a whole small component.
"""

import numpy as np

HOLE_FILL_VALUE = 0.1


def _max_3x3(x: np.ndarray) -> np.ndarray:
    """Maximum over each pixel's 3x3 neighbourhood of (N, H, W); outside the border is -inf."""
    p = np.pad(x, ((0, 0), (1, 1), (1, 1)), constant_values=-np.inf)
    rows = np.maximum(np.maximum(p[..., :-2], p[..., 1:-1]), p[..., 2:])
    return np.maximum(np.maximum(rows[:, :-2, :], rows[:, 1:-1, :]), rows[:, 2:, :])


def small_hole_mask(background: np.ndarray, max_area: int) -> np.ndarray:
    """(N, H, W) bool -> pixels of 8-connected background components of <= max_area pixels."""
    n, h, w = background.shape
    pixels = h * w
    big = float(pixels + 1)
    index = np.arange(pixels, dtype=np.float64).reshape(1, h, w)
    labels = np.where(background, index, big)
    for _ in range(max_area - 1):
        labels = np.where(background, -_max_3x3(np.where(background, -labels, -big)), big)
    smallest = -_max_3x3(np.where(background, -labels, -big))
    largest = _max_3x3(np.where(background, labels, -big))
    leaking = background & ((smallest != labels) | (largest != labels))

    slot = np.where(background, labels, pixels).astype(np.int64).reshape(n, pixels)
    out = np.zeros((n, pixels), dtype=bool)
    for k in range(n):
        counts = np.bincount(slot[k], weights=background[k].ravel(), minlength=pixels + 1)
        leaks = np.bincount(slot[k], weights=leaking[k].ravel(), minlength=pixels + 1)
        out[k] = (counts[slot[k]] <= max_area) & (leaks[slot[k]] == 0)
    return background & out.reshape(n, h, w)


def fill_small_holes(mask_logits: np.ndarray, max_area: int) -> np.ndarray:
    """Return ``mask_logits`` (N, 1, H, W) with small background components raised to 0.1."""
    if max_area <= 0:
        return mask_logits
    if mask_logits.ndim != 4 or mask_logits.shape[1] != 1:
        raise ValueError(f"mask logits must be (N, 1, H, W), got {mask_logits.shape}")
    holes = small_hole_mask(mask_logits[:, 0] <= 0, int(max_area))[:, None]
    return np.where(holes, np.float32(HOLE_FILL_VALUE), mask_logits).astype(np.float32)
