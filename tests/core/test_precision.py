"""precision= on the builders and predictors: CPU detection, resolution, and masks against fp32."""

import logging

import numpy as np
import pytest
import torch
from shared_paths import MICRO_CONFIG

from sam2 import precision as prec
from sam2.build_sam import build_sam2, build_sam2_video_predictor
from sam2.sam2_image_predictor import SAM2ImagePredictor
from sam2.utils.mask_agreement import mask_agreement, object_ious


@pytest.fixture(scope="module")
def frames_dir(golden_dir):
    return str(golden_dir / "micro" / "frames")


def _video_predictor(precision):
    torch.manual_seed(0)  # the same random weights for every precision
    return build_sam2_video_predictor(MICRO_CONFIG, device="cpu", precision=precision)


def _track(predictor, frames_dir):
    """Two clicked objects tracked over the 10 micro frames; (2, H, W) bool masks per frame.

    Also checks that the returned logits are float32 and that no autocast is left switched on
    in this thread between the frames the generator yields."""
    with torch.inference_mode():
        state = predictor.init_state(frames_dir)
        predictor.add_new_points_or_box(state, 0, 1, points=[[72, 62]], labels=[1])
        predictor.add_new_points_or_box(state, 0, 2, points=[[150, 60]], labels=[1])
        masks = []
        for _, _, logits in predictor.propagate_in_video(state):
            assert logits.dtype == torch.float32
            assert not torch.is_autocast_enabled("cpu")
            masks.append((logits[:, 0] > 0).numpy())
        _, _, clicked = predictor.add_new_points_or_box(state, 5, 1, points=[[60, 40]], labels=[1])
        assert clicked.dtype == torch.float32
    return masks


# ----------------------------------------------------------------------------- detection
def test_cpu_flags_are_read_from_x86_and_arm_cpuinfo(tmp_path):
    x86 = tmp_path / "x86"
    x86.write_text("processor\t: 0\nmodel name\t: Some CPU\nflags\t\t: fpu sse2 avx512f avx512_bf16\n")
    arm = tmp_path / "arm"
    arm.write_text("processor\t: 0\nFeatures\t: fp asimd sve bf16 i8mm\n")
    assert {"avx512_bf16", "avx512f"} <= prec.cpu_flags(str(x86))
    assert "bf16" in prec.cpu_flags(str(arm))
    assert prec.cpu_flags(str(tmp_path / "absent")) == frozenset()


def test_native_bf16_is_found_by_flag_and_the_override_hides_it():
    if not torch.ops.mkldnn._is_mkldnn_bf16_supported():
        pytest.skip("this torch's oneDNN runs no bf16 here")
    assert prec.cpu_bf16_feature({"avx512f", "avx512_bf16"}, env={}) == "avx512_bf16"
    assert prec.cpu_bf16_feature({"amx_bf16", "avx512_bf16"}, env={}) == "amx_bf16"
    assert prec.cpu_bf16_feature({"asimd", "bf16"}, env={}) == "bf16"
    assert prec.cpu_bf16_feature({"avx512f", "avx2"}, env={}) is None  # emulated bf16 is not native
    assert prec.cpu_bf16_feature({"avx512_bf16"}, env={prec.NO_BF16_ENV: "1"}) is None


def test_auto_resolves_by_the_cpu_and_the_override(monkeypatch):
    assert prec.resolve_precision("fp32", "cpu") == "fp32"
    assert prec.resolve_precision("bf16", "cpu") == "bf16"
    expected = "bf16" if prec.cpu_bf16_feature() else "fp32"
    assert prec.resolve_precision("auto", "cpu") == expected
    monkeypatch.setenv(prec.NO_BF16_ENV, "1")
    assert prec.resolve_precision("auto", "cpu") == "fp32"
    assert prec.describe("fp32", "cpu") == "CPU: fp32 (no native bf16)"
    with pytest.raises(ValueError, match="precision must be one of"):
        prec.resolve_precision("fp16", "cpu")


def test_fp32_is_the_default_and_leaves_a_callers_autocast_alone():
    torch.manual_seed(0)
    model = build_sam2(MICRO_CONFIG, device="cpu")
    assert model.precision == "fp32"
    with torch.autocast("cpu", dtype=torch.bfloat16), prec.compute_context(model):
        assert torch.is_autocast_enabled("cpu")
    with pytest.raises(ValueError, match="precision must be one of"):
        build_sam2(MICRO_CONFIG, device="cpu", precision="half")


def test_the_resolved_precision_is_logged_once(caplog):
    with caplog.at_level(logging.INFO, logger="sam2.precision"):
        prec._logged.clear()
        for _ in range(2):
            prec.set_precision(torch.nn.Linear(2, 2), "fp32")
    lines = [r.getMessage() for r in caplog.records if r.name == "sam2.precision"]
    assert lines == ["precision fp32 -> CPU: fp32 (no native bf16)"] or lines == [
        f"precision fp32 -> CPU: fp32 ({prec.cpu_bf16_feature()})"]


# ----------------------------------------------------------------------------- quality
@pytest.fixture(scope="module")
def fp32_masks(frames_dir):
    return _track(_video_predictor("fp32"), frames_dir)


def test_bf16_tracking_agrees_with_fp32(frames_dir, fp32_masks):
    predictor = _video_predictor("bf16")
    assert predictor.precision == "bf16"
    agreement = mask_agreement(fp32_masks, _track(predictor, frames_dir))
    assert agreement.frames == 10
    assert agreement.pixel_mean >= 0.99 and agreement.iou_mean >= 0.95, agreement


def test_int8_quantises_the_linears_and_still_tracks(frames_dir, fp32_masks):
    predictor = _video_predictor("int8")
    assert predictor.precision == "int8"
    assert not any(type(m) is torch.nn.Linear for m in predictor.modules())
    agreement = mask_agreement(fp32_masks, _track(predictor, frames_dir))
    assert agreement.pixel_mean >= 0.95, agreement
    with pytest.raises(ValueError, match="quantised"):
        prec.set_precision(predictor, "fp32")


def test_image_predictor_precision_gives_float32_masks(golden_dir):
    from PIL import Image

    image = np.asarray(Image.open(sorted((golden_dir / "micro" / "images").glob("*.png"))[0]).convert("RGB"))
    results = {}
    for precision in ("fp32", "bf16"):
        torch.manual_seed(0)
        predictor = SAM2ImagePredictor(build_sam2(MICRO_CONFIG, device="cpu"), precision=precision)
        assert predictor.model.precision == precision
        predictor.set_image(image)
        masks, ious, low_res = predictor.predict(point_coords=[[40, 30]], point_labels=[1], return_logits=True)
        assert masks.dtype == ious.dtype == low_res.dtype == np.float32
        results[precision] = masks > 0
    assert object_ious(results["fp32"], results["bf16"]).mean() >= 0.9


def test_mask_agreement_numbers():
    a = np.zeros((2, 4, 4), bool)
    b = a.copy()
    a[0, :2] = True  # 8 pixels
    b[0, :1] = True  # 4 of them
    result = mask_agreement([a, a], [a, b])
    assert result.frames == 2
    assert result.pixel_min == pytest.approx(1 - 4 / 32) and result.pixel_mean == pytest.approx(1 - 2 / 32)
    assert result.iou_min == pytest.approx(0.5)  # object 2 is empty in both: IoU 1
    assert result.iou_mean == pytest.approx((1 + 1 + 0.5 + 1) / 4)
    with pytest.raises(ValueError):
        mask_agreement([a], [a, b])
