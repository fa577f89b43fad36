"""Simulated user prompts for training, drawn from the ground truth.

Coordinates are (x, y) in model-input pixels, as SAM's prompt encoder takes them; labels
follow SAM: 1 positive click, 0 negative click, 2/3 box corners (top-left, bottom-right).
All draws use a ``torch.Generator`` so a sample's prompts depend only on its seed.
"""

from dataclasses import dataclass, field
from typing import Dict, List, Optional

import torch

BOX_LABELS = (2, 3)


def _uniform_pixel(region: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Index (flat) of a uniformly drawn True pixel of ``region`` (H*W,) (must have one)."""
    return torch.multinomial(region.float(), 1, generator=gen)[0]


def sample_corrective_click(gt: torch.Tensor, pred: torch.Tensor, gen: torch.Generator) -> Dict[str, torch.Tensor]:
    """One click per object where the prediction is wrong, as a user would add it.

    gt, pred: (K, H, W) bool. The pixel is uniform over the error region (missed object
    pixels or wrongly included background); it is positive (1) where the object was missed
    and negative (0) where background was included. Where the prediction is already exact
    the click lands uniformly anywhere and takes the ground-truth label there.
    Returns {"point_coords": (K, 1, 2) float (x, y), "point_labels": (K, 1) int32}.
    """
    if gt.shape != pred.shape or gt.ndim != 3:
        raise ValueError(f"gt and pred must both be (K, H, W), got {tuple(gt.shape)} and {tuple(pred.shape)}")
    k, h, w = gt.shape
    coords = torch.zeros(k, 1, 2)
    labels = torch.zeros(k, 1, dtype=torch.int32)
    for i in range(k):
        g, p = gt[i].flatten().cpu(), pred[i].flatten().cpu()
        error = g ^ p
        region = error if bool(error.any()) else torch.ones_like(g)
        idx = int(_uniform_pixel(region, gen))
        coords[i, 0, 0], coords[i, 0, 1] = idx % w, idx // w
        labels[i, 0] = int(g[idx])
    return {"point_coords": coords.to(gt.device), "point_labels": labels.to(gt.device)}


def sample_first_click(gt: torch.Tensor, gen: torch.Generator) -> Dict[str, torch.Tensor]:
    """A positive click uniform inside each object (negative anywhere if it is absent)."""
    return sample_corrective_click(gt, torch.zeros_like(gt), gen)


def sample_box(gt: torch.Tensor, gen: torch.Generator, noise: float = 0.1, noise_bound: float = 20.0) -> Dict[str, torch.Tensor]:
    """Each object's bounding box with jittered corners, as two points labelled 2 and 3.

    The jitter of each coordinate is normal with std ``noise`` x box side, clipped to
    ``noise_bound`` pixels, and the box stays inside the image. An absent object gets the
    whole image as its box.
    """
    k, h, w = gt.shape
    boxes = torch.zeros(k, 4)
    for i in range(k):
        ys, xs = torch.nonzero(gt[i].cpu(), as_tuple=True)
        if len(xs):
            boxes[i] = torch.tensor([xs.min(), ys.min(), xs.max(), ys.max()], dtype=torch.float)
        else:
            boxes[i] = torch.tensor([0.0, 0.0, w - 1.0, h - 1.0])
    if noise > 0:
        side = torch.stack([boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]], 1).repeat(1, 2)
        std = (side * noise).clamp(max=noise_bound)
        jitter = (torch.randn(k, 4, generator=gen) * std).clamp(-noise_bound, noise_bound)
        boxes = boxes + jitter
    boxes[:, 0::2] = boxes[:, 0::2].clamp(0, w - 1)
    boxes[:, 1::2] = boxes[:, 1::2].clamp(0, h - 1)
    coords = boxes.view(k, 2, 2)
    labels = torch.tensor(BOX_LABELS, dtype=torch.int32).expand(k, 2).clone()
    return {"point_coords": coords.to(gt.device), "point_labels": labels.to(gt.device)}


def concat_points(a: Optional[Dict[str, torch.Tensor]], b: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    if a is None:
        return b
    return {
        "point_coords": torch.cat([a["point_coords"], b["point_coords"]], dim=1),
        "point_labels": torch.cat([a["point_labels"], b["point_labels"]], dim=1),
    }


@dataclass
class PromptPlan:
    """What the simulated user does on one clip.

    use_points: clicks/box on the conditioning frames (else their ground-truth masks).
    init_cond_frames: frames prompted up front (always includes frame 0).
    frames_to_correct: frames that get corrective clicks (empty without ``use_points``).
    """

    use_points: bool
    use_box: bool
    init_cond_frames: List[int]
    frames_to_correct: List[int] = field(default_factory=list)


@dataclass
class PromptConfig:
    prob_points: float = 0.5  # else a mask prompt
    prob_box: float = 0.5  # of the point prompts, a box instead of a click
    max_init_cond_frames: int = 2  # 1..this many frames prompted up front (random)
    max_frames_to_correct: int = 2  # corrected frames (random, at least the prompted ones)
    num_correction_clicks: int = 7  # corrective clicks per corrected frame
    prob_click_from_gt: float = 0.1  # a corrective click ignores the prediction
    add_corrected_as_cond: bool = True  # corrected frames become conditioning frames
    box_noise: float = 0.1
    box_noise_bound: float = 20.0


def _randint(low: int, high: int, gen: torch.Generator) -> int:
    """Uniform integer in [low, high]."""
    return int(torch.randint(low, high + 1, (1,), generator=gen))


def plan_prompts(num_frames: int, cfg: PromptConfig, gen: torch.Generator) -> PromptPlan:
    """Draw the prompt plan of a clip of ``num_frames`` frames."""
    use_points = bool(torch.rand(1, generator=gen) < cfg.prob_points)
    use_box = use_points and bool(torch.rand(1, generator=gen) < cfg.prob_box)
    n_cond = _randint(1, max(1, min(cfg.max_init_cond_frames, num_frames)), gen)
    others = torch.randperm(num_frames - 1, generator=gen)[: n_cond - 1] + 1 if num_frames > 1 else torch.zeros(0)
    init_cond = [0] + sorted(int(t) for t in others)
    corrected: List[int] = []
    if use_points and cfg.num_correction_clicks > 0:
        n_correct = _randint(min(n_cond, cfg.max_frames_to_correct), max(n_cond, cfg.max_frames_to_correct), gen)
        rest = [t for t in range(num_frames) if t not in init_cond]
        extra = torch.randperm(len(rest), generator=gen)[: max(0, n_correct - n_cond)]
        corrected = sorted(init_cond[:n_correct] + [rest[int(i)] for i in extra])
    return PromptPlan(use_points, use_box, init_cond, corrected)
