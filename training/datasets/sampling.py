"""Random choices shared by the data sets: which frames form a clip, which objects."""

from typing import List

import numpy as np


def choose_frames(rng: np.random.Generator, available: int, num_frames: int, max_stride: int) -> List[int]:
    """Indices of ``min(num_frames, available)`` frames, evenly spaced by a random stride.

    The stride is drawn from 1..max_stride and lowered until the clip fits the video.
    """
    if available < 1:
        raise ValueError("a video needs at least one frame")
    count = min(num_frames, available)
    stride = int(rng.integers(1, max(1, max_stride) + 1))
    while stride > 1 and (count - 1) * stride >= available:
        stride -= 1
    start = int(rng.integers(0, available - (count - 1) * stride))
    return [start + i * stride for i in range(count)]


def choose_objects(rng: np.random.Generator, ids: List[int], max_objects: int) -> List[int]:
    """Up to ``max_objects`` of ``ids`` in random order."""
    order = rng.permutation(len(ids))[:max_objects]
    return [ids[int(i)] for i in order]
