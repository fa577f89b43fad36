"""A re-track runs only the objects whose memories changed: the others keep their outputs, and
every mask equals what running all of them again gives."""

import pytest
import torch

from sam2.video import tracking


def _session(predictor, frames_dir):
    state = predictor.init_state(frames_dir)
    for obj_id, point in ((1, [72, 62]), (2, [150, 60]), (3, [40, 100])):
        predictor.add_new_points_or_box(state, 0, obj_id, points=[point], labels=[1])
    return state


def _track(predictor, state, **kwargs):
    return {t: m.clone() for t, _, m in predictor.propagate_in_video(state, **kwargs)}


def _count_steps(monkeypatch, model):
    sizes = []
    step = type(model).step

    def counting(self, features, *args, **kwargs):
        if kwargs.get("conditioned") is not None:  # a tracked frame (not a prompt)
            sizes.append(kwargs["conditioned"].shape[0])
        return step(self, features, *args, **kwargs)

    monkeypatch.setattr(type(model), "step", counting)
    return sizes


@pytest.mark.parametrize("reverse", [False, True])
def test_a_click_on_one_object_retracks_that_object_alone(monkeypatch, micro_video_predictor, golden_dir, reverse):
    predictor = micro_video_predictor
    frames = str(golden_dir / "micro" / "frames")
    state = _session(predictor, frames)
    start = {} if not reverse else {"start_frame_idx": 5, "reverse": True}
    if reverse:  # a prompt at the end to track back from
        for obj_id, point in ((1, [72, 62]), (2, [150, 60]), (3, [40, 100])):
            predictor.add_new_points_or_box(state, 5, obj_id, points=[point], labels=[1])
    _track(predictor, state, max_frame_num_to_track=5, **start)
    mid = 2 if reverse else 3
    predictor.add_new_points_or_box(state, mid, 2, points=[[120, 80]], labels=[0], clear_old_points=False)

    sizes = _count_steps(monkeypatch, predictor)
    retracked = _track(predictor, state, max_frame_num_to_track=5, **start)
    assert sizes and max(sizes) == 1, f"only object 2 runs again, got batches {sizes}"

    monkeypatch.setattr(tracking, "_still_valid", lambda *a: None)  # run every object again
    everything = _track(predictor, state, max_frame_num_to_track=5, **start)
    assert retracked.keys() == everything.keys()
    for t in everything:
        assert torch.allclose(retracked[t], everything[t], atol=1e-5), t


def test_changed_memories_are_run_again(monkeypatch, micro_video_predictor, golden_dir):
    """A new prompt on an earlier frame changes the memories of every later frame of that object."""
    predictor = micro_video_predictor
    state = _session(predictor, str(golden_dir / "micro" / "frames"))
    _track(predictor, state, max_frame_num_to_track=4)
    before = [dict(track.outputs.tracked) for track in state.objects]
    predictor.add_new_points_or_box(state, 1, 1, points=[[60, 50]], labels=[1])
    _track(predictor, state, max_frame_num_to_track=4)
    changed, kept = (track.outputs.tracked for track in state.objects[:2])
    assert all(changed[t] is not before[0][t] for t in (2, 3, 4))
    assert all(kept[t] is before[1][t] for t in (1, 2, 3, 4))
