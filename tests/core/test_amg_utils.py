"""Helpers of the automatic mask generator: NMS, connected components, RLE, grids and crops."""

import numpy as np
import pytest
import torch
from pycocotools import mask as coco_mask
from scipy import ndimage

from sam2.utils.amg import (
    assign_non_overlapping,
    batched_mask_to_box,
    batched_nms,
    build_all_layer_point_grids,
    build_point_grid,
    calculate_stability_score,
    generate_crop_boxes,
    is_box_near_crop_edge,
    nms,
    uncrop_masks,
)
from sam2.utils.components import component_sizes, label_components, remove_small_regions
from sam2.utils.rle import coco_encode_rle, mask_to_rle, masks_to_rle, rle_to_mask, string_to_counts


# ----------------------------------------------------------------------------- NMS
def brute_force_nms(boxes: np.ndarray, scores: np.ndarray, classes: np.ndarray, thr: float) -> list:
    """The textbook definition, one pair at a time with float32 arithmetic."""
    order = sorted(range(len(boxes)), key=lambda i: (-scores[i], i))
    suppressed, kept = set(), []
    for pos, i in enumerate(order):
        if i in suppressed:
            continue
        kept.append(i)
        for j in order[pos + 1:]:
            if classes[i] != classes[j]:
                continue
            a, b = boxes[i].astype(np.float32), boxes[j].astype(np.float32)
            area_a = (a[2] - a[0]) * (a[3] - a[1])
            area_b = (b[2] - b[0]) * (b[3] - b[1])
            iw = max(np.float32(0), min(a[2], b[2]) - max(a[0], b[0]))
            ih = max(np.float32(0), min(a[3], b[3]) - max(a[1], b[1]))
            inter = iw * ih
            with np.errstate(invalid="ignore"):
                iou = np.float32(inter / (area_a + area_b - inter))
            if float(iou) > thr:
                suppressed.add(j)
    return kept


def random_boxes(rng, n):
    xy = rng.integers(0, 40, size=(n, 2))
    wh = rng.integers(0, 25, size=(n, 2))  # zero-area boxes included
    boxes = np.concatenate([xy, xy + wh], axis=1).astype(np.float32)
    dup = rng.random(n) < 0.2  # exact duplicates
    boxes[dup] = boxes[0]
    return boxes


@pytest.mark.parametrize("seed", range(30))
def test_nms_matches_brute_force(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 60))
    boxes = random_boxes(rng, n)
    scores = rng.integers(0, 6, size=n).astype(np.float32) / 5  # many ties
    classes = rng.integers(0, 1 + seed % 3, size=n)
    thr = float(rng.choice([0.0, 0.3, 0.5, 0.7, 1.0]))
    got = batched_nms(torch.from_numpy(boxes), torch.from_numpy(scores), torch.from_numpy(classes), thr)
    assert got.dtype == torch.int64
    assert got.tolist() == brute_force_nms(boxes, scores, classes, thr)


def test_nms_edge_cases():
    same = torch.tensor([[0, 0, 10, 10], [0, 0, 10, 10]], dtype=torch.float32)
    scores = torch.tensor([0.5, 0.9])
    assert nms(same, scores, 1.0).tolist() == [1, 0]  # IoU 1 is not > 1
    assert nms(same, scores, 0.99).tolist() == [1]
    empty = torch.zeros(2, 4)
    assert nms(empty, scores, 0.0).tolist() == [1, 0]  # 0/0 never suppresses
    assert nms(torch.zeros(0, 4), torch.zeros(0), 0.5).tolist() == []
    with pytest.raises(ValueError, match=r"\(N, 4\)"):
        nms(torch.zeros(3, 3), torch.zeros(3), 0.5)


# ----------------------------------------------------------------------------- components
def scipy_areas(binary: np.ndarray) -> np.ndarray:
    labels, _ = ndimage.label(binary, structure=np.ones((3, 3)))
    sizes = np.bincount(labels.ravel())
    sizes[0] = 0
    return sizes[labels]


@pytest.mark.parametrize("seed", range(8))
def test_components_match_scipy(seed):
    rng = np.random.default_rng(seed)
    binary = rng.random((int(rng.integers(1, 70)), int(rng.integers(1, 70)))) < rng.uniform(0.2, 0.7)
    labels = label_components(torch.from_numpy(binary)).numpy()
    ref_labels, count = ndimage.label(binary, structure=np.ones((3, 3)))
    assert ((labels >= 0) == binary).all()
    # Same partition: a one-to-one map between our labels and scipy's.
    pairs = set(zip(labels[binary].tolist(), ref_labels[binary].tolist()))
    assert len(pairs) == count == len({a for a, _ in pairs}) == len({b for _, b in pairs})
    ids, sizes = component_sizes(torch.from_numpy(labels))
    per_pixel = np.zeros(labels.size, dtype=np.int64)
    per_pixel[ids.numpy()] = sizes.numpy()
    got = np.where(binary, per_pixel[np.maximum(labels, 0)], 0)
    assert (got == scipy_areas(binary)).all()
    # Each label is the raster index of its component's first pixel.
    flat = labels.ravel()
    for comp in np.unique(flat[flat >= 0]):
        assert np.flatnonzero(flat == comp)[0] == comp


def test_components_of_a_long_spiral():
    """A one-pixel-wide spiral: one component however long the path."""
    n = 41
    grid = np.zeros((n, n), dtype=bool)
    top, left, bottom, right = 0, 0, n - 1, n - 1
    while top <= bottom and left <= right:
        grid[top, left:right + 1] = True
        grid[top:bottom + 1, right] = True
        grid[bottom, left:right + 1] = True
        grid[top + 2:bottom + 1, left] = True
        top, left, bottom, right = top + 2, left + 2, bottom - 2, right - 2
        if top <= bottom:
            grid[top - 1, left] = True
    labels = label_components(torch.from_numpy(grid)).numpy()
    assert len(np.unique(labels[grid])) == ndimage.label(grid, structure=np.ones((3, 3)))[1]


def test_remove_small_regions_holes_and_islands():
    mask = np.zeros((20, 20), dtype=bool)
    mask[2:12, 2:12] = True
    mask[5, 5] = False  # 1-pixel hole
    mask[15, 15] = True  # 1-pixel island
    filled, changed = remove_small_regions(mask, 3, "holes")
    assert changed and filled[5, 5] and filled[15, 15] and filled.sum() == mask.sum() + 1
    cleaned, changed = remove_small_regions(filled, 3, "islands")
    assert changed and not cleaned[15, 15] and cleaned.sum() == 100
    same, changed = remove_small_regions(cleaned, 3, "islands")
    assert not changed and (same == cleaned).all()
    # Every island small: the largest survives.
    tiny = np.zeros((10, 10), dtype=bool)
    tiny[0, 0] = True
    tiny[5:7, 5] = True
    kept, changed = remove_small_regions(tiny, 5, "islands")
    assert changed and kept.sum() == 2 and kept[5, 5] and not kept[0, 0]
    with pytest.raises(ValueError, match="mode"):
        remove_small_regions(mask, 3, "specks")


@pytest.mark.parametrize("seed", range(4))
def test_remove_small_regions_matches_scipy(seed):
    rng = np.random.default_rng(seed)
    mask = ndimage.binary_opening(rng.random((60, 50)) < 0.55)
    area = 6
    holes = scipy_areas(~mask)
    expected = mask | ((holes > 0) & (holes < area))
    got, _ = remove_small_regions(mask, area, "holes")
    assert (got == expected).all()
    islands = scipy_areas(expected)
    kept, _ = remove_small_regions(expected, area, "islands")
    assert (kept == (islands >= area)).all() or (islands < area).all()


# ----------------------------------------------------------------------------- RLE
@pytest.mark.parametrize("seed", range(6))
def test_rle_is_pycocotools_compatible(seed):
    rng = np.random.default_rng(seed)
    masks = rng.random((3, 17, 23)) < [[[0.0]], [[0.5]], [[1.0]]]  # empty, random, full
    masks[1, 0, 0] = seed % 2 == 0
    for mask, rle in zip(masks, masks_to_rle(torch.from_numpy(masks))):
        assert rle["size"] == [17, 23]
        assert (rle_to_mask(rle) == mask).all()
        compressed = coco_encode_rle(rle)
        reference = coco_mask.encode(np.asfortranarray(mask.astype(np.uint8)))
        assert compressed["counts"] == reference["counts"].decode("utf-8")
        decoded = coco_mask.decode({"size": compressed["size"], "counts": compressed["counts"].encode()})
        assert (decoded.astype(bool) == mask).all()
        assert string_to_counts(compressed["counts"]) == rle["counts"]
    assert mask_to_rle(masks[1])["counts"] == masks_to_rle(torch.from_numpy(masks[1:2]))[0]["counts"]


def test_rle_to_mask_rejects_bad_counts():
    with pytest.raises(ValueError, match="sum to"):
        rle_to_mask({"size": [2, 2], "counts": [1, 2]})


# ----------------------------------------------------------------------------- grids, crops, boxes
def test_point_grid():
    assert build_point_grid(2).tolist() == [[0.25, 0.25], [0.75, 0.25], [0.25, 0.75], [0.75, 0.75]]
    grids = build_all_layer_point_grids(8, 2, 2)
    assert [len(g) for g in grids] == [64, 16, 4]
    with pytest.raises(ValueError):
        build_point_grid(0)


def test_crop_boxes():
    boxes, layers = generate_crop_boxes((100, 200), 1, 0.5)
    # overlap = 50, crops 125 x 75, columns first.
    assert boxes == [[0, 0, 200, 100], [0, 0, 125, 75], [0, 25, 125, 100], [75, 0, 200, 75], [75, 25, 200, 100]]
    assert layers == [0, 1, 1, 1, 1]
    boxes, layers = generate_crop_boxes((300, 451), 2, 512 / 1500)
    assert len(boxes) == 1 + 4 + 16 and layers.count(2) == 16
    covered = np.zeros((300, 451), dtype=int)
    for (x0, y0, x1, y1), layer in zip(boxes, layers):
        assert 0 <= x0 < x1 <= 451 and 0 <= y0 < y1 <= 300
        if layer == 2:
            covered[y0:y1, x0:x1] += 1
    assert covered.min() >= 1


def test_mask_boxes_stability_and_edges():
    masks = torch.zeros(3, 6, 8, dtype=torch.bool)
    masks[1, 2:4, 3:7] = True
    masks[2, 5, 0] = True
    assert batched_mask_to_box(masks).tolist() == [[0, 0, 0, 0], [3, 2, 6, 3], [0, 5, 0, 5]]
    assert batched_mask_to_box(torch.zeros(0, 4, 4, dtype=torch.bool)).shape == (0, 4)
    logits = torch.tensor([[[-2.0, -0.5, 0.5, 2.0]]])
    assert calculate_stability_score(logits, 0.0, 1.0).item() == pytest.approx(1 / 3)
    near = is_box_near_crop_edge(torch.tensor([[0, 0, 10, 10], [30, 30, 40, 40]]), [100, 0, 200, 100],
                                 [0, 0, 200, 100])
    assert near.tolist() == [True, False]  # x0 = 100 is the crop's left edge, inside the image
    padded = uncrop_masks(torch.ones(1, 2, 3, dtype=torch.bool), [1, 2, 4, 4], 5, 6)
    assert padded.shape == (1, 5, 6) and padded.sum() == 6 and padded[0, 2:4, 1:4].all()


def test_assign_non_overlapping_is_score_first():
    a = np.zeros((4, 6), dtype=bool)
    a[:, :4] = True  # 16 px
    b = np.zeros((4, 6), dtype=bool)
    b[:, 2:] = True  # 16 px, 8 shared with a
    c = np.zeros((4, 6), dtype=bool)
    c[0, 0] = True  # inside a
    kept = assign_non_overlapping([a, b, c], [0.5, 0.9, 0.1], min_area=2)
    assert [i for i, _ in kept] == [1, 0]  # b first (best score); c has nothing left
    assert (kept[0][1] == b).all() and kept[1][1].sum() == 8 and not (kept[0][1] & kept[1][1]).any()
    assert [i for i, _ in assign_non_overlapping([a, b], [0.5, 0.9], min_area=9)] == [1]
    assert len(assign_non_overlapping([a, b, c], [0.5, 0.9, 0.1], max_count=1)) == 1
    with pytest.raises(ValueError, match="scores"):
        assign_non_overlapping([a], [0.5, 0.1])
