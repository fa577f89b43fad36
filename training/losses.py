"""The SAM 2 training loss, one function per term plus their combination.

Per click step on a frame, for K objects with M candidate masks each:
  focal (weight 20) and dice (1) on the mask logits at input resolution,
  L1 (1) between the predicted IoU and the IoU the mask really has,
  binary cross-entropy (1) on the object score (is the object on this frame?).
With M > 1 only the candidate with the lowest 20*focal + dice is supervised (its IoU
prediction too, unless ``supervise_all_iou``). Mask, dice and IoU terms count only on
frames where the object is present; the object-score term counts everywhere. Terms are
summed over steps and frames and divided by the number of objects.
"""

from dataclasses import dataclass
from typing import Dict, List

import torch
import torch.nn.functional as F

from training.model import FrameOutput, StepOutput


@dataclass
class LossWeights:
    mask: float = 20.0
    dice: float = 1.0
    iou: float = 1.0
    object_score: float = 1.0
    focal_alpha: float = 0.25
    focal_gamma: float = 2.0
    supervise_all_iou: bool = True


def focal_loss(logits: torch.Tensor, targets: torch.Tensor, alpha: float = 0.25, gamma: float = 2.0) -> torch.Tensor:
    """Sigmoid focal loss averaged over pixels: (K, M, H, W) -> (K, M). alpha < 0 turns off weighting."""
    p = logits.sigmoid()
    ce = F.binary_cross_entropy_with_logits(logits, targets, reduction="none")
    p_true = p * targets + (1 - p) * (1 - targets)
    loss = ce * (1 - p_true) ** gamma
    if alpha >= 0:
        loss = loss * (alpha * targets + (1 - alpha) * (1 - targets))
    return loss.flatten(2).mean(-1)


def dice_loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """1 - soft Dice with +1 smoothing: (K, M, H, W) -> (K, M)."""
    p = logits.sigmoid().flatten(2)
    t = targets.flatten(2)
    return 1 - (2 * (p * t).sum(-1) + 1) / (p.sum(-1) + t.sum(-1) + 1)


def actual_iou(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """IoU of the thresholded masks (logit > 0) with the targets: (K, M, H, W) -> (K, M); 0/0 counts as 0."""
    pred = logits.flatten(2) > 0
    gt = targets.flatten(2) > 0
    inter = (pred & gt).sum(-1).float()
    union = (pred | gt).sum(-1).float()
    return inter / union.clamp(min=1)


def step_losses(step: StepOutput, target: torch.Tensor, w: LossWeights) -> Dict[str, torch.Tensor]:
    """Unnormalised loss terms (summed over objects) of one step. target: (K, 1, S, S) float."""
    masks = step.multimasks.float()
    targets = target.expand_as(masks)
    focal = focal_loss(masks, targets, w.focal_alpha, w.focal_gamma)
    dice = dice_loss(masks, targets)
    iou_l1 = (step.ious.float() - actual_iou(masks, targets)).abs()
    present = (target.flatten(1) > 0).any(-1).float()  # (K,)
    if masks.size(1) > 1:
        best = torch.argmin(focal * w.mask + dice * w.dice, dim=1, keepdim=True)
        focal, dice = focal.gather(1, best), dice.gather(1, best)
        iou_l1 = iou_l1.mean(1, keepdim=True) if w.supervise_all_iou else iou_l1.gather(1, best)
    score = step.object_score_logits.float().view(-1)
    bce = F.binary_cross_entropy_with_logits(score, present, reduction="none")
    return {
        "mask": (focal[:, 0] * present).sum(),
        "dice": (dice[:, 0] * present).sum(),
        "iou": (iou_l1[:, 0] * present).sum(),
        "object_score": bce.sum(),
    }


def clip_loss(frames: List[FrameOutput], masks: torch.Tensor, w: LossWeights) -> Dict[str, torch.Tensor]:
    """Loss terms and their weighted ``total`` for one clip, per object.

    masks: (T, K, S, S) bool ground truth.
    """
    num_obj = masks.shape[1]
    terms = {k: masks.new_zeros((), dtype=torch.float) for k in ("mask", "dice", "iou", "object_score")}
    for frame in frames:
        target = masks[frame.frame_idx][:, None].float()
        for step in frame.steps:
            for k, v in step_losses(step, target, w).items():
                terms[k] = terms[k] + v
    terms = {k: v / num_obj for k, v in terms.items()}
    terms["total"] = (w.mask * terms["mask"] + w.dice * terms["dice"] + w.iou * terms["iou"]
                      + w.object_score * terms["object_score"])
    return terms
