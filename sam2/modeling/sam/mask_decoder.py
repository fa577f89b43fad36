"""Mask decoder: predicts mask logits, IoU scores and an object score from prompt tokens.

Learned output tokens (optional object-score token, IoU token, 1 + num_multimask_outputs
mask tokens) are prepended to the prompt tokens and run through the two-way transformer
with the image embedding. Each mask token then becomes, through its own small MLP, a
vector of weights that is dotted with every pixel of the upscaled image embedding (4x
the embedding grid) to give that mask's logits.

Token 0 of the masks is the single-mask output; tokens 1..3 the multimask outputs.
"""

import torch
from torch import nn

from sam2.modeling.sam2_utils import MLP, LayerNorm2d


class MaskDecoder(nn.Module):
    def __init__(
        self,
        *,
        transformer_dim: int,
        transformer: nn.Module,
        num_multimask_outputs: int = 3,
        activation: type[nn.Module] = nn.GELU,
        iou_head_depth: int = 3,
        iou_head_hidden_dim: int = 256,
        use_high_res_features: bool = False,
        iou_prediction_use_sigmoid: bool = False,
        dynamic_multimask_via_stability: bool = False,
        dynamic_multimask_stability_delta: float = 0.05,
        dynamic_multimask_stability_thresh: float = 0.98,
        pred_obj_scores: bool = False,
        pred_obj_scores_mlp: bool = False,
        use_multimask_token_for_obj_ptr: bool = False,
    ) -> None:
        """
        transformer_dim: channel width C of tokens and image embedding.
        transformer: the two-way transformer (image, image_pe, tokens) -> (tokens, image).
        num_multimask_outputs: masks produced in multimask mode (plus one single mask).
        activation: activation class of the upscaling path.
        iou_head_depth / iou_head_hidden_dim: the IoU-prediction MLP.
        use_high_res_features: add stride-4 and stride-8 backbone features while upscaling.
        iou_prediction_use_sigmoid: squash IoU predictions to (0, 1).
        dynamic_multimask_via_stability (+ delta, thresh): in single-mask mode at eval,
            fall back to the best multimask output when the single mask is unstable.
        pred_obj_scores / pred_obj_scores_mlp: predict an "object present" logit with an
            extra token, through a Linear or a 3-layer MLP.
        use_multimask_token_for_obj_ptr: in multimask mode, return the multimask tokens
            (for object pointers) instead of the single-mask token.
        """
        super().__init__()
        self.transformer_dim = transformer_dim
        self.transformer = transformer
        self.num_multimask_outputs = num_multimask_outputs

        self.iou_token = nn.Embedding(1, transformer_dim)
        self.num_mask_tokens = num_multimask_outputs + 1
        self.mask_tokens = nn.Embedding(self.num_mask_tokens, transformer_dim)

        self.pred_obj_scores = pred_obj_scores
        if pred_obj_scores:
            self.obj_score_token = nn.Embedding(1, transformer_dim)
        self.use_multimask_token_for_obj_ptr = use_multimask_token_for_obj_ptr

        # Two transposed convs: 4x the resolution, C -> C/4 -> C/8 channels.
        self.output_upscaling = nn.Sequential(
            nn.ConvTranspose2d(transformer_dim, transformer_dim // 4, kernel_size=2, stride=2),
            LayerNorm2d(transformer_dim // 4),
            activation(),
            nn.ConvTranspose2d(transformer_dim // 4, transformer_dim // 8, kernel_size=2, stride=2),
            activation(),
        )
        self.use_high_res_features = use_high_res_features
        if use_high_res_features:
            # Backbone features arrive with C channels; match them to the upscaling widths.
            self.conv_s0 = nn.Conv2d(transformer_dim, transformer_dim // 8, kernel_size=1, stride=1)
            self.conv_s1 = nn.Conv2d(transformer_dim, transformer_dim // 4, kernel_size=1, stride=1)

        self.output_hypernetworks_mlps = nn.ModuleList(
            MLP(transformer_dim, transformer_dim, transformer_dim // 8, 3)
            for _ in range(self.num_mask_tokens)
        )
        self.iou_prediction_head = MLP(
            transformer_dim,
            iou_head_hidden_dim,
            self.num_mask_tokens,
            iou_head_depth,
            sigmoid_output=iou_prediction_use_sigmoid,
        )
        if pred_obj_scores:
            if pred_obj_scores_mlp:
                self.pred_obj_score_head = MLP(transformer_dim, transformer_dim, 1, 3)
            else:
                self.pred_obj_score_head = nn.Linear(transformer_dim, 1)

        self.dynamic_multimask_via_stability = dynamic_multimask_via_stability
        self.dynamic_multimask_stability_delta = dynamic_multimask_stability_delta
        self.dynamic_multimask_stability_thresh = dynamic_multimask_stability_thresh

    def forward(
        self,
        image_embeddings: torch.Tensor,
        image_pe: torch.Tensor,
        sparse_prompt_embeddings: torch.Tensor,
        dense_prompt_embeddings: torch.Tensor,
        multimask_output: bool,
        repeat_image: bool,
        high_res_features: list[torch.Tensor] | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """Predict masks for B prompt sets.

        image_embeddings: (B_img, C, H, W), B_img = B or (with repeat_image) one image
            shared by all B prompt sets; image_pe: (1, C, H, W) from get_dense_pe();
        sparse_prompt_embeddings: (B, N, C); dense_prompt_embeddings: (B, C, H, W);
        high_res_features: [stride-4 (B, C/8, 4H, 4W), stride-8 (B, C/4, 2H, 2W)] when
            use_high_res_features.
        Returns masks (B, M, 4H, 4W) logits, iou_pred (B, M), sam_tokens_out (B, M', C),
        object_score_logits (B, 1), with M = num_multimask_outputs in multimask mode, else 1.
        """
        masks, iou_pred, mask_tokens_out, object_score_logits = self.predict_masks(
            image_embeddings=image_embeddings,
            image_pe=image_pe,
            sparse_prompt_embeddings=sparse_prompt_embeddings,
            dense_prompt_embeddings=dense_prompt_embeddings,
            repeat_image=repeat_image,
            high_res_features=high_res_features,
        )

        if multimask_output:
            masks, iou_pred = masks[:, 1:], iou_pred[:, 1:]
        elif self.dynamic_multimask_via_stability and not self.training:
            masks, iou_pred = self._dynamic_multimask_via_stability(masks, iou_pred)
        else:
            masks, iou_pred = masks[:, 0:1], iou_pred[:, 0:1]

        if multimask_output and self.use_multimask_token_for_obj_ptr:
            sam_tokens_out = mask_tokens_out[:, 1:]
        else:
            # The single-mask token is what tracking was trained with, so it is the object
            # pointer even when multimask outputs were asked for.
            sam_tokens_out = mask_tokens_out[:, 0:1]
        return masks, iou_pred, sam_tokens_out, object_score_logits

    def predict_masks(
        self,
        image_embeddings: torch.Tensor,
        image_pe: torch.Tensor,
        sparse_prompt_embeddings: torch.Tensor,
        dense_prompt_embeddings: torch.Tensor,
        repeat_image: bool,
        high_res_features: list[torch.Tensor] | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """All mask tokens' outputs: masks (B, 1+M, 4H, 4W), iou (B, 1+M), tokens (B, 1+M, C), obj (B, 1)."""
        learned = [self.iou_token.weight, self.mask_tokens.weight]
        if self.pred_obj_scores:
            learned.insert(0, self.obj_score_token.weight)
        first_iou = 1 if self.pred_obj_scores else 0  # index of the IoU token
        batch = sparse_prompt_embeddings.size(0)
        output_tokens = torch.cat(learned, dim=0).unsqueeze(0).expand(batch, -1, -1)
        tokens = torch.cat((output_tokens, sparse_prompt_embeddings), dim=1)

        if repeat_image:
            src = torch.repeat_interleave(image_embeddings, batch, dim=0)
        else:
            if image_embeddings.shape[0] != batch:
                raise ValueError(
                    f"{image_embeddings.shape[0]} image embeddings for {batch} prompt sets; "
                    "pass repeat_image=True to share one image"
                )
            src = image_embeddings
        src = src + dense_prompt_embeddings
        if image_pe.size(0) != 1:
            raise ValueError(f"image_pe must have batch size 1 (from get_dense_pe()), got {image_pe.size(0)}")
        pos_src = torch.repeat_interleave(image_pe, batch, dim=0)
        b, c, h, w = src.shape

        hs, src = self.transformer(src, pos_src, tokens)
        iou_token_out = hs[:, first_iou, :]
        mask_tokens_out = hs[:, first_iou + 1 : first_iou + 1 + self.num_mask_tokens, :]

        src = src.transpose(1, 2).view(b, c, h, w)
        if self.use_high_res_features:
            if high_res_features is None:
                raise ValueError("this mask decoder uses high-resolution features; pass high_res_features")
            deconv1, norm1, act1, deconv2, act2 = self.output_upscaling
            feat_s0, feat_s1 = high_res_features
            upscaled = act1(norm1(deconv1(src) + feat_s1))
            upscaled = act2(deconv2(upscaled) + feat_s0)
        else:
            upscaled = self.output_upscaling(src)

        # Each mask token -> per-channel weights for the upscaled embedding.
        hyper_in = torch.stack(
            [mlp(mask_tokens_out[:, i, :]) for i, mlp in enumerate(self.output_hypernetworks_mlps)], dim=1
        )
        b, c, h, w = upscaled.shape
        masks = (hyper_in @ upscaled.view(b, c, h * w)).view(b, -1, h, w)

        iou_pred = self.iou_prediction_head(iou_token_out)
        if self.pred_obj_scores:
            object_score_logits = self.pred_obj_score_head(hs[:, 0, :])
        else:
            # No object head: a logit of 10 means "present" (sigmoid(10) ~ 1).
            object_score_logits = 10.0 * iou_pred.new_ones(iou_pred.shape[0], 1)
        return masks, iou_pred, mask_tokens_out, object_score_logits

    def _get_stability_scores(self, mask_logits: torch.Tensor) -> torch.Tensor:
        """Area(logit > delta) / area(logit > -delta) per mask; 1 for empty masks. (..., H, W) -> (...)."""
        flat = mask_logits.flatten(-2)
        delta = self.dynamic_multimask_stability_delta
        inner = torch.sum(flat > delta, dim=-1).float()
        outer = torch.sum(flat > -delta, dim=-1).float()
        return torch.where(outer > 0, inner / outer, 1.0)

    def _dynamic_multimask_via_stability(
        self, all_mask_logits: torch.Tensor, all_iou_scores: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Keep the single mask where it is stable, else the multimask output with the best IoU.

        all_mask_logits: (B, 1+M, H, W); all_iou_scores: (B, 1+M) -> (B, 1, H, W), (B, 1).
        """
        multi_logits = all_mask_logits[:, 1:]
        multi_scores = all_iou_scores[:, 1:]
        best = torch.argmax(multi_scores, dim=-1)
        rows = torch.arange(multi_scores.size(0), device=all_iou_scores.device)
        best_logits = multi_logits[rows, best].unsqueeze(1)
        best_scores = multi_scores[rows, best].unsqueeze(1)

        single_logits = all_mask_logits[:, 0:1]
        single_scores = all_iou_scores[:, 0:1]
        stable = self._get_stability_scores(single_logits) >= self.dynamic_multimask_stability_thresh

        logits = torch.where(stable[..., None, None].expand_as(single_logits), single_logits, best_logits)
        scores = torch.where(stable.expand_as(single_scores), single_scores, best_scores)
        return logits, scores
