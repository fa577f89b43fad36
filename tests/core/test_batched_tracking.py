"""Objects of a frame are tracked in one batch: the result equals tracking each object alone."""

import numpy as np
import torch

from sam2.video.memory_bank import MemoryEntry, MemoryPolicy, group_by_layout

# (object id, frame, prompt): objects prompted on different frames have different memory
# layouts for a while, so the tracker must batch some and group others.
PROMPTS = [
    (1, 0, {"points": [[72, 62]], "labels": [1]}),
    (2, 0, {"box": [125, 45, 190, 72]}),
    (3, 3, {"points": [[40, 30], [60, 80]], "labels": [1, 0]}),
    (4, 0, {"mask": (slice(20, 60), slice(30, 90))}),
    (5, 6, {"points": [[150, 90]], "labels": [1]}),
]


def _prompt(predictor, state, obj_id, frame, prompt):
    if "mask" in prompt:
        mask = np.zeros((108, 192), dtype=bool)
        mask[prompt["mask"]] = True
        predictor.add_new_mask(state, frame, obj_id, mask)
    else:
        predictor.add_new_points_or_box(state, frame, obj_id, **prompt)


def _track(predictor, frames_dir, prompts, **kwargs):
    state = predictor.init_state(frames_dir)
    for obj_id, frame, prompt in prompts:
        _prompt(predictor, state, obj_id, frame, prompt)
    return {f: m.clone() for f, _, m in predictor.propagate_in_video(state, **kwargs)}


def test_batched_objects_equal_objects_tracked_alone(micro_video_predictor, golden_dir):
    predictor = micro_video_predictor
    frames_dir = str(golden_dir / "micro" / "frames")
    backward = {"start_frame_idx": 9, "reverse": True}
    for kwargs, checked in (({}, PROMPTS), (backward, PROMPTS[2:3] + PROMPTS[4:])):
        together = _track(predictor, frames_dir, PROMPTS, **kwargs)
        for prompt in checked:
            k = PROMPTS.index(prompt)
            alone = _track(predictor, frames_dir, [prompt], **kwargs)
            for frame, masks in alone.items():
                torch.testing.assert_close(together[frame][k : k + 1], masks, atol=1e-5, rtol=0,
                                           msg=lambda m, o=prompt[0], f=frame: f"object {o}, frame {f}: {m}")
            assert len(alone) > 0


def test_batched_object_counts_are_run_once_per_layout(micro_video_predictor, golden_dir):
    """Five objects on a frame cost one memory-attention call per memory layout, not five."""
    predictor = micro_video_predictor
    state = predictor.init_state(str(golden_dir / "micro" / "frames"))
    for obj_id, _, prompt in PROMPTS:
        _prompt(predictor, state, obj_id, 0, prompt)
    calls = []
    original = predictor.memory_attention.forward

    def counting(*args, **kwargs):
        calls.append(kwargs["curr"].shape[1])
        return original(*args, **kwargs)

    predictor.memory_attention.forward = counting
    try:
        list(predictor.propagate_in_video(state, max_frame_num_to_track=4))
    finally:
        del predictor.memory_attention.forward
    assert calls == [5, 5, 5, 5], calls


def test_group_by_layout_keeps_equal_layouts_together():
    policy = MemoryPolicy(num_maskmem=3, temporal_stride=1, max_cond_frames=-1, use_obj_ptrs=True,
                          max_obj_ptrs=4, only_past_ptrs_in_eval=True, signed_ptr_distance=False)
    entry = MemoryEntry(torch.zeros(1, 8), torch.zeros(1, 4, 2, 2), torch.zeros(1, 4, 2, 2))
    early = {0: entry}
    late = {3: entry}
    tracked = {t: entry for t in range(10)}
    selections = [
        policy.select(5, early, tracked, 10, False),
        policy.select(5, late, tracked, 10, False),
        policy.select(5, {0: entry}, tracked, 10, False),
    ]
    assert selections[0].layout != selections[1].layout
    assert group_by_layout(selections) == [[0, 2], [1]]


def test_official_track_step_still_runs_frame_by_frame(micro_video_predictor):
    """Code written against the official per-frame API keeps working (dict in, dict out)."""
    model = micro_video_predictor
    torch.manual_seed(1)
    images = torch.randn(2, 3, model.image_size, model.image_size)
    with torch.inference_mode():
        _, feats, pos, sizes = model._prepare_backbone_features(model.forward_image(images))
        output_dict = {"cond_frame_outputs": {}, "non_cond_frame_outputs": {}}
        points = {"point_coords": torch.tensor([[[100.0, 120.0]]]), "point_labels": torch.tensor([[1]])}
        for t in range(2):
            out = model.track_step(
                t, t == 0, [f[:, t : t + 1] for f in feats], [p[:, t : t + 1] for p in pos], sizes,
                points if t == 0 else None, None, output_dict, num_frames=2,
            )
            assert out["pred_masks"].shape == (1, 1, model.image_size // 4, model.image_size // 4)
            assert out["maskmem_features"].shape[:2] == (1, model.mem_dim) and len(out["maskmem_pos_enc"]) == 1
            assert out["obj_ptr"].shape == (1, model.hidden_dim) and out["object_score_logits"].shape == (1, 1)
            output_dict["cond_frame_outputs" if t == 0 else "non_cond_frame_outputs"][t] = out
        # the second frame attended to the first: without that memory its result differs
        alone = model.track_step(1, True, [f[:, 1:2] for f in feats], [p[:, 1:2] for p in pos], sizes,
                                 None, None, {"cond_frame_outputs": {}, "non_cond_frame_outputs": {}}, 2)
    assert not torch.equal(alone["object_score_logits"], out["object_score_logits"])
