"""COCO run-length encoding of binary masks, byte-for-byte compatible with pycocotools.

A mask of shape (H, W) is read in column-major ("F") order and stored as alternating run
lengths, starting with a run of zeros (possibly empty); see :mod:`sam2.utils.rle` for the
compressed string form. This module adds what the server needs on top: strict validation of
RLEs that clients send, and areas without decoding.
"""

from __future__ import annotations

import numpy as np

# The compressed-string codec is the library's (one implementation, tested against pycocotools).
from sam2.utils.rle import counts_to_string as runs_to_string
from sam2.utils.rle import string_to_counts_array as string_to_run_array

RLE = dict  # {"size": [H, W], "counts": str}


def mask_to_runs(mask: np.ndarray) -> np.ndarray:
    """Run lengths (int64, first run counts zeros) of a (H, W) mask read column-major."""
    flat = np.asarray(mask, dtype=bool).ravel(order="F")
    if flat.size == 0:
        return np.zeros(0, dtype=np.int64)
    edges = np.flatnonzero(flat[1:] != flat[:-1]) + 1
    bounds = np.concatenate(([0], edges, [flat.size]))
    runs = np.diff(bounds)
    if flat[0]:
        runs = np.concatenate(([0], runs))
    return runs.astype(np.int64)


def encode(mask: np.ndarray) -> RLE:
    """(H, W) bool/0-1 mask -> {"size": [H, W], "counts": str} (pycocotools `encode` + utf-8)."""
    if mask.ndim != 2:
        raise ValueError(f"expected a 2-D mask, got shape {mask.shape}")
    height, width = mask.shape
    return {"size": [int(height), int(width)], "counts": runs_to_string(mask_to_runs(mask))}


def decode(rle: RLE) -> np.ndarray:
    """{"size": [H, W], "counts": str | list[int]} -> (H, W) bool mask.

    Raises ValueError when the size is invalid or the runs do not cover exactly H*W pixels.
    """
    size = rle.get("size") if isinstance(rle, dict) else None
    if (
        not isinstance(size, (list, tuple))
        or len(size) != 2
        or not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in size)
    ):
        raise ValueError("RLE size must be [height, width] with two non-negative integers")
    height, width = size
    counts = rle.get("counts")
    if isinstance(counts, bytes):
        counts = counts.decode("ascii", errors="replace")
    if isinstance(counts, str):
        runs = string_to_run_array(counts)
    elif isinstance(counts, (list, tuple)) and all(isinstance(v, int) for v in counts):
        try:
            runs = np.asarray(counts, dtype=np.int64)
        except OverflowError:
            raise ValueError("RLE counts must not be larger than the mask") from None
    else:
        raise ValueError("RLE counts must be a string or a list of integers")
    if (runs < 0).any():
        raise ValueError("RLE counts must not be negative")
    if runs.size and (runs.max() > height * width or runs.size * height * width >= 2**63):
        raise ValueError("RLE counts must not be larger than the mask")  # nor wrap the int64 sum
    total = int(runs.sum())
    if total != height * width:
        raise ValueError(f"RLE runs cover {total} pixels, but size {height}x{width} needs {height * width}")
    values = np.zeros(len(runs), dtype=bool)
    values[1::2] = True
    flat = np.repeat(values, runs)
    return flat.reshape(width, height).T


def area(rle: RLE) -> int:
    """Number of foreground pixels, without decoding."""
    counts = rle["counts"]
    runs = string_to_run_array(counts) if isinstance(counts, str) else np.asarray(counts, dtype=np.int64)
    return int(runs[1::2].sum())
