"""SAM2AutomaticMaskGenerator: golden parity, records and output modes, crops, grids, bad input."""

import subprocess
import sys

import numpy as np
import pytest
import torch
from pycocotools import mask as coco_mask
from scipy import ndimage
from shared_paths import GOLDEN, MICRO_CONFIG, REPO_ROOT, require

from sam2.automatic_mask_generator import SAM2AutomaticMaskGenerator
from sam2.build_sam import build_sam2
from sam2.utils.amg import build_point_grid, generate_crop_boxes
from sam2.utils.rle import rle_to_mask

RECORD_KEYS = {"segmentation", "area", "bbox", "predicted_iou", "point_coords", "stability_score", "crop_box"}
# Random micro weights give poorly stable masks: low thresholds so that records come out.
LOOSE = dict(points_per_side=4, pred_iou_thresh=0.0, stability_score_thresh=0.0, box_nms_thresh=0.9)


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return build_sam2(MICRO_CONFIG, device="cpu")


@pytest.fixture(scope="module")
def image():
    rng = np.random.default_rng(0)
    img = np.zeros((48, 80, 3), dtype=np.uint8)
    img[10:30, 20:50] = (200, 40, 40)
    return np.clip(img + rng.integers(0, 30, img.shape), 0, 255).astype(np.uint8)


def test_golden_amg_parity():
    """check_amg.py (outputs recorded from sam2==1.1.0 on the golden micro weights): 0 failed."""
    check = require(GOLDEN / "amg" / "check_amg.py")
    out = subprocess.run([sys.executable, str(check)], cwd=REPO_ROOT, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    assert out.stdout.strip().splitlines()[-1] == "8 passed, 0 failed"


def check_record(rec, hw):
    assert set(rec) == RECORD_KEYS
    assert isinstance(rec["area"], int) and isinstance(rec["predicted_iou"], float)
    assert isinstance(rec["stability_score"], float)
    assert len(rec["bbox"]) == 4 and all(isinstance(v, int) for v in rec["bbox"])
    assert len(rec["crop_box"]) == 4 and len(rec["point_coords"]) == 1 and len(rec["point_coords"][0]) == 2
    x, y = rec["point_coords"][0]
    assert 0 <= x <= hw[1] and 0 <= y <= hw[0]


def test_records_and_the_three_output_modes_agree(model, image):
    hw = image.shape[:2]
    by_mode = {mode: SAM2AutomaticMaskGenerator(model, output_mode=mode, **LOOSE).generate(image)
               for mode in ("binary_mask", "uncompressed_rle", "coco_rle")}
    binary = by_mode["binary_mask"]
    assert len(binary) > 0
    assert all(len(recs) == len(binary) for recs in by_mode.values())
    for i, rec in enumerate(binary):
        check_record(rec, hw)
        mask = rec["segmentation"]
        assert isinstance(mask, np.ndarray) and mask.dtype == bool and mask.shape == hw
        assert rec["area"] == int(mask.sum())
        ys, xs = np.nonzero(mask)
        if len(xs):
            assert rec["bbox"] == [xs.min(), ys.min(), xs.max() - xs.min(), ys.max() - ys.min()]
        assert rec["crop_box"] == [0, 0, hw[1], hw[0]]
        raw = by_mode["uncompressed_rle"][i]["segmentation"]
        assert raw["size"] == list(hw) and all(isinstance(c, int) for c in raw["counts"])
        assert (rle_to_mask(raw) == mask).all()
        assert (coco_mask.decode(coco_mask.frPyObjects(raw, *hw)).astype(bool) == mask).all()
        coco = by_mode["coco_rle"][i]["segmentation"]
        assert isinstance(coco["counts"], str)
        assert (coco_mask.decode({"size": coco["size"], "counts": coco["counts"].encode()}).astype(bool) == mask).all()
        for mode in ("uncompressed_rle", "coco_rle"):
            other = by_mode[mode][i]
            assert {k: v for k, v in other.items() if k != "segmentation"} == \
                   {k: v for k, v in rec.items() if k != "segmentation"}
    ious = [r["predicted_iou"] for r in binary]
    assert ious == sorted(ious, reverse=True)  # one crop: NMS order


def test_explicit_point_grids_equal_points_per_side(model, image):
    params = {k: v for k, v in LOOSE.items() if k != "points_per_side"}
    a = SAM2AutomaticMaskGenerator(model, points_per_side=4, output_mode="coco_rle", **params).generate(image)
    b = SAM2AutomaticMaskGenerator(model, points_per_side=None, point_grids=[build_point_grid(4)],
                                   output_mode="coco_rle", **params).generate(image)
    assert a == b
    one = SAM2AutomaticMaskGenerator(model, points_per_side=None, point_grids=[np.array([[0.5, 0.25]])],
                                     **params).generate(image)
    assert len(one) >= 1 and all(r["point_coords"] == [[40.0, 12.0]] for r in one)


def test_crops(model, image):
    hw = image.shape[:2]
    recs = SAM2AutomaticMaskGenerator(model, crop_n_layers=1, crop_n_points_downscale_factor=2,
                                      crop_nms_thresh=1.0, **LOOSE).generate(image)
    boxes, _ = generate_crop_boxes(hw, 1, 512 / 1500)
    xywh = [[x0, y0, x1 - x0, y1 - y0] for x0, y0, x1, y1 in boxes]
    assert any(r["crop_box"] != xywh[0] for r in recs)
    areas = []
    for rec in recs:
        check_record(rec, hw)
        assert rec["crop_box"] in xywh
        x, y, w, h = rec["crop_box"]
        outside = rec["segmentation"].copy()
        outside[y:y + h, x:x + w] = False
        assert not outside.any()
        px, py = rec["point_coords"][0]
        assert x <= px <= x + w and y <= py <= y + h
        areas.append(w * h)
    assert areas == sorted(areas)  # cross-crop NMS: smaller crops first


def test_min_mask_region_area(model, image):
    min_area = 20
    recs = SAM2AutomaticMaskGenerator(model, min_mask_region_area=min_area, **LOOSE).generate(image)
    assert recs
    eight = np.ones((3, 3))
    for rec in recs:
        mask = rec["segmentation"]
        holes, n_holes = ndimage.label(~mask, structure=eight)
        assert all(size >= min_area for size in np.bincount(holes.ravel())[1:])
        islands, n_islands = ndimage.label(mask, structure=eight)
        if n_islands > 1:
            assert all(size >= min_area for size in np.bincount(islands.ravel())[1:])
        assert rec["area"] == int(mask.sum())


def test_m2m_and_single_mask_run(model, image):
    for params in (dict(use_m2m=True), dict(multimask_output=False)):
        recs = SAM2AutomaticMaskGenerator(model, **LOOSE, **params).generate(image)
        assert recs and all(set(r) == RECORD_KEYS for r in recs)


def test_progress_and_abort(model, image):
    calls = []
    SAM2AutomaticMaskGenerator(model, points_per_batch=5, **LOOSE).generate(image, progress=lambda d, t: calls.append((d, t)))
    assert calls == [(1, 4), (2, 4), (3, 4), (4, 4)]

    class Stop(Exception):
        pass

    def stop(done, total):
        raise Stop

    with pytest.raises(Stop):
        SAM2AutomaticMaskGenerator(model, **LOOSE).generate(image, progress=stop)


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(points_per_side=0), ValueError, "points_per_side must be >= 1"),
    (dict(points_per_side=2.5), TypeError, "points_per_side must be an integer"),
    (dict(points_per_side=None), ValueError, "exactly one of points_per_side and point_grids"),
    (dict(point_grids=[build_point_grid(2)]), ValueError, "exactly one"),
    (dict(points_per_side=None, point_grids=[np.zeros((3, 3))]), ValueError, r"point_grids\[0\]"),
    (dict(points_per_side=None, point_grids=[np.full((3, 2), 2.0)]), ValueError, r"in \[0, 1\]"),
    (dict(points_per_side=None, point_grids=[build_point_grid(2)], crop_n_layers=1), ValueError, "needs 2"),
    (dict(pred_iou_thresh=1.5), ValueError, r"pred_iou_thresh must be in \[0.0, 1.0\]"),
    (dict(stability_score_thresh=-0.1), ValueError, "stability_score_thresh"),
    (dict(box_nms_thresh=float("nan")), TypeError, "box_nms_thresh must be a finite number"),
    (dict(crop_nms_thresh=2), ValueError, "crop_nms_thresh"),
    (dict(stability_score_offset=-1), ValueError, "stability_score_offset"),
    (dict(points_per_batch=0), ValueError, "points_per_batch"),
    (dict(crop_n_layers=-1), ValueError, "crop_n_layers"),
    (dict(points_per_side=2, crop_n_layers=2, crop_n_points_downscale_factor=2), ValueError, "no point"),
    (dict(min_mask_region_area=-5), ValueError, "min_mask_region_area"),
    (dict(output_mode="polygons"), ValueError, "output_mode must be one of"),
])
def test_bad_arguments(model, kwargs, error, match):
    with pytest.raises(error, match=match):
        SAM2AutomaticMaskGenerator(model, **kwargs)


@pytest.mark.parametrize("bad, error, match", [
    (np.zeros((10, 10), dtype=np.uint8), ValueError, r"\(H, W, 3\)"),
    (np.zeros((10, 10, 4), dtype=np.uint8), ValueError, r"\(H, W, 3\)"),
    (np.zeros((0, 10, 3), dtype=np.uint8), ValueError, "empty"),
    (np.zeros((10, 10, 3), dtype=np.float32), TypeError, "uint8"),
    ([[0, 0, 0]], TypeError, "numpy array"),
])
def test_bad_images(model, bad, error, match):
    gen = SAM2AutomaticMaskGenerator(model, **LOOSE)
    with pytest.raises(error, match=match):
        gen.generate(bad)


def test_from_pretrained_splits_generator_and_builder_arguments(monkeypatch):
    import sam2.build_sam as build_sam

    seen = {}

    def fake_build_sam2_hf(model_id, **kwargs):  # stands in for the download only
        seen.update(model_id=model_id, **kwargs)
        torch.manual_seed(0)
        return build_sam2(MICRO_CONFIG, device=kwargs["device"])

    monkeypatch.setattr(build_sam, "build_sam2_hf", fake_build_sam2_hf)
    gen = SAM2AutomaticMaskGenerator.from_pretrained("facebook/sam2.1-hiera-tiny", device="cpu",
                                                     points_per_side=4, output_mode="coco_rle")
    assert seen == {"model_id": "facebook/sam2.1-hiera-tiny", "device": "cpu"}
    assert gen.output_mode == "coco_rle" and len(gen.point_grids[0]) == 16
