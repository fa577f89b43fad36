"""Each loss term against a direct, element-by-element computation."""

import math

import torch

from training.losses import LossWeights, actual_iou, clip_loss, dice_loss, focal_loss, step_losses
from training.model import FrameOutput, StepOutput


def naive_focal(logit: float, target: float, alpha=0.25, gamma=2.0) -> float:
    p = 1 / (1 + math.exp(-logit))
    ce = -(target * math.log(p) + (1 - target) * math.log(1 - p))
    p_t = p if target == 1 else 1 - p
    a_t = alpha if target == 1 else 1 - alpha
    return a_t * (1 - p_t) ** gamma * ce


def test_focal_loss_matches_the_formula():
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(2, 3, 4, 5, generator=g) * 3
    targets = (torch.rand(2, 3, 4, 5, generator=g) > 0.5).float()
    got = focal_loss(logits, targets)
    for k in range(2):
        for m in range(3):
            vals = [naive_focal(float(v), float(t)) for v, t in zip(logits[k, m].flatten(), targets[k, m].flatten())]
            assert abs(float(got[k, m]) - sum(vals) / len(vals)) < 1e-6


def test_dice_loss_matches_the_formula():
    logits = torch.tensor([[[[0.0, 2.0], [-1.0, 3.0]]]])
    targets = torch.tensor([[[[0.0, 1.0], [0.0, 1.0]]]])
    p = [1 / (1 + math.exp(-v)) for v in (0.0, 2.0, -1.0, 3.0)]
    t = [0, 1, 0, 1]
    expected = 1 - (2 * sum(a * b for a, b in zip(p, t)) + 1) / (sum(p) + sum(t) + 1)
    assert abs(float(dice_loss(logits, targets)[0, 0]) - expected) < 1e-6


def test_actual_iou():
    logits = torch.tensor([[[[1.0, 1.0], [-1.0, -1.0]]], [[[-1.0, -1.0], [-1.0, -1.0]]]])
    targets = torch.tensor([[[[1.0, 0.0], [1.0, 0.0]]], [[[0.0, 0.0], [0.0, 0.0]]]])
    assert torch.allclose(actual_iou(logits, targets), torch.tensor([[1 / 3], [0.0]]))


def _step(masks, ious, score):
    return StepOutput(masks, ious, score)


def test_step_supervises_only_the_best_of_several_masks():
    target = torch.zeros(1, 1, 8, 8)
    target[0, 0, 2:6, 2:6] = 1
    perfect = (target * 2 - 1) * 20  # sure and right
    wrong = -perfect
    masks = torch.cat([wrong, perfect, torch.zeros_like(perfect)], dim=1)  # (1, 3, 8, 8)
    ious = torch.tensor([[0.2, 0.9, 0.5]])
    w = LossWeights()
    losses = step_losses(_step(masks, ious, torch.tensor([[3.0]])), target, w)
    assert float(losses["mask"]) == float(focal_loss(perfect, target)[0, 0])
    assert float(losses["dice"]) == float(dice_loss(perfect, target)[0, 0])
    true_ious = torch.tensor([0.0, 1.0, 0.0])  # zero logits are not > 0: an empty mask
    assert abs(float(losses["iou"]) - float((ious[0] - true_ious).abs().mean())) < 1e-6
    bce = -math.log(1 / (1 + math.exp(-3.0)))
    assert abs(float(losses["object_score"]) - bce) < 1e-6
    only_best = step_losses(_step(masks, ious, torch.tensor([[3.0]])), target, LossWeights(supervise_all_iou=False))
    assert abs(float(only_best["iou"]) - 0.1) < 1e-6


def test_absent_object_gets_only_the_object_score_loss():
    target = torch.zeros(1, 1, 8, 8)
    masks = torch.randn(1, 1, 8, 8)
    losses = step_losses(_step(masks, torch.tensor([[0.7]]), torch.tensor([[-2.0]])), target, LossWeights())
    assert float(losses["mask"]) == 0 and float(losses["dice"]) == 0 and float(losses["iou"]) == 0
    assert abs(float(losses["object_score"]) + math.log(1 - 1 / (1 + math.exp(2.0)))) < 1e-6


def test_clip_loss_sums_steps_and_frames_and_divides_by_objects():
    g = torch.Generator().manual_seed(1)
    masks = torch.rand(2, 2, 8, 8, generator=g) > 0.5  # T=2, K=2
    frames = []
    expected = {"mask": 0.0, "dice": 0.0, "iou": 0.0, "object_score": 0.0}
    for t, n_steps in ((0, 2), (1, 1)):
        steps = [_step(torch.randn(2, 1, 8, 8, generator=g), torch.rand(2, 1, generator=g),
                       torch.randn(2, 1, generator=g)) for _ in range(n_steps)]
        for s in steps:
            for k, v in step_losses(s, masks[t][:, None].float(), LossWeights()).items():
                expected[k] += float(v)
        frames.append(FrameOutput(t, steps, steps[-1].multimasks))
    got = clip_loss(frames, masks, LossWeights())
    for k in expected:
        assert abs(float(got[k]) - expected[k] / 2) < 1e-5
    total = 20 * expected["mask"] + expected["dice"] + expected["iou"] + expected["object_score"]
    assert abs(float(got["total"]) - total / 2) < 1e-4
