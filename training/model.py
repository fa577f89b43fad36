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
        _, feats, pos, sizes = sam._prepare_backbone_features(backbone)
        memory = {"cond_frame_outputs": {}, "non_cond_frame_outputs": {}}
        order = plan.init_cond_frames + [t for t in range(num_frames) if t not in plan.init_cond_frames]
        outputs: Dict[int, FrameOutput] = {}
        for t in order:
            # Frame t's features, repeated for each object: (HW, K, C).
            feats_t = [f[:, t:t + 1].expand(-1, num_obj, -1) for f in feats]
            pos_t = [p[:, t:t + 1].expand(-1, num_obj, -1) for p in pos]
            outputs[t], out = self._frame(t, plan, feats_t, pos_t, sizes, masks[t], memory, num_frames, gen)
            is_cond = t in plan.init_cond_frames or (self.prompts.add_corrected_as_cond and t in plan.frames_to_correct)
            memory["cond_frame_outputs" if is_cond else "non_cond_frame_outputs"][t] = out
        return [outputs[t] for t in range(num_frames)]

    def _frame(self, t, plan, feats_t, pos_t, sizes, gt, memory, num_frames, gen):
        sam, cfg = self.sam, self.prompts
        is_init = t in plan.init_cond_frames
        points, mask_in = None, None
        if is_init and plan.use_points:
            points = sample_box(gt, gen, cfg.box_noise, cfg.box_noise_bound) if plan.use_box else sample_first_click(gt, gen)
        elif is_init:
            mask_in = gt[:, None].float()
        out, sam_out, high_res_feats, pix_feat = sam._track_step(
            t, is_init, feats_t, pos_t, sizes, points, mask_in, memory, num_frames, False, None
        )
        # sam_out: (low-res multimasks, high-res multimasks, ious, low-res best, high-res best, obj_ptr, score)
        _, multimasks, ious, low, high, obj_ptr, obj_score = sam_out
        steps = [StepOutput(multimasks, ious, obj_score)]
        if t in plan.frames_to_correct:
            for _ in range(cfg.num_correction_clicks):
                pred = high[:, 0] > 0
                if bool(torch.rand(1, generator=gen) < cfg.prob_click_from_gt):
                    pred = torch.zeros_like(pred)
                # The click is a discrete choice: no gradient flows through where it lands.
                points = concat_points(points, sample_corrective_click(gt, pred.detach(), gen))
                sam_out = sam._forward_sam_heads(
                    backbone_features=pix_feat, point_inputs=points, mask_inputs=low,
                    high_res_features=high_res_feats, multimask_output=sam._use_multimask(is_init, points),
                )
                _, multimasks, ious, low, high, obj_ptr, obj_score = sam_out
                steps.append(StepOutput(multimasks, ious, obj_score))
        out["point_inputs"] = points
        out["pred_masks"], out["pred_masks_high_res"], out["obj_ptr"] = low, high, obj_ptr
        out["object_score_logits"] = obj_score
        sam._encode_memory_in_output(feats_t, sizes, points, True, high, obj_score, out)
        return FrameOutput(t, steps, high), out
