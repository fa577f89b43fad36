"""The onnxruntime tracker's re-track reuse (the torch tracker's rule, sam2.video.retrack): after a
click on one object, a re-track runs that object alone, and every mask equals what running all
of them again gives."""

from pathlib import Path

import numpy as np
import pytest

from sam2.onnx.video_predictor import build_sam2_video_predictor_onnx

pytest.importorskip("onnxruntime")
FRAMES = Path(__file__).resolve().parents[2].parent / "shared" / "golden" / "micro" / "frames"
PROMPTS = ((1, [72, 62]), (2, [150, 60]), (3, [40, 100]))


@pytest.fixture(scope="module")
def predictor(micro_export):
    if not FRAMES.exists():
        pytest.skip("golden micro frames absent")
    return build_sam2_video_predictor_onnx(micro_export, threads=1)


def _track(predictor, state, **kwargs):
    return {t: m.copy() for t, _, m in predictor.propagate_in_video(state, **kwargs)}


def _count_batches(monkeypatch, predictor, real_run):
    """Batch sizes of the graph runs from now on, by graph name."""
    sizes = {}

    def counting(graph, **inputs):
        first = next(iter(inputs.values()))
        sizes.setdefault(graph, []).append(first.shape[0])
        return real_run(graph, **inputs)

    monkeypatch.setattr(predictor.model, "run", counting)
    return sizes


@pytest.mark.parametrize("reverse", [False, True])
def test_a_click_on_one_object_retracks_that_object_alone(monkeypatch, predictor, reverse):
    state = predictor.init_state(str(FRAMES))
    prompted = (0, 5) if reverse else (0,)
    for frame_idx in prompted:
        for obj_id, point in PROMPTS:
            predictor.add_new_points_or_box(state, frame_idx, obj_id, points=[point], labels=[1])
    start = {"start_frame_idx": 5, "reverse": True} if reverse else {}
    _track(predictor, state, max_frame_num_to_track=5, **start)
    mid = 2 if reverse else 3
    predictor.add_new_points_or_box(state, mid, 2, points=[[120, 80]], labels=[0], clear_old_points=False)

    real_run = predictor.model.run
    reused = _count_batches(monkeypatch, predictor, real_run)
    retracked = _track(predictor, state, max_frame_num_to_track=5, **start)
    assert reused["decoder"] and max(reused["decoder"]) == 1, f"only object 2 runs again: {reused}"
    assert max(reused["memory_attention"]) == 1, reused

    monkeypatch.setattr(predictor, "_still_valid", lambda *a: None)  # run every object again
    everything_runs = _count_batches(monkeypatch, predictor, real_run)
    everything = _track(predictor, state, max_frame_num_to_track=5, **start)
    assert max(everything_runs["decoder"]) == 3
    assert sum(reused["memory_attention"]) < sum(everything_runs["memory_attention"])
    assert retracked.keys() == everything.keys()
    for t in everything:
        np.testing.assert_allclose(retracked[t], everything[t], atol=1e-5, err_msg=f"frame {t}")


def test_changed_memories_are_run_again(predictor):
    """A new prompt on an earlier frame changes the memories of every later frame of that object."""
    state = predictor.init_state(str(FRAMES))
    for obj_id, point in PROMPTS:
        predictor.add_new_points_or_box(state, 0, obj_id, points=[point], labels=[1])
    _track(predictor, state, max_frame_num_to_track=4)
    before = [dict(track.outputs.tracked) for track in state.objects]
    predictor.add_new_points_or_box(state, 1, 1, points=[[60, 50]], labels=[1])
    _track(predictor, state, max_frame_num_to_track=4)
    changed, kept = (track.outputs.tracked for track in state.objects[:2])
    assert all(changed[t] is not before[0][t] for t in (2, 3, 4))
    assert all(kept[t] is before[1][t] for t in (1, 2, 3, 4))
