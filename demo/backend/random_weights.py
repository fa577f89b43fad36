"""Random weights that still show masks: for the demo without a checkpoint, its tests and tools."""

from __future__ import annotations

import torch


def favour_present_objects(model: torch.nn.Module) -> None:
    """Bias the object-score head of `model` (a SAM 2 predictor) towards "object present".

    Random weights score objects present or absent by chance, and absent ones get empty masks;
    biased like the golden fixtures' weights, a random-weights demo shows a mask wherever one
    clicks, whatever the seed.
    """
    head = getattr(model.sam_mask_decoder, "pred_obj_score_head", None)
    if head is None:
        return
    last = head.layers[-1] if hasattr(head, "layers") else head
    with torch.no_grad():
        last.weight.mul_(0.1)
        last.bias.fill_(2.0)
