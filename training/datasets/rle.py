"""COCO run-length encoding (as SA-1B and SA-V store masks), decoded without pycocotools.

A COCO RLE is {"size": [H, W], "counts": ...}: alternating run lengths of 0s and 1s
(starting with 0s) over the mask read column by column. ``counts`` is either a list of
ints or COCO's compact string: each run is written as 5-bit groups (low bits first) in
characters offset by 48, bit 0x20 meaning "more groups follow", bit 0x10 of the last group
the sign; from the third run on the string stores the difference to the run two before.
"""

from typing import List

import numpy as np

from sam2.utils.rle import string_to_counts
from training.datasets.clip import DataError


def _string_to_runs(text: str) -> List[int]:
    try:
        return string_to_counts(text)
    except ValueError as e:
        raise DataError(str(e)) from None


def decode_rle(rle: dict) -> np.ndarray:
    """COCO RLE dict -> (H, W) bool mask."""
    try:
        height, width = (int(v) for v in rle["size"])
        counts = rle["counts"]
    except (KeyError, TypeError, ValueError):
        raise DataError(f"not a COCO RLE (needs 'size' [H, W] and 'counts'): {str(rle)[:80]}") from None
    if isinstance(counts, bytes):
        counts = counts.decode("ascii")
    runs = _string_to_runs(counts) if isinstance(counts, str) else [int(c) for c in counts]
    total = height * width
    if any(r < 0 for r in runs) or sum(runs) != total:
        raise DataError(f"RLE runs sum to {sum(runs)} but the mask has {height}x{width}={total} pixels")
    values = np.zeros(len(runs), dtype=bool)
    values[1::2] = True
    flat = np.repeat(values, runs)
    return flat.reshape(width, height).T  # column-major storage


def encode_rle(mask: np.ndarray) -> dict:
    """(H, W) bool -> COCO RLE with uncompressed (list) counts; used to write test data."""
    flat = np.asarray(mask, dtype=bool).T.reshape(-1)
    change = np.flatnonzero(np.diff(flat.astype(np.int8))) + 1
    bounds = np.concatenate([[0], change, [flat.size]])
    runs = np.diff(bounds).tolist()
    if flat.size and flat[0]:
        runs = [0] + runs
    return {"size": [int(mask.shape[0]), int(mask.shape[1])], "counts": runs}
