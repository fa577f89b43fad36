"""fill_small_holes (torch, on the masks' device) against scipy's connected-components labelling."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from scipy import ndimage

from sam2.video.hole_filling import HOLE_FILL_VALUE, _max_3x3, fill_small_holes

EIGHT_CONNECTED = np.ones((3, 3), dtype=bool)


def scipy_fill(logits: np.ndarray, max_area: int) -> np.ndarray:
    """The reference: label 8-connected background (logit <= 0), fill components <= max_area."""
    out = logits.copy()
    for n in range(logits.shape[0]):
        labels, count = ndimage.label(logits[n, 0] <= 0, structure=EIGHT_CONNECTED)
        sizes = np.bincount(labels.ravel(), minlength=count + 1)
        sizes[0] = max_area + 1  # label 0 is the foreground: never filled
        out[n, 0][sizes[labels] <= max_area] = HOLE_FILL_VALUE
    return out


def random_logits(rng, n, h, w, background_share):
    background = rng.random((n, 1, h, w)) < background_share
    magnitude = rng.uniform(0.01, 5, (n, 1, h, w))
    logits = np.where(background, -magnitude, magnitude).astype(np.float32)
    logits[background & (rng.random((n, 1, h, w)) < 0.05)] = 0.0  # exactly 0 is background
    return logits


def check(logits: np.ndarray, max_area: int) -> None:
    got = fill_small_holes(torch.from_numpy(logits), max_area).numpy()
    np.testing.assert_array_equal(got, scipy_fill(logits, max_area))


@pytest.mark.parametrize("seed", range(8))
def test_matches_scipy_on_thousands_of_random_masks(seed):
    """8 seeds x 12 batches x 24 masks = 2304 masks: sizes with odd sides, densities from
    scattered holes to a mostly-background mask (large components next to small ones)."""
    rng = np.random.default_rng(seed)
    for _ in range(12):
        h, w = (int(v) for v in rng.integers(1, 41, size=2))
        max_area = int(rng.choice([1, 2, 3, 5, 8, int(rng.integers(1, 51))]))
        check(random_logits(rng, 24, h, w, rng.uniform(0.05, 0.7)), max_area)


def test_large_mask_like_the_predictor():
    rng = np.random.default_rng(100)
    check(random_logits(rng, 3, 256, 256, 0.45), 8)  # near the percolation threshold


def hand_made(rows):
    """'#' foreground, '.' background -> (1, 1, H, W) logits."""
    grid = np.array([[c == "#" for c in r] for r in rows])
    return np.where(grid, 2.0, -1.0).astype(np.float32)[None, None]


@pytest.mark.parametrize("rows, max_area", [
    (["########", "##..####", "##..####", "#######.", "#####.##", "######.#", "........", "....####"], 8),
    (["#.#.#.", ".#.#.#", "#.#.#.", ".#.#.#"], 4),  # checkerboard: all background is one diagonal web
    (["#.#.#.", ".#.#.#", "#.#.#.", ".#.#.#"], 12),
    (["#.##", "####", "##.#", "###."], 1),  # single pixels; the last two touch diagonally
    (["....", "....", "...."], 12),  # all background: one component of exactly max_area
    (["....", "....", "...."], 11),
    (["####", "####"], 5),  # no background at all
    (["."], 1),
    (["#.#.#", "#####", ".###."], 1),  # border pixels and corners are holes too
    (["#..#", "#..#", "####", "#.##"], 3),  # a 4-pixel border hole stays, a single one goes
    ([".#.", "#.#", ".#."], 5),  # five background pixels joined through the centre
    (["..#..", "#####", "..#.."], 2),  # four separate 2-pixel corners
])
def test_hand_made_masks(rows, max_area):
    check(hand_made(rows), max_area)


def test_diagonal_and_size_rules():
    logits = hand_made(["########", "##..####", "##..####", "#######.", "#####.##", "######.#", "########"])
    out = fill_small_holes(torch.from_numpy(logits), 4).numpy()[0, 0]
    assert (out[1:3, 2:4] == HOLE_FILL_VALUE).all()
    assert out[4, 5] == out[5, 6] == out[3, 7] == HOLE_FILL_VALUE  # one diagonal component of 3
    assert (fill_small_holes(torch.from_numpy(logits), 3).numpy()[0, 0, 1:3, 2:4] == -1).all()


def test_batch_of_different_masks_and_dtypes():
    rng = np.random.default_rng(7)
    logits = random_logits(rng, 5, 17, 23, 0.4)
    check(logits, 6)
    half = fill_small_holes(torch.from_numpy(logits).to(torch.bfloat16), 6)
    assert half.dtype == torch.bfloat16
    expected = scipy_fill(torch.from_numpy(logits).to(torch.bfloat16).float().numpy(), 6)
    np.testing.assert_array_equal(half.float().numpy(), torch.from_numpy(expected).to(torch.bfloat16).float().numpy())


def test_disabled_and_bad_shape():
    x = torch.randn(1, 1, 4, 4)
    assert fill_small_holes(x, 0) is x
    with pytest.raises(ValueError, match=r"\(N, 1, H, W\)"):
        fill_small_holes(torch.randn(4, 4), 8)


def test_cpu_neighbourhood_maximum_equals_max_pooling():
    """The CPU's separable 3x3 maximum is exactly the pooling the other devices run."""
    gen = torch.Generator().manual_seed(3)
    for shape in ((1, 1, 1, 1), (2, 1, 5, 7), (16, 1, 64, 64)):
        x = torch.randint(-50, 50, shape, generator=gen).float()
        x[x > 40] = float("-inf")
        assert torch.equal(_max_3x3(x), F.max_pool2d(x, 3, stride=1, padding=1))
