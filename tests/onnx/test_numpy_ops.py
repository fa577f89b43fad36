"""The NumPy pieces of the onnxruntime predictors against their torch counterparts."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from sam2.onnx import resize
from sam2.onnx.heads import DecoderOutput, decoder_masks
from sam2.onnx.holes import fill_small_holes as fill_np
from sam2.onnx.video_state import from_bf16_bits, to_bf16_bits
from sam2.video.hole_filling import fill_small_holes as fill_torch


@pytest.mark.parametrize(
    "shape,size",
    [
        ((2, 1, 64, 64), (108, 192)),
        ((1, 3, 213, 320), (256, 256)),
        ((1, 1, 64, 64), (64, 64)),
        ((3, 1, 16, 16), (720, 1280)),
    ],
)
def test_bilinear_matches_interpolate(shape, size):
    x = np.random.RandomState(0).randn(*shape).astype(np.float32) * 5
    expected = F.interpolate(torch.from_numpy(x), size=size, mode="bilinear", align_corners=False).numpy()
    np.testing.assert_allclose(resize.bilinear(x, size), expected, atol=2e-4, rtol=0)


@pytest.mark.parametrize(
    "shape,size",
    [
        ((1, 3, 213, 320), (256, 256)),
        ((1, 3, 213, 320), (1024, 1024)),
        ((2, 1, 256, 256), (64, 64)),
        ((1, 1, 108, 192), (256, 256)),
    ],
)
def test_antialias_matches_interpolate(shape, size):
    x = np.random.RandomState(1).rand(*shape).astype(np.float32)
    expected = F.interpolate(
        torch.from_numpy(x), size=size, mode="bilinear", align_corners=False, antialias=True
    ).numpy()
    np.testing.assert_allclose(resize.bilinear_antialias(x, size), expected, atol=1e-6, rtol=0)


def test_hole_filling_matches_the_torch_tracker():
    rng = np.random.RandomState(2)
    # Sparse background specks of every size up to and beyond the area limit, at the border too.
    logits = (rng.rand(6, 1, 48, 40) > 0.15).astype(np.float32) * 3 - 1
    logits[0, 0, :3, :3] = -1  # a 9-pixel corner hole: stays
    logits[1, 0, -2:, -4:] = -1  # an 8-pixel border hole: filled
    for area in (1, 8, 12):
        expected = fill_torch(torch.from_numpy(logits), area).numpy()
        np.testing.assert_array_equal(fill_np(logits, area), expected)


def test_bf16_rounding_matches_torch():
    x = np.random.RandomState(3).randn(10000).astype(np.float32) * 10
    x[:4] = [0.0, -0.0, 1.0 + 2**-8, 1.0 + 3 * 2**-8]  # ties round to even
    expected = torch.from_numpy(x).to(torch.bfloat16).float().numpy()
    np.testing.assert_array_equal(from_bf16_bits(to_bf16_bits(x)), expected)


def test_dynamic_multimask_choice_matches_the_mask_decoder(micro_model):
    decoder = micro_model.sam_mask_decoder
    rng = np.random.RandomState(4)
    masks = rng.randn(5, 4, 16, 16).astype(np.float32)
    masks[0, 0] = 5.0  # a stable single mask
    iou = rng.rand(5, 4).astype(np.float32)
    out = DecoderOutput(masks, iou, np.zeros((5, 4, 8), np.float32), np.ones((5, 1), np.float32))
    settings = {
        "dynamic_multimask_via_stability": True,
        "dynamic_multimask_stability_delta": 0.05,
        "dynamic_multimask_stability_thresh": 0.98,
    }
    got_masks, got_iou = decoder_masks(out, False, settings)
    exp_masks, exp_iou = decoder._dynamic_multimask_via_stability(
        torch.from_numpy(masks), torch.from_numpy(iou)
    )
    np.testing.assert_array_equal(got_masks, exp_masks.numpy())
    np.testing.assert_array_equal(got_iou, exp_iou.numpy())
