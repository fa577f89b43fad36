"""J and F on hand-made masks, and the J&F tool end to end on PNG folders."""

import os

import numpy as np
import pytest
from PIL import Image

from training import jf
from training.metrics import boundary_map, boundary_measure, region_similarity, sequence_scores
from training.palette import davis_palette


def box(h=100, w=100, y=30, x=30, size=20):
    m = np.zeros((h, w), bool)
    m[y:y + size, x:x + size] = True
    return m


def test_empty_and_empty():
    e = np.zeros((10, 10), bool)
    assert region_similarity(e, e) == 1.0
    assert boundary_measure(e, e) == 1.0


def test_identical():
    m = box()
    assert region_similarity(m, m) == 1.0
    assert boundary_measure(m, m) == 1.0


def test_one_side_empty():
    m, e = box(), np.zeros((100, 100), bool)
    assert region_similarity(m, e) == 0.0 and region_similarity(e, m) == 0.0
    assert boundary_measure(m, e) == 0.0 and boundary_measure(e, m) == 0.0


def test_shift_by_one_pixel():
    gt, pred = box(), box(x=31)
    assert region_similarity(pred, gt) == pytest.approx(380 / 420)  # 20x19 shared, 20x21 union
    # Tolerance ceil(0.008 * hypot(100, 100)) = 2 px: a 1-px shift is within it.
    assert boundary_measure(pred, gt) == 1.0
    assert boundary_measure(pred, gt, tolerance=1) == 1.0  # a 1-px disk still covers it
    # Shifted by 5 px, only the top and bottom edges (minus their ends) stay within 2 px.
    far = box(x=35)
    f = boundary_measure(far, gt)
    assert 0.0 < f < 1.0


def test_boundary_map_of_a_square():
    b = boundary_map(box(h=8, w=8, y=2, x=2, size=3))
    # Pixels that differ from their right / lower / lower-right neighbour: the square's own
    # last row and column and the pixels just above and left of it.
    expected = np.zeros((8, 8), bool)
    expected[1:5, 1:5] = True
    expected[2:4, 2:4] = False
    assert b.sum() == expected.sum()
    assert np.array_equal(b, expected)


def test_boundary_by_hand_precision_recall():
    # Prediction = gt plus a far-away blob: recall 1, precision = gt boundary share of all.
    gt = box(h=200, w=200, y=20, x=20, size=10)
    blob = box(h=200, w=200, y=150, x=150, size=10)
    pred = gt | blob
    n = boundary_map(gt).sum()
    precision = n / boundary_map(pred).sum()
    assert boundary_measure(pred, gt) == pytest.approx(2 * precision / (precision + 1))


def test_void_pixels_are_left_out_when_asked():
    gt, pred = box(), box()
    pred[0:5, 0:5] = True
    void = np.zeros_like(gt)
    void[0:5, 0:5] = True
    assert region_similarity(pred, gt) < 1.0
    assert region_similarity(pred, gt, void) == 1.0
    assert boundary_measure(pred, gt, void=void) == 1.0


def test_sequence_scores_skip_first_and_last():
    gt = [np.where(box(), 1, 0).astype(np.uint8) for _ in range(4)]
    pred = [np.zeros_like(g) for g in gt]
    pred[1], pred[2] = gt[1], gt[2]  # right in the middle, wrong at both ends
    assert sequence_scores(pred, gt, [1])[1]["J"] == 1.0
    assert sequence_scores(pred, gt, [1], skip_first_last=False)[1]["J"] == 0.5


def write_pngs(folder, masks):
    os.makedirs(folder, exist_ok=True)
    for t, m in enumerate(masks):
        im = Image.fromarray(m.astype(np.uint8), mode="P")
        im.putpalette(davis_palette())
        im.save(os.path.join(folder, f"{t:05d}.png"))


def test_jf_tool_on_folders(tmp_path, capsys):
    gt_frames = []
    for t in range(5):
        m = np.zeros((60, 80), np.uint8)
        m[10:30, 10 + t:30 + t] = 1
        m[40:50, 50:70] = 2
        gt_frames.append(m)
    write_pngs(tmp_path / "gt" / "Annotations" / "vidA", gt_frames)
    write_pngs(tmp_path / "pred" / "vidA", [np.where(f == 2, 0, f) for f in gt_frames])  # object 2 lost
    write_pngs(tmp_path / "gt" / "Annotations" / "vidB", gt_frames)
    write_pngs(tmp_path / "pred" / "vidB", gt_frames)
    serial = jf.evaluate(str(tmp_path / "gt"), str(tmp_path / "pred"), workers=1)
    parallel = jf.evaluate(str(tmp_path / "gt"), str(tmp_path / "pred"), workers=2)
    assert serial == parallel
    assert serial["overall"]["objects"] == 4
    assert serial["overall"]["J&F"] == pytest.approx(0.75)  # 3 of 4 objects perfect
    assert jf.main(["--gt", str(tmp_path / "gt"), "--pred", str(tmp_path / "pred"), "--workers", "1"]) == 0
    out = capsys.readouterr().out
    assert "vidA" in out and "0.7500" in out


def test_jf_tool_reports_missing_and_mismatched_predictions(tmp_path, capsys):
    m = np.zeros((20, 20), np.uint8)
    m[5:10, 5:10] = 1
    write_pngs(tmp_path / "gt" / "v", [m, m, m])
    write_pngs(tmp_path / "pred" / "v", [m, m])
    assert jf.main(["--gt", str(tmp_path / "gt"), "--pred", str(tmp_path / "pred"), "--workers", "1"]) == 2
    assert "00002.png" in capsys.readouterr().err
    write_pngs(tmp_path / "pred" / "v", [m, m, np.zeros((10, 10), np.uint8)])
    assert jf.main(["--gt", str(tmp_path / "gt"), "--pred", str(tmp_path / "pred"), "--workers", "1"]) == 2
    assert "10x10" in capsys.readouterr().err


DAVIS_CODE = os.environ.get("DAVIS2017_EVAL_CODE")
DAVIS_PYTHON = os.environ.get("DAVIS2017_PYTHON")


@pytest.mark.skipif(not (DAVIS_CODE and DAVIS_PYTHON),
                    reason="set DAVIS2017_EVAL_CODE (a davis2017-evaluation checkout) and DAVIS2017_PYTHON "
                           "(an interpreter with its requirements) to compare with the DAVIS 2017 code")
def test_agrees_with_the_davis2017_evaluation_code(tmp_path):
    from training.compare_davis2017 import main

    assert main(["--davis-code", DAVIS_CODE, "--davis-python", DAVIS_PYTHON, "--work", str(tmp_path)]) == 0
