"""Simulated prompts: first clicks, corrective clicks, boxes and the per-clip plan."""

import torch

from training.prompts import (
    PromptConfig,
    concat_points,
    plan_prompts,
    sample_box,
    sample_corrective_click,
    sample_first_click,
)


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


def square(h=20, w=30, box=(5, 10, 8, 16)):
    """(1, h, w) mask with rows y0:y1 and columns x0:x1 set; box = (y0, y1, x0, x1)."""
    m = torch.zeros(1, h, w, dtype=torch.bool)
    m[0, box[0]:box[1], box[2]:box[3]] = True
    return m


def test_first_click_is_a_positive_pixel_of_the_object():
    gt = square()
    for seed in range(20):
        p = sample_first_click(gt, gen(seed))
        x, y = (int(v) for v in p["point_coords"][0, 0])
        assert gt[0, y, x] and p["point_labels"][0, 0] == 1
        assert p["point_coords"].shape == (1, 1, 2) and p["point_labels"].dtype == torch.int32


def test_first_click_on_an_absent_object_is_negative():
    p = sample_first_click(torch.zeros(1, 8, 8, dtype=torch.bool), gen())
    assert p["point_labels"][0, 0] == 0


def test_corrective_click_lands_in_the_error_and_is_labelled_by_it():
    gt = square(box=(0, 10, 0, 10))
    pred = square(box=(5, 15, 5, 15))
    seen = set()
    for seed in range(60):
        p = sample_corrective_click(gt, pred, gen(seed))
        x, y = (int(v) for v in p["point_coords"][0, 0])
        label = int(p["point_labels"][0, 0])
        assert bool(gt[0, y, x]) != bool(pred[0, y, x])  # inside the error region
        assert label == int(gt[0, y, x])  # missed object -> positive, extra background -> negative
        seen.add(label)
    assert seen == {0, 1}


def test_corrective_click_when_prediction_is_exact():
    gt = square()
    p = sample_corrective_click(gt, gt.clone(), gen())
    x, y = (int(v) for v in p["point_coords"][0, 0])
    assert int(p["point_labels"][0, 0]) == int(gt[0, y, x])


def test_clicks_are_reproducible_from_the_seed_and_per_object():
    gt = torch.cat([square(), square(box=(1, 3, 1, 3))])
    a = sample_corrective_click(gt, torch.zeros_like(gt), gen(7))
    b = sample_corrective_click(gt, torch.zeros_like(gt), gen(7))
    assert torch.equal(a["point_coords"], b["point_coords"])
    x, y = (int(v) for v in a["point_coords"][1, 0])
    assert 1 <= x < 3 and 1 <= y < 3


def test_box_without_noise_is_the_bounding_box():
    p = sample_box(square(box=(5, 10, 8, 16)), gen(), noise=0.0)
    assert p["point_coords"][0].tolist() == [[8.0, 5.0], [15.0, 9.0]]
    assert p["point_labels"][0].tolist() == [2, 3]


def test_box_noise_is_bounded_and_stays_in_the_image():
    gt = square(h=100, w=100, box=(10, 90, 10, 90))
    for seed in range(20):
        p = sample_box(gt, gen(seed), noise=0.5, noise_bound=5.0)
        c = p["point_coords"][0]
        exact = torch.tensor([[10.0, 10.0], [89.0, 89.0]])
        assert (c - exact).abs().max() <= 5.0 + 1e-6
        assert c.min() >= 0 and c.max() <= 99


def test_concat_points():
    a = sample_first_click(square(), gen())
    both = concat_points(a, a)
    assert both["point_coords"].shape == (1, 2, 2) and both["point_labels"].shape == (1, 2)
    assert concat_points(None, a) is a


def test_plan_rules():
    cfg = PromptConfig(prob_points=0.5, max_init_cond_frames=2, max_frames_to_correct=3, num_correction_clicks=2)
    kinds = set()
    for seed in range(100):
        plan = plan_prompts(8, cfg, gen(seed))
        assert plan.init_cond_frames[0] == 0 and 1 <= len(plan.init_cond_frames) <= 2
        assert len(set(plan.init_cond_frames)) == len(plan.init_cond_frames)
        if plan.use_points:
            assert set(plan.init_cond_frames) <= set(plan.frames_to_correct)
            assert len(plan.frames_to_correct) <= 3
        else:
            assert plan.frames_to_correct == [] and not plan.use_box
        kinds.add((plan.use_points, plan.use_box))
    assert kinds == {(False, False), (True, False), (True, True)}


def test_plan_for_single_frame_and_masks_only():
    plan = plan_prompts(1, PromptConfig(prob_points=0.0), gen())
    assert plan.init_cond_frames == [0] and not plan.use_points
