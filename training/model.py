"""SAM 2 in training mode: one clip in, per-frame, per-click-step outputs for the losses.

For a clip the image encoder runs once over all frames; then frames are processed in
order (prompted frames first, then the rest in time order), as the video predictor
would, but with simulated prompts (:mod:`training.prompts`) and with gradients flowing
through memory into earlier frames. The wrapper holds no parameters of its own, so
``wrapper.sam.state_dict()`` is exactly an official SAM 2 checkpoint.
"""

from dataclasses import dataclass
from typing import Dict, List, Optional

import torch
import torch.utils.checkpoint

from sam2.modeling.sam2_base import SAM2Base
from sam2.video.memory_bank import MemoryEntry, MemoryPolicy, build_memory_context
from training.prompts import (
    PromptConfig,
    PromptPlan,
    concat_points,
    plan_prompts,
    sample_box,
    sample_corrective_click,
    sample_first_click,
)


@dataclass
class StepOutput:
    """One prediction for K objects on one frame (a click step).

    multimasks: (K, M, S, S) logits at input resolution (M = 3 or 1);
    ious: (K, M) predicted IoUs; object_score_logits: (K, 1).
    """

    multimasks: torch.Tensor
    ious: torch.Tensor
    object_score_logits: torch.Tensor


@dataclass
class FrameOutput:
    frame_idx: int
    steps: List[StepOutput]
    final_logits: torch.Tensor  # (K, 1, S, S) of the last step


class SAM2Train(torch.nn.Module):
    def __init__(self, sam: SAM2Base, prompts: Optional[PromptConfig] = None, freeze_image_encoder: bool = False,
                 checkpoint_image_encoder: bool = False):
        super().__init__()
        self.sam = sam
        self.prompts = prompts or PromptConfig()
        self.freeze_image_encoder = freeze_image_encoder
        self.checkpoint_image_encoder = checkpoint_image_encoder
        if freeze_image_encoder:
            for p in sam.image_encoder.parameters():
                p.requires_grad_(False)

    def encode_frames(self, images: torch.Tensor) -> dict:
        """Image encoder over (T, 3, S, S) normalised frames."""
        if self.freeze_image_encoder:
            with torch.no_grad():
                return self.sam.forward_image(images)
        if self.checkpoint_image_encoder:
            # Keep only the encoder's inputs; recompute its activations in backward.
            out = torch.utils.checkpoint.checkpoint(
                lambda x: self._flat_backbone(self.sam.forward_image(x)), images, use_reentrant=False
            )
            return self._unflat_backbone(out)
        return self.sam.forward_image(images)

    @staticmethod
    def _flat_backbone(out: dict):
        return tuple(out["backbone_fpn"]) + tuple(out["vision_pos_enc"]) + (out["vision_features"],)

    @staticmethod
    def _unflat_backbone(flat) -> dict:
        n = (len(flat) - 1) // 2
        return {"backbone_fpn": list(flat[:n]), "vision_pos_enc": list(flat[n:2 * n]), "vision_features": flat[-1]}

    def forward(self, images: torch.Tensor, masks: torch.Tensor, gen: torch.Generator,
                plan: Optional[PromptPlan] = None) -> List[FrameOutput]:
        """images (T, 3, S, S) normalised; masks (T, K, S, S) bool ground truth.

        Returns one FrameOutput per frame, in frame order.
        """
        sam = self.sam
        num_frames, num_obj = masks.shape[:2]
        plan = plan or plan_prompts(num_frames, self.prompts, gen)
        backbone = self.encode_frames(images)
        # Memories of processed frames, by frame: prompted ("cond") and the others.
        cond: Dict[int, MemoryEntry] = {}
        tracked: Dict[int, MemoryEntry] = {}
        order = plan.init_cond_frames + [t for t in range(num_frames) if t not in plan.init_cond_frames]
        outputs: Dict[int, FrameOutput] = {}
        for t in order:
            # Frame t's features, repeated for each object: batch K.
            features = sam.frame_features(backbone, frame=t).expand(num_obj)
            memory = None
            if t not in plan.init_cond_frames:
                selection = MemoryPolicy.of(sam).select(t, cond, tracked, num_frames, False, training=sam.training)
                memory = build_memory_context(sam, [selection], num_frames, images.device)
            outputs[t], entry = self._frame(t, plan, features, memory, masks[t], gen)
            is_cond = t in plan.init_cond_frames or (self.prompts.add_corrected_as_cond and t in plan.frames_to_correct)
            (cond if is_cond else tracked)[t] = entry
        return [outputs[t] for t in range(num_frames)]

    def _frame(self, t, plan, features, memory, gt, gen):
        sam, cfg = self.sam, self.prompts
        is_init = t in plan.init_cond_frames
        points, mask_in = None, None
        if is_init and plan.use_points:
            points = sample_box(gt, gen, cfg.box_noise, cfg.box_noise_bound) if plan.use_box else sample_first_click(gt, gen)
        elif is_init:
            mask_in = gt[:, None].float()
        out = sam.step(features, memory, points, mask_in, is_init, run_memory_encoder=False)
        pred = out.prediction
        steps = [StepOutput(pred.multimask_high_res, pred.ious, pred.object_score_logits)]
        if t in plan.frames_to_correct:
            for _ in range(cfg.num_correction_clicks):
                wrong = pred.high_res_masks[:, 0] > 0
                if bool(torch.rand(1, generator=gen) < cfg.prob_click_from_gt):
                    wrong = torch.zeros_like(wrong)
                # The click is a discrete choice: no gradient flows through where it lands.
                points = concat_points(points, sample_corrective_click(gt, wrong.detach(), gen))
                pred = sam.predict_masks(
                    out.conditioned, features.high_res, points, pred.mask_logits,
                    multimask_output=sam.use_multimask(is_init, points),
                )
                steps.append(StepOutput(pred.multimask_high_res, pred.ious, pred.object_score_logits))
        memory_t = memory_pos = None
        if sam.num_maskmem > 0:
            memory_t, pos = sam.encode_memory(
                features, pred.high_res_masks, pred.object_score_logits, is_mask_from_pts=points is not None,
                non_overlapping=sam.non_overlap_masks_for_mem_enc and not sam.training,
            )
            memory_pos = pos[-1]
        return FrameOutput(t, steps, pred.high_res_masks), MemoryEntry(pred.obj_ptr, memory_t, memory_pos)
