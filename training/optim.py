"""Optimiser and learning-rate schedule of the SAM 2 recipe.

AdamW with parameter groups: the image encoder gets its own learning rate, decayed layer
by layer (the last Hiera block at ``vision_lr``, each earlier one ``layer_decay`` times
less); norms, biases and embeddings get no weight decay. The schedule is a linear warm-up
followed by a cosine decay to ``min_lr_ratio`` x the peak, a pure function of the step.
"""

import math
import re
from typing import Dict, List

import torch

# Parameters that are embeddings or tokens (no weight decay), matched on their last name part.
_EMBEDDING_NAMES = re.compile(
    r"(pos_embed|pos_embed_window|no_mem_embed|no_mem_pos_enc|maskmem_tpos_enc|no_obj_ptr|no_obj_embed_spatial"
    r"|point_embeddings\.\d+\.weight|not_a_point_embed\.weight|no_mask_embed\.weight|iou_token\.weight"
    r"|mask_tokens\.weight|obj_score_token\.weight)$"
)


def is_no_decay(name: str, param: torch.Tensor) -> bool:
    """Biases, norm weights (1-D) and embeddings are not weight-decayed."""
    return param.ndim <= 1 or name.endswith(".bias") or bool(_EMBEDDING_NAMES.search(name))


def encoder_layer_id(name: str, num_blocks: int) -> int:
    """0 for the patch embedding, i+1 for Hiera block i, num_blocks+1 for the neck."""
    match = re.match(r"image_encoder\.trunk\.blocks\.(\d+)\.", name)
    if match:
        return int(match.group(1)) + 1
    if name.startswith("image_encoder.trunk."):
        return 0
    return num_blocks + 1


def param_groups(model: torch.nn.Module, lr: float, vision_lr: float, layer_decay: float,
                 weight_decay: float) -> List[Dict]:
    """AdamW groups for a SAM2Base. Each group remembers its peak ``base_lr``."""
    names = [n for n, _ in model.named_parameters()]
    num_blocks = len({m.group(1) for n in names if (m := re.match(r"image_encoder\.trunk\.blocks\.(\d+)\.", n))})
    groups: Dict[tuple, Dict] = {}
    for name, param in model.named_parameters():
        if not param.requires_grad:
            continue
        decay = 0.0 if is_no_decay(name, param) else weight_decay
        if name.startswith("image_encoder."):
            layer = encoder_layer_id(name, num_blocks)
            group_lr = vision_lr * layer_decay ** (num_blocks + 1 - layer)
            key = ("encoder", layer, decay)
        else:
            group_lr, key = lr, ("heads", 0, decay)
        group = groups.setdefault(key, {"params": [], "names": [], "lr": group_lr, "base_lr": group_lr,
                                        "weight_decay": decay})
        group["params"].append(param)
        group["names"].append(name)
    return [groups[k] for k in sorted(groups, key=str)]


def build_optimizer(model: torch.nn.Module, cfg) -> torch.optim.Optimizer:
    groups = param_groups(model, cfg.lr, cfg.get("vision_lr", cfg.lr), cfg.get("layer_decay", 1.0),
                          cfg.get("weight_decay", 0.1))
    for g in groups:
        g.pop("names")
    return torch.optim.AdamW(groups, lr=cfg.lr, betas=tuple(cfg.get("betas", (0.9, 0.999))))


def lr_factor(step: int, total_steps: int, warmup_steps: int, min_lr_ratio: float) -> float:
    """Multiplier of the peak learning rate at ``step`` (0-based)."""
    if warmup_steps > 0 and step < warmup_steps:
        return (step + 1) / warmup_steps
    span = max(1, total_steps - warmup_steps)
    progress = min(1.0, (step - warmup_steps) / span)
    return min_lr_ratio + (1 - min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * progress))


def set_lr(optimizer: torch.optim.Optimizer, factor: float) -> None:
    for g in optimizer.param_groups:
        g["lr"] = g["base_lr"] * factor
