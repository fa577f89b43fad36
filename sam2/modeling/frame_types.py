"""Typed inputs and outputs of SAM 2's per-frame step (see :class:`sam2.modeling.sam2_base.SAM2Base`).

The model works on one frame for a batch of B objects; everything a frame needs from other
frames arrives as a :class:`MemoryContext`, built by whoever keeps the memories (the video
predictor's memory bank, or the training loop).
"""

from dataclasses import dataclass
from typing import List, Optional, Tuple

import torch
import torch.nn.functional as F


@dataclass
class FrameFeatures:
    """Image features of one frame, laid out for the heads.

    tokens, pos: (HW, B, C) lowest-resolution tokens and their position encoding;
    size: (H, W) of that level; high_res: the finer levels [(B, C0, 4H, 4W), (B, C1, 2H, 2W)]
    already projected for the mask decoder, or None when the model does not use them.
    """

    tokens: torch.Tensor
    pos: torch.Tensor
    size: Tuple[int, int]
    high_res: Optional[List[torch.Tensor]] = None

    @property
    def batch(self) -> int:
        return self.tokens.size(1)

    def as_map(self) -> torch.Tensor:
        """The tokens as a (B, C, H, W) feature map."""
        return self.tokens.permute(1, 2, 0).reshape(self.batch, -1, *self.size)

    def expand(self, batch: int) -> "FrameFeatures":
        """The same frame for ``batch`` objects (views, no copies). Needs batch 1 or ``batch``."""
        if self.batch == batch:
            return self
        high = None if self.high_res is None else [h.expand(batch, -1, -1, -1) for h in self.high_res]
        return FrameFeatures(
            self.tokens.expand(-1, batch, -1), self.pos.expand(-1, batch, -1), self.size, high
        )


@dataclass
class MemoryContext:
    """What a frame attends to: memory tokens (M, B, mem_dim) and their position encoding.

    The last ``num_pointer_tokens`` tokens are object pointers (they get no RoPE).
    """

    tokens: torch.Tensor
    pos: torch.Tensor
    num_pointer_tokens: int = 0


@dataclass
class MaskPrediction:
    """Output of the prompt encoder + mask decoder for B objects.

    multimask_logits (B, M, S/4, S/4) and multimask_high_res (B, M, S, S): every candidate;
    ious (B, M); mask_logits (B, 1, S/4, S/4) and high_res_masks (B, 1, S, S): the chosen
    candidate (best predicted IoU when several); obj_ptr (B, C); object_score_logits (B, 1).
    """

    multimask_logits: torch.Tensor
    ious: torch.Tensor
    mask_logits: torch.Tensor
    high_res_masks: torch.Tensor
    obj_ptr: torch.Tensor
    object_score_logits: torch.Tensor
    multimask_high_res_given: Optional[torch.Tensor] = None

    @property
    def multimask_high_res(self) -> torch.Tensor:
        """Every candidate upsampled to (S, S): computed when asked (tracking never needs it)."""
        if self.multimask_high_res_given is None:
            self.multimask_high_res_given = F.interpolate(
                self.multimask_logits, size=self.high_res_masks.shape[-2:], mode="bilinear", align_corners=False
            )
        return self.multimask_high_res_given


@dataclass
class FrameOutput:
    """One frame's result for B objects.

    conditioned: (B, C, H, W) memory-conditioned features the heads ran on;
    memory: (B, mem_dim, H, W) new memory of the frame and memory_pos its position encoding
    (one per level, usually one), both None when the memory encoder did not run.
    """

    prediction: MaskPrediction
    conditioned: torch.Tensor
    memory: Optional[torch.Tensor] = None
    memory_pos: Optional[List[torch.Tensor]] = None

    @property
    def mask_logits(self) -> torch.Tensor:
        return self.prediction.mask_logits

    @property
    def high_res_masks(self) -> torch.Tensor:
        return self.prediction.high_res_masks

    @property
    def obj_ptr(self) -> torch.Tensor:
        return self.prediction.obj_ptr

    @property
    def object_score_logits(self) -> torch.Tensor:
        return self.prediction.object_score_logits
