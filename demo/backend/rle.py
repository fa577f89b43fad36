"""COCO run-length encoding of binary masks, byte-for-byte compatible with pycocotools.

A mask of shape (H, W) is read in column-major ("F") order and stored as alternating run
lengths, starting with a run of zeros (possibly empty). The compressed string form writes each
run (from the fourth on, as the difference to the run two places before it) in 5-bit groups,
least significant first, each group as one character `chr(48 + bits)` with 0x20 marking that
more groups follow; the last group's 0x10 bit carries the sign.
"""

from __future__ import annotations

import numpy as np

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


def runs_to_string(runs) -> str:
    """COCO's compressed string form of a list of run lengths."""
    out = []
    runs = [int(r) for r in runs]
    for i, value in enumerate(runs):
        if i > 2:
            value -= runs[i - 2]  # later runs are stored as a delta, usually small
        while True:
            group = value & 0x1F
            value >>= 5  # arithmetic shift: negative deltas end at -1
            more = value != -1 if group & 0x10 else value != 0
            out.append(chr(48 + (group | 0x20 if more else group)))
            if not more:
                break
    return "".join(out)


def string_to_runs(counts: str) -> list[int]:
    """Inverse of `runs_to_string`; raises ValueError on malformed input."""
    runs: list[int] = []
    pos, n = 0, len(counts)
    while pos < n:
        value, shift = 0, 0
        while True:
            if pos >= n:
                raise ValueError("RLE counts string ends in the middle of a number")
            code = ord(counts[pos]) - 48
            if not 0 <= code < 64:
                raise ValueError(f"RLE counts string holds an invalid character {counts[pos]!r}")
            pos += 1
            value |= (code & 0x1F) << shift
            shift += 5
            if not code & 0x20:
                if code & 0x10:
                    value |= -1 << shift  # sign-extend
                break
            if shift > 64:
                raise ValueError("RLE counts string holds a number that is too large")
        if len(runs) > 2:
            value += runs[-2]
        runs.append(value)
    return runs


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
        runs = string_to_runs(counts)
    elif isinstance(counts, (list, tuple)) and all(isinstance(v, int) for v in counts):
        runs = list(counts)
    else:
        raise ValueError("RLE counts must be a string or a list of integers")
    if any(r < 0 for r in runs):
        raise ValueError("RLE counts must not be negative")
    total = sum(runs)
    if total != height * width:
        raise ValueError(f"RLE runs cover {total} pixels, but size {height}x{width} needs {height * width}")
    values = np.zeros(len(runs), dtype=bool)
    values[1::2] = True
    flat = np.repeat(values, runs)
    return flat.reshape(width, height).T


def area(rle: RLE) -> int:
    """Number of foreground pixels, without decoding."""
    counts = rle["counts"]
    runs = string_to_runs(counts) if isinstance(counts, str) else counts
    return int(sum(runs[1::2]))
