"""SAM2ImagePredictor: golden replay of the micro image steps, API behaviour and bad input."""

import subprocess
import sys

import numpy as np
import pytest
import torch
from PIL import Image
from shared_paths import GOLDEN, MICRO_CONFIG, REPO_ROOT, require

from sam2.build_sam import build_sam2
from sam2.sam2_image_predictor import SAM2ImagePredictor


@pytest.fixture(scope="module")
def predictor():
    torch.manual_seed(0)
    p = SAM2ImagePredictor(build_sam2(MICRO_CONFIG, device="cpu"))
    rng = np.random.default_rng(0)
    p.test_image = rng.integers(0, 255, size=(90, 160, 3), dtype=np.uint8)
    p.set_image(p.test_image)
    return p


def test_golden_micro_image_steps_replay():
    """The recorded reference outputs of the micro fixture's image steps are reproduced."""
    replay = require(GOLDEN / "replay.py")
    out = subprocess.run(
        [sys.executable, str(replay), str(GOLDEN / "micro"), "--only", "image"],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=600,
    )
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    assert out.stdout.strip().splitlines()[-1].endswith("0 failed")


def test_predict_shapes_and_types(predictor):
    masks, ious, low = predictor.predict(point_coords=np.array([[40, 30]]), point_labels=np.array([1]))
    assert masks.shape == (3, 90, 160) and masks.dtype == np.float32
    assert set(np.unique(masks)) <= {0.0, 1.0}
    assert ious.shape == (3,) and low.shape == (3, 64, 64)
    single, _, _ = predictor.predict(point_coords=np.array([[40, 30]]), point_labels=np.array([1]),
                                     multimask_output=False)
    assert single.shape == (1, 90, 160)
    logits, _, _ = predictor.predict(box=np.array([10, 10, 100, 80]), return_logits=True, multimask_output=False)
    assert logits.dtype == np.float32 and ((logits < 0).any() or (logits > 1).any())


def test_several_boxes_give_a_batch(predictor):
    masks, ious, low = predictor.predict(box=np.array([[0, 0, 50, 50], [60, 20, 150, 80]]), multimask_output=False)
    assert masks.shape == (2, 1, 90, 160) and ious.shape == (2, 1)


def test_pil_image_and_embedding_shape(predictor):
    p = SAM2ImagePredictor(predictor.model)
    p.set_image(Image.fromarray(predictor.test_image))
    emb = p.get_image_embedding()
    assert emb.shape == (1, 64, 16, 16)
    predictor_emb = predictor.get_image_embedding()
    assert torch.allclose(emb, predictor_emb)


def test_mask_input_round_trip(predictor):
    _, ious, low = predictor.predict(point_coords=np.array([[40, 30]]), point_labels=np.array([1]))
    best = low[np.argmax(ious)][None]
    masks, _, _ = predictor.predict(point_coords=np.array([[40, 30]]), point_labels=np.array([1]),
                                    mask_input=best, multimask_output=False)
    assert masks.shape == (1, 90, 160)


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        ({"point_coords": np.array([[1.0, np.nan]]), "point_labels": np.array([1])}, ValueError, "NaN"),
        ({"point_coords": np.array([[1.0, np.inf]]), "point_labels": np.array([1])}, ValueError, "infinite"),
        ({"point_coords": np.array([1.0, 2.0, 3.0]), "point_labels": np.array([1])}, ValueError, r"shape \(N, 2\)"),
        ({"point_coords": np.array([[1.0, 2.0]]), "point_labels": np.array([1, 1])}, ValueError, "point_labels must have shape"),
        ({"point_coords": np.array([[1.0, 2.0]]), "point_labels": np.array([7])}, ValueError, r"contain \[7\]"),
        ({"point_coords": np.array([[1.0, 2.0]])}, ValueError, "point_labels must be given"),
        ({"point_labels": np.array([1])}, ValueError, "without point_coords"),
        ({"box": np.array([1.0, 2.0, 3.0])}, ValueError, r"box must have shape \(4,\)"),
        ({"box": np.array([50.0, 50.0, 10.0, 10.0])}, ValueError, "x1 >= x0"),
        ({"mask_input": np.zeros((1, 10, 10))}, ValueError, r"mask_input must have shape \(1, 64, 64\)"),
        ({"point_coords": "abc", "point_labels": np.array([1])}, TypeError, "numeric"),
    ],
)
def test_bad_prompts_get_clear_errors(predictor, kwargs, error, message):
    with pytest.raises(error, match=message):
        predictor.predict(**kwargs)


def test_predict_before_set_image():
    p = SAM2ImagePredictor(build_sam2(MICRO_CONFIG, device="cpu"))
    with pytest.raises(RuntimeError, match=r"set_image\(\.\.\.\).*before predict"):
        p.predict(point_coords=np.array([[1, 1]]), point_labels=np.array([1]))
    with pytest.raises(RuntimeError, match="before get_image_embedding"):
        p.get_image_embedding()


@pytest.mark.parametrize(
    "image, error, message",
    [
        (np.zeros((10, 10), dtype=np.uint8), ValueError, r"shape \(H, W, 3\)"),
        (np.zeros((10, 10, 4), dtype=np.uint8), ValueError, r"shape \(H, W, 3\)"),
        (np.full((10, 10, 3), np.nan, dtype=np.float32), ValueError, "NaN"),
        ("image.png", TypeError, "numpy array"),
        (np.zeros((0, 10, 3), dtype=np.uint8), ValueError, "empty"),
    ],
)
def test_bad_images(predictor, image, error, message):
    p = SAM2ImagePredictor(predictor.model)
    with pytest.raises(error, match=message):
        p.set_image(image)


def test_batch_api(predictor):
    p = SAM2ImagePredictor(predictor.model)
    imgs = [predictor.test_image, predictor.test_image[:50, :70]]
    p.set_image_batch(imgs)
    masks, ious, lows = p.predict_batch([np.array([[10, 10]]), np.array([[5, 5]])], [np.array([1]), np.array([1])])
    assert [m.shape for m in masks] == [(3, 90, 160), (3, 50, 70)]
    with pytest.raises(ValueError, match="has 1 entries for 2 images"):
        p.predict_batch([np.array([[10, 10]])], [np.array([1])])
    with pytest.raises(RuntimeError, match="use predict_batch"):
        p.predict(point_coords=np.array([[1, 1]]), point_labels=np.array([1]))
    predictor.set_image(predictor.test_image)
    with pytest.raises(RuntimeError, match="set_image_batch"):
        predictor.predict_batch([np.array([[10, 10]])], [np.array([1])])
