"""fill_small_holes against a plain breadth-first labelling (8-connectivity)."""

from collections import deque

import numpy as np
import pytest
import torch

from sam2.video.hole_filling import HOLE_FILL_VALUE, fill_small_holes


def reference_fill(logits: np.ndarray, max_area: int) -> np.ndarray:
    """Straightforward BFS over 8-neighbours of background (logit <= 0) pixels."""
    out = logits.copy()
    h, w = logits.shape
    seen = np.zeros((h, w), dtype=bool)
    background = logits <= 0
    for y in range(h):
        for x in range(w):
            if not background[y, x] or seen[y, x]:
                continue
            component, queue = [], deque([(y, x)])
            seen[y, x] = True
            while queue:
                cy, cx = queue.popleft()
                component.append((cy, cx))
                for dy in (-1, 0, 1):
                    for dx in (-1, 0, 1):
                        ny, nx = cy + dy, cx + dx
                        if 0 <= ny < h and 0 <= nx < w and background[ny, nx] and not seen[ny, nx]:
                            seen[ny, nx] = True
                            queue.append((ny, nx))
            if len(component) <= max_area:
                for cy, cx in component:
                    out[cy, cx] = HOLE_FILL_VALUE
    return out


@pytest.mark.parametrize("seed", range(12))
def test_matches_breadth_first_labelling_on_random_masks(seed):
    rng = np.random.default_rng(seed)
    h, w = rng.integers(6, 40, size=2)
    density = rng.uniform(0.5, 0.95)  # share of foreground: from many holes to a few
    logits = np.where(rng.random((2, 1, h, w)) < density, rng.uniform(0.01, 5, (2, 1, h, w)),
                      -rng.uniform(0, 5, (2, 1, h, w))).astype(np.float32)
    logits[0, 0, 0, 0] = 0.0  # exactly 0 counts as background
    max_area = int(rng.integers(1, 12))
    got = fill_small_holes(torch.from_numpy(logits), max_area).numpy()
    for n in range(2):
        np.testing.assert_array_equal(got[n, 0], reference_fill(logits[n, 0], max_area))


def test_hand_made_cases():
    logits = np.full((1, 1, 8, 8), 3.0, dtype=np.float32)
    logits[0, 0, 2:4, 2:4] = -1  # a 4-pixel hole: filled
    logits[0, 0, 0, 7] = -1  # a border pixel: filled too (no border exemption)
    logits[0, 0, 5, 5] = logits[0, 0, 6, 6] = -1  # diagonal neighbours: one component of 2
    big = logits.copy()
    big[0, 0, 5:8, 0:4] = -1  # 12 pixels: stays
    out = fill_small_holes(torch.from_numpy(big), 8).numpy()[0, 0]
    assert (out[2:4, 2:4] == HOLE_FILL_VALUE).all() and out[0, 7] == HOLE_FILL_VALUE
    assert out[5, 5] == HOLE_FILL_VALUE and out[6, 6] == HOLE_FILL_VALUE
    assert (out[5:8, 0:4] == -1).all()
    # the rule is <= max_area: a 4-pixel hole survives max_area 3
    assert (fill_small_holes(torch.from_numpy(logits), 3).numpy()[0, 0, 2:4, 2:4] == -1).all()


def test_disabled_and_bad_shape():
    x = torch.randn(1, 1, 4, 4)
    assert fill_small_holes(x, 0) is x
    with pytest.raises(ValueError, match=r"\(N, 1, H, W\)"):
        fill_small_holes(torch.randn(4, 4), 8)
