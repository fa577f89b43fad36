"""The onnxruntime predictors: golden parity (micro), streaming, and running without torch."""

import importlib.util
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from sam2.onnx.image_predictor import build_sam2_image_predictor_onnx
from sam2.onnx.video_predictor import build_sam2_video_predictor_onnx

pytest.importorskip("onnxruntime")
REPO = Path(__file__).resolve().parents[2]
GOLDEN = REPO.parent / "shared" / "golden"


def _replay_tool():
    spec = importlib.util.spec_from_file_location("replay_onnx_tool", REPO / "tools" / "replay_onnx.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_golden_micro_replays_through_onnxruntime(micro_export):
    """Every image and video step of the micro fixture, with the fixture's own tolerances."""
    if not (GOLDEN / "micro" / "steps.json").exists():
        pytest.skip("golden fixtures (../shared/golden) are absent")
    lines = []
    failed = _replay_tool().run(str(GOLDEN / "micro"), export_dir=str(micro_export), log=lines.append)
    assert failed == 0, "\n".join(lines)
    assert lines[-1] == "32 passed, 0 failed"


def _frames(n=5, h=48, w=64):
    yy, xx = np.mgrid[0:h, 0:w]
    return [
        np.stack([(xx * 4 + i * 9) % 256, (yy * 5) % 256, np.full_like(xx, 40 * i)], -1).astype(np.uint8)
        for i in range(n)
    ]


def test_stream_tracks_like_the_torch_stream(micro_export, micro_model):
    """init_stream / track_new_frame against the torch predictor's (a stream's pointer encodings
    depend on the frames received so far, so it is compared with a torch stream, not a file)."""
    frames = _frames()
    predictor = build_sam2_video_predictor_onnx(micro_export, threads=1)
    stream = predictor.init_stream(frames[0])
    torch_stream = micro_model.init_stream(frames[0])
    for p, s in ((predictor, stream), (micro_model, torch_stream)):
        p.add_new_points_or_box(s, 0, 1, points=[[30, 20]], labels=[1])
        p.add_new_points_or_box(s, 0, 2, box=[5, 5, 40, 30])
    for frame in frames[1:]:
        idx, ids, got = predictor.track_new_frame(stream, frame)
        t_idx, t_ids, expected = micro_model.track_new_frame(torch_stream, frame)
        assert (idx, ids) == (t_idx, t_ids)
        expected = expected.numpy()
        assert got.shape == expected.shape == (2, 1, 48, 64)
        np.testing.assert_allclose(got, expected, atol=1e-2)


def test_image_predictor_shapes_and_errors(micro_export):
    predictor = build_sam2_image_predictor_onnx(micro_export)
    with pytest.raises(RuntimeError, match="set_image"):
        predictor.predict(point_coords=[[1, 1]], point_labels=[1])
    predictor.set_image(_frames(1, 60, 90)[0])
    masks, ious, low = predictor.predict(point_coords=np.array([[40, 30]]), point_labels=np.array([1]))
    assert masks.shape == (3, 60, 90) and ious.shape == (3,) and low.shape == (3, 64, 64)
    assert masks.dtype == np.float32 and set(np.unique(masks)) <= {0.0, 1.0}
    masks, _, _ = predictor.predict(box=np.array([[1, 2, 40, 50], [10, 10, 80, 50]]), multimask_output=False)
    assert masks.shape == (2, 1, 60, 90)


NO_TORCH = """
import sys
class _Blocker:
    def find_spec(self, name, path=None, target=None):
        if name == "torch" or name.startswith("torch."):
            raise ImportError("torch is blocked in this test")
sys.meta_path.insert(0, _Blocker())
from sam2.onnx.video_predictor import build_sam2_video_predictor_onnx
from sam2.onnx.image_predictor import build_sam2_image_predictor_onnx
predictor = build_sam2_video_predictor_onnx(EXPORT)
state = predictor.init_state(VIDEO)
predictor.add_new_points_or_box(state, frame_idx=0, obj_id=1, points=[[30, 20]], labels=[1])
masks = {f: (m > 0) for f, _, m in predictor.propagate_in_video(state)}
assert sorted(masks) == list(range(state["num_frames"])), sorted(masks)
image = build_sam2_image_predictor_onnx(EXPORT)
image.set_image(predictor_frame := __import__("numpy").zeros((40, 50, 3), "uint8"))
image.predict(point_coords=[[10, 10]], point_labels=[1])
assert not any(m == "torch" or m.startswith("torch.") for m in sys.modules)
print("tracked without torch:", len(masks), "frames")
"""


def test_runtime_imports_no_torch(micro_export, tmp_path):
    from PIL import Image

    for i, f in enumerate(_frames(4)):
        Image.fromarray(f).save(tmp_path / f"{i}.jpg")
    code = f"EXPORT = {str(micro_export)!r}\nVIDEO = {str(tmp_path)!r}\n" + NO_TORCH
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "tracked without torch: 4 frames" in out.stdout


def test_click_on_a_tracked_frame_reuses_conditioned_features(micro_export, monkeypatch):
    """Like the torch tracker: memory attention is skipped while the memories are unchanged,
    and the click's masks are the same as without the cache."""
    if not (GOLDEN / "micro" / "frames").exists():
        pytest.skip("golden fixtures (../shared/golden) are absent")
    predictor = build_sam2_video_predictor_onnx(micro_export, threads=1)
    real_run = predictor.model.run
    results = {}
    for cached in (True, False):
        state = predictor.init_state(str(GOLDEN / "micro" / "frames"))
        predictor.add_new_points_or_box(state, 0, 1, points=[[60, 40]], labels=[1])
        list(predictor.propagate_in_video(state))
        if not cached:
            state.conditioned.clear()
        runs = []

        def counting_run(graph, _runs=runs, **kw):
            _runs.append(graph)
            return real_run(graph, **kw)

        monkeypatch.setattr(predictor.model, "run", counting_run)
        results[cached] = predictor.add_new_points_or_box(state, 5, 1, points=[[70, 50]], labels=[1])[2]
        monkeypatch.setattr(predictor.model, "run", real_run)
        assert ("memory_attention" in runs) == (not cached) and "decoder" in runs
    np.testing.assert_array_equal(results[True], results[False])
