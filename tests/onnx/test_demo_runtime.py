"""SAM2_DEMO_RUNTIME=onnxruntime: the demo's Segmenter serves clicks and tracking from an export folder."""

from pathlib import Path

import numpy as np
import pytest

from demo.backend import inference
from demo.backend.compute_gate import ComputeGate
from demo.backend.settings import Settings

pytest.importorskip("onnxruntime")
FRAMES = Path(__file__).resolve().parents[2].parent / "shared" / "golden" / "micro" / "frames"


def settings(**env):
    return Settings.from_env({"SAM2_DEMO_DEVICE": "cpu", "SAM2_DEMO_RUNTIME": "onnxruntime", **env})


def test_segmenter_tracks_on_onnxruntime(micro_export, tmp_path):
    if not FRAMES.exists():
        pytest.skip("golden micro frames absent")
    predictor, info = inference.build_predictor(settings(SAM2_DEMO_ONNX_DIR=str(micro_export)).model)
    assert (info.runtime, info.device, info.precision) == ("onnxruntime", "cpu", "fp32")
    assert info.config_file.endswith("sam2.1_hiera_micro.yaml")
    segmenter = inference.Segmenter(predictor, info, ComputeGate(1), wait_sec=30)
    state = segmenter.init_state(FRAMES)
    clicked = segmenter.add_points(state, 0, 1, np.array([[0.3, 0.4]]), np.array([1]), clear_old_points=True)
    assert clicked.frame_index == 0 and [obj for obj, _ in clicked.masks] == [1]
    assert clicked.masks[0][1]["size"] == [108, 192]
    assert segmenter.has_output(state, 1, 0) and not segmenter.has_output(state, 1, 3)
    tracked = list(segmenter.propagate(state, 0, reverse=False, max_frames=None))
    assert [m.frame_index for m in tracked] == list(range(10))
    assert segmenter.has_output(state, 1, 5)


def test_missing_export_folder_says_make_onnx(tmp_path):
    with pytest.raises(inference.ModelUnavailable, match="does not exist.*make onnx"):
        inference.build_predictor(settings(SAM2_DEMO_ONNX_DIR=str(tmp_path / "none")).model)


def test_random_weights_need_torch(micro_export):
    with pytest.raises(inference.ModelUnavailable, match="RANDOM_WEIGHTS=1 needs the torch runtime"):
        inference.build_predictor(
            settings(SAM2_DEMO_ONNX_DIR=str(micro_export), SAM2_DEMO_RANDOM_WEIGHTS="1").model
        )
