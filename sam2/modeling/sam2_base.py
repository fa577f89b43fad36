"""SAM 2: the model that ties image encoder, memory and SAM heads together.

:class:`SAM2Base` is a per-frame model with no per-video state. For one frame and a batch
of objects, :meth:`SAM2Base.step`

1. conditions the frame's lowest-resolution features on the memories it is handed
   (a :class:`~sam2.modeling.frame_types.MemoryContext`: spatial memories and object
   pointers of other frames) through memory attention;
2. runs the SAM prompt encoder and mask decoder on the conditioned features;
3. encodes the predicted mask together with the frame into a new memory,

and returns a typed :class:`~sam2.modeling.frame_types.FrameOutput`. Choosing which
memories a frame sees is the caller's job (``sam2.video.memory_bank`` for the video
predictor, the training loop for training). Shapes: image tokens are sequence-first
(HW, B, C); masks are (B, 1, H, W).
"""

from typing import Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch.nn.init import trunc_normal_

from sam2.modeling.frame_types import FrameFeatures, FrameOutput, MaskPrediction, MemoryContext
from sam2.modeling.sam.mask_decoder import MaskDecoder
from sam2.modeling.sam.prompt_encoder import PromptEncoder
from sam2.modeling.sam.transformer import TwoWayTransformer
from sam2.modeling.sam2_utils import MLP, get_1d_sine_pe

# Logit written where an object has no prediction (absent or never prompted).
NO_OBJ_SCORE = -1024.0

# Masks given as prompts become logits of +10 / -10 when used directly as outputs.
MASK_AS_OUTPUT_SCALE = 20.0
MASK_AS_OUTPUT_BIAS = -10.0


class SAM2Base(torch.nn.Module):
    """Image encoder + memory attention + memory encoder + SAM prompt encoder / mask decoder.

    Constructor arguments mirror the official configs (``model:`` section).
    """

    def __init__(
        self,
        image_encoder,
        memory_attention,
        memory_encoder,
        num_maskmem: int = 7,
        image_size: int = 512,
        backbone_stride: int = 16,
        sigmoid_scale_for_mem_enc: float = 1.0,
        sigmoid_bias_for_mem_enc: float = 0.0,
        binarize_mask_from_pts_for_mem_enc: bool = False,
        use_mask_input_as_output_without_sam: bool = False,
        max_cond_frames_in_attn: int = -1,
        directly_add_no_mem_embed: bool = False,
        use_high_res_features_in_sam: bool = False,
        multimask_output_in_sam: bool = False,
        multimask_min_pt_num: int = 1,
        multimask_max_pt_num: int = 1,
        multimask_output_for_tracking: bool = False,
        use_multimask_token_for_obj_ptr: bool = False,
        iou_prediction_use_sigmoid: bool = False,
        memory_temporal_stride_for_eval: int = 1,
        non_overlap_masks_for_mem_enc: bool = False,
        use_obj_ptrs_in_encoder: bool = False,
        max_obj_ptrs_in_encoder: int = 16,
        add_tpos_enc_to_obj_ptrs: bool = True,
        proj_tpos_enc_in_obj_ptrs: bool = False,
        use_signed_tpos_enc_to_obj_ptrs: bool = False,
        only_obj_ptrs_in_the_past_for_eval: bool = False,
        pred_obj_scores: bool = False,
        pred_obj_scores_mlp: bool = False,
        fixed_no_obj_ptr: bool = False,
        soft_no_obj_ptr: bool = False,
        use_mlp_for_obj_ptr_proj: bool = False,
        no_obj_embed_spatial: bool = False,
        sam_mask_decoder_extra_args: Optional[dict] = None,
        compile_image_encoder: bool = False,
    ):
        super().__init__()
        if proj_tpos_enc_in_obj_ptrs and not add_tpos_enc_to_obj_ptrs:
            raise ValueError("proj_tpos_enc_in_obj_ptrs needs add_tpos_enc_to_obj_ptrs")
        if fixed_no_obj_ptr and not (pred_obj_scores and use_obj_ptrs_in_encoder):
            raise ValueError("fixed_no_obj_ptr needs pred_obj_scores and use_obj_ptrs_in_encoder")

        # --- image encoder ------------------------------------------------------------
        self.image_encoder = image_encoder
        self.use_high_res_features_in_sam = use_high_res_features_in_sam
        self.num_feature_levels = 3 if use_high_res_features_in_sam else 1
        self.hidden_dim = image_encoder.neck.d_model
        self.image_size = image_size
        self.backbone_stride = backbone_stride

        # Registered before the memory modules: the official state_dict order.
        if use_obj_ptrs_in_encoder:
            # Brings a mask prompt (image resolution) to the stride-4 logit grid, so a
            # pointer can be computed for frames whose output is the mask prompt itself.
            self.mask_downsample = torch.nn.Conv2d(1, 1, kernel_size=4, stride=4)

        # --- memory -------------------------------------------------------------------
        self.memory_attention = memory_attention
        self.memory_encoder = memory_encoder
        out_proj = getattr(memory_encoder, "out_proj", None)
        # The memory encoder may compress channels (e.g. 256 -> 64).
        self.mem_dim = out_proj.weight.shape[0] if hasattr(out_proj, "weight") else self.hidden_dim
        self.num_maskmem = num_maskmem
        self.maskmem_tpos_enc = torch.nn.Parameter(torch.zeros(num_maskmem, 1, 1, self.mem_dim))
        self.no_mem_embed = torch.nn.Parameter(torch.zeros(1, 1, self.hidden_dim))
        self.no_mem_pos_enc = torch.nn.Parameter(torch.zeros(1, 1, self.hidden_dim))
        for p in (self.maskmem_tpos_enc, self.no_mem_embed, self.no_mem_pos_enc):
            trunc_normal_(p, std=0.02)
        self.directly_add_no_mem_embed = directly_add_no_mem_embed
        self.sigmoid_scale_for_mem_enc = sigmoid_scale_for_mem_enc
        self.sigmoid_bias_for_mem_enc = sigmoid_bias_for_mem_enc
        self.binarize_mask_from_pts_for_mem_enc = binarize_mask_from_pts_for_mem_enc
        self.non_overlap_masks_for_mem_enc = non_overlap_masks_for_mem_enc
        self.memory_temporal_stride_for_eval = memory_temporal_stride_for_eval
        self.max_cond_frames_in_attn = max_cond_frames_in_attn

        # --- object pointers -----------------------------------------------------------
        self.use_obj_ptrs_in_encoder = use_obj_ptrs_in_encoder
        self.max_obj_ptrs_in_encoder = max_obj_ptrs_in_encoder
        self.add_tpos_enc_to_obj_ptrs = add_tpos_enc_to_obj_ptrs
        self.proj_tpos_enc_in_obj_ptrs = proj_tpos_enc_in_obj_ptrs
        self.use_signed_tpos_enc_to_obj_ptrs = use_signed_tpos_enc_to_obj_ptrs
        self.only_obj_ptrs_in_the_past_for_eval = only_obj_ptrs_in_the_past_for_eval

        # --- SAM heads options -----------------------------------------------------------
        self.use_mask_input_as_output_without_sam = use_mask_input_as_output_without_sam
        self.multimask_output_in_sam = multimask_output_in_sam
        self.multimask_min_pt_num = multimask_min_pt_num
        self.multimask_max_pt_num = multimask_max_pt_num
        self.multimask_output_for_tracking = multimask_output_for_tracking
        self.use_multimask_token_for_obj_ptr = use_multimask_token_for_obj_ptr
        self.iou_prediction_use_sigmoid = iou_prediction_use_sigmoid
        self.sam_mask_decoder_extra_args = sam_mask_decoder_extra_args
        self.pred_obj_scores = pred_obj_scores
        self.pred_obj_scores_mlp = pred_obj_scores_mlp
        self.fixed_no_obj_ptr = fixed_no_obj_ptr
        self.soft_no_obj_ptr = soft_no_obj_ptr
        self.use_mlp_for_obj_ptr_proj = use_mlp_for_obj_ptr_proj
        if pred_obj_scores and use_obj_ptrs_in_encoder:
            self.no_obj_ptr = torch.nn.Parameter(torch.zeros(1, self.hidden_dim))
            trunc_normal_(self.no_obj_ptr, std=0.02)
        self.no_obj_embed_spatial = None
        if no_obj_embed_spatial:
            self.no_obj_embed_spatial = torch.nn.Parameter(torch.zeros(1, self.mem_dim))
            trunc_normal_(self.no_obj_embed_spatial, std=0.02)
        self._build_sam_heads()
        # Relative pointer positions on the device, by distance tuple (see _pointer_tokens).
        self._pointer_position_cache: Dict[tuple, torch.Tensor] = {}
        # Compute precision of the predictors' model calls (sam2.precision.set_precision).
        self.precision = "fp32"

        if compile_image_encoder:
            # Compile forward only, so checkpoints still load into the plain module.
            self.image_encoder.forward = torch.compile(
                self.image_encoder.forward, mode="max-autotune", fullgraph=True, dynamic=False
            )

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    def forward(self, *args, **kwargs):
        raise NotImplementedError(
            "SAM2Base has no forward(): use SAM2ImagePredictor / SAM2VideoPredictor for inference"
        )

    # ------------------------------------------------------------------ SAM heads
    def _build_sam_heads(self) -> None:
        self.sam_prompt_embed_dim = self.hidden_dim
        self.sam_image_embedding_size = self.image_size // self.backbone_stride
        side = self.sam_image_embedding_size
        # mask_in_chans, depth, mlp_dim, heads and IoU head sizes are SAM's fixed choices.
        self.sam_prompt_encoder = PromptEncoder(
            embed_dim=self.hidden_dim,
            image_embedding_size=(side, side),
            input_image_size=(self.image_size, self.image_size),
            mask_in_chans=16,
        )
        self.sam_mask_decoder = MaskDecoder(
            num_multimask_outputs=3,
            transformer=TwoWayTransformer(
                depth=2, embedding_dim=self.hidden_dim, mlp_dim=2048, num_heads=8
            ),
            transformer_dim=self.hidden_dim,
            iou_head_depth=3,
            iou_head_hidden_dim=256,
            use_high_res_features=self.use_high_res_features_in_sam,
            iou_prediction_use_sigmoid=self.iou_prediction_use_sigmoid,
            pred_obj_scores=self.pred_obj_scores,
            pred_obj_scores_mlp=self.pred_obj_scores_mlp,
            use_multimask_token_for_obj_ptr=self.use_multimask_token_for_obj_ptr,
            **(self.sam_mask_decoder_extra_args or {}),
        )
        if not self.use_obj_ptrs_in_encoder:
            self.obj_ptr_proj = torch.nn.Identity()
        elif self.use_mlp_for_obj_ptr_proj:
            self.obj_ptr_proj = MLP(self.hidden_dim, self.hidden_dim, self.hidden_dim, 3)
        else:
            self.obj_ptr_proj = torch.nn.Linear(self.hidden_dim, self.hidden_dim)
        if self.proj_tpos_enc_in_obj_ptrs:
            self.obj_ptr_tpos_proj = torch.nn.Linear(self.hidden_dim, self.mem_dim)
        else:
            self.obj_ptr_tpos_proj = torch.nn.Identity()

    def _mix_in_no_obj_ptr(self, obj_ptr: torch.Tensor, appearing: torch.Tensor) -> torch.Tensor:
        """Blend the learned "no object" pointer in where the object is judged absent.

        appearing: (B, 1) in [0, 1].
        """
        if not self.pred_obj_scores:
            return obj_ptr
        if self.fixed_no_obj_ptr:
            obj_ptr = appearing * obj_ptr
        return obj_ptr + (1 - appearing) * self.no_obj_ptr

    # ------------------------------------------------------------------ image features
    def forward_image(self, img_batch: torch.Tensor) -> dict:
        """Run the image encoder on (B, 3, S, S) normalised images.

        With high-resolution features, levels 0 and 1 are projected to the decoder's
        channel counts once here, so later decoder calls can reuse them.
        """
        backbone_out = self.image_encoder(img_batch)
        if self.use_high_res_features_in_sam:
            fpn = backbone_out["backbone_fpn"]
            fpn[0] = self.sam_mask_decoder.conv_s0(fpn[0])
            fpn[1] = self.sam_mask_decoder.conv_s1(fpn[1])
        return backbone_out

    def _prepare_backbone_features(self, backbone_out: dict):
        """Flatten the levels the heads use into sequence-first (HW, B, C) tensors.

        Returns (backbone_out copy, vision_feats, vision_pos_embeds, feat_sizes [(H, W)]).
        """
        backbone_out = backbone_out.copy()
        levels = self.num_feature_levels
        maps = backbone_out["backbone_fpn"][-levels:]
        pos = backbone_out["vision_pos_enc"][-levels:]
        feat_sizes = [(p.shape[-2], p.shape[-1]) for p in pos]
        vision_feats = [m.flatten(2).permute(2, 0, 1) for m in maps]
        vision_pos_embeds = [p.flatten(2).permute(2, 0, 1) for p in pos]
        return backbone_out, vision_feats, vision_pos_embeds, feat_sizes

    def frame_features(self, backbone_out: dict, frame: Optional[int] = None) -> FrameFeatures:
        """Image-encoder output -> :class:`FrameFeatures` (of one ``frame`` of a batch, or all)."""
        levels = self.num_feature_levels
        maps = backbone_out["backbone_fpn"][-levels:]
        pos = backbone_out["vision_pos_enc"][-levels:]
        if frame is not None:
            maps = [m[frame : frame + 1] for m in maps]
            pos = [p[frame : frame + 1] for p in pos]
        return self._features_from_lists(
            [m.flatten(2).permute(2, 0, 1) for m in maps],
            [p.flatten(2).permute(2, 0, 1) for p in pos],
            [(p.shape[-2], p.shape[-1]) for p in pos],
        )

    @staticmethod
    def _features_from_lists(vision_feats, vision_pos_embeds, feat_sizes) -> FrameFeatures:
        """The official list layout (sequence-first levels, finest first) -> FrameFeatures."""
        high_res = None
        if len(vision_feats) > 1:
            high_res = [
                x.permute(1, 2, 0).reshape(x.size(1), x.size(2), *size)
                for x, size in zip(vision_feats[:-1], feat_sizes[:-1])
            ]
        return FrameFeatures(vision_feats[-1], vision_pos_embeds[-1], tuple(feat_sizes[-1]), high_res)

    # ------------------------------------------------------------------ memory read
    def memory_context(
        self,
        spatial: Sequence[Tuple[int, torch.Tensor, torch.Tensor]],
        pointers: Sequence[Tuple[int, torch.Tensor]],
        num_frames: int,
    ) -> MemoryContext:
        """Memory tokens from chosen memories.

        spatial: (temporal slot, memory (B, mem_dim, H, W), position encoding (B, mem_dim, H, W));
        slot 0 is a prompted frame, num_maskmem - 1 the previous frame.
        pointers: (temporal distance, object pointer (B, C)).
        """
        tokens, pos = [], []
        for slot, memory, memory_pos in spatial:
            tokens.append(memory.flatten(2).permute(2, 0, 1))
            pos.append(memory_pos.flatten(2).permute(2, 0, 1) + self.maskmem_tpos_enc[self.num_maskmem - slot - 1])
        num_pointer_tokens = 0
        if pointers:
            ptr_tokens, ptr_pos = self._pointer_tokens(pointers, num_frames)
            tokens.append(ptr_tokens)
            pos.append(ptr_pos)
            num_pointer_tokens = ptr_tokens.shape[0]
        return MemoryContext(torch.cat(tokens, dim=0), torch.cat(pos, dim=0), num_pointer_tokens)

    def _pointer_tokens(self, pointers: Sequence[Tuple[int, torch.Tensor]], num_frames: int):
        """Object pointers as memory tokens: (tokens, pos), each (N, B, mem_dim)."""
        C, mem_dim = self.hidden_dim, self.mem_dim
        ptrs = torch.stack([p for _, p in pointers], dim=0)  # (N, B, C)
        batch = ptrs.size(1)
        if self.add_tpos_enc_to_obj_ptrs:
            max_ptrs = min(num_frames, self.max_obj_ptrs_in_encoder)
            tpos_dim = C if self.proj_tpos_enc_in_obj_ptrs else mem_dim
            rel = self._relative_pointer_positions(tuple(d for d, _ in pointers), max_ptrs, ptrs.device)
            pos = self.obj_ptr_tpos_proj(get_1d_sine_pe(rel, dim=tpos_dim))
            pos = pos.unsqueeze(1).expand(-1, batch, mem_dim)
        else:
            pos = ptrs.new_zeros(len(pointers), batch, mem_dim)
        if mem_dim < C:
            # Split each C-dim pointer into C/mem_dim tokens of the memory's width.
            split = C // mem_dim
            ptrs = ptrs.reshape(-1, batch, split, mem_dim).permute(0, 2, 1, 3).flatten(0, 1)
            pos = pos.repeat_interleave(split, dim=0)
        return ptrs, pos

    def _relative_pointer_positions(self, distances: Tuple[int, ...], max_ptrs: int,
                                    device: torch.device) -> torch.Tensor:
        """distances / (max_ptrs - 1) as a tensor on ``device``, kept per distance tuple.

        Building it from a Python list costs a host-to-device copy, which waits for the
        device; the handful of distinct tuples a video uses are kept instead.
        """
        # Tensors made under inference_mode cannot enter autograd later: keep both kinds apart.
        key = (distances, max_ptrs, str(device), torch.is_inference_mode_enabled())
        cache = self._pointer_position_cache
        rel = cache.get(key)
        if rel is None:
            # A one-frame video has no temporal range; avoid 0/0.
            rel = torch.tensor(distances, device=device) / max(max_ptrs - 1, 1)
            if len(cache) < 4096:
                cache[key] = rel
        return rel

    def first_self_attention(self, features: FrameFeatures) -> torch.Tensor:
        """The memory attention's first, memory-independent step for a frame (see :meth:`condition`)."""
        return self.memory_attention.first_layer_self_attention(features.tokens, features.pos)

    def condition(
        self,
        features: FrameFeatures,
        memory: Optional[MemoryContext],
        first_self_attention: Optional[torch.Tensor] = None,
    ) -> torch.Tensor:
        """Fuse the frame's features with its memories; returns (B, C, H, W).

        ``memory`` None marks an initial conditioning frame (nothing to attend to yet).
        ``first_self_attention`` may pass :meth:`first_self_attention` computed earlier
        (batch 1 or B: it depends on the frame alone).
        """
        feats = features.tokens
        batch, (H, W) = features.batch, features.size
        if self.num_maskmem == 0:
            return features.as_map()
        if memory is None:
            if self.directly_add_no_mem_embed:
                return (feats + self.no_mem_embed).permute(1, 2, 0).reshape(batch, self.hidden_dim, H, W)
            memory = MemoryContext(
                self.no_mem_embed.expand(1, batch, self.mem_dim), self.no_mem_pos_enc.expand(1, batch, self.mem_dim)
            )
        if first_self_attention is not None and first_self_attention.size(0) != batch:
            first_self_attention = first_self_attention.expand(batch, -1, -1)
        conditioned = self.memory_attention(
            curr=feats,
            curr_pos=features.pos,
            memory=memory.tokens,
            memory_pos=memory.pos,
            num_obj_ptr_tokens=memory.num_pointer_tokens,
            first_self_attention=first_self_attention,
        )
        return conditioned.permute(1, 2, 0).reshape(batch, self.hidden_dim, H, W)

    # ------------------------------------------------------------------ SAM heads
    def predict_masks(
        self,
        conditioned: torch.Tensor,
        high_res_features: Optional[List[torch.Tensor]] = None,
        point_inputs: Optional[Dict[str, torch.Tensor]] = None,
        mask_inputs: Optional[torch.Tensor] = None,
        multimask_output: bool = False,
    ) -> MaskPrediction:
        """Prompt encoder + mask decoder on (B, C, H, W) features of stride 16.

        point_inputs: {"point_coords": (B, P, 2) in model-input pixels, "point_labels": (B, P)}.
        mask_inputs: (B, 1, h, w) mask prompt (logits or 0/1), resized to the prompt encoder's size.
        """
        batch = conditioned.size(0)
        device = conditioned.device
        side = self.sam_image_embedding_size
        if tuple(conditioned.shape[1:]) != (self.hidden_dim, side, side):
            raise ValueError(
                f"backbone features must be (B, {self.hidden_dim}, {side}, {side}), "
                f"got {tuple(conditioned.shape)}"
            )
        if point_inputs is not None:
            coords, labels = point_inputs["point_coords"], point_inputs["point_labels"]
        else:
            # SAM always needs a sparse token: one padding point (label -1).
            coords = torch.zeros(batch, 1, 2, device=device)
            labels = -torch.ones(batch, 1, dtype=torch.int32, device=device)

        mask_prompt = None
        if mask_inputs is not None:
            if mask_inputs.shape[-2:] != self.sam_prompt_encoder.mask_input_size:
                mask_prompt = F.interpolate(
                    mask_inputs.float(),
                    size=self.sam_prompt_encoder.mask_input_size,
                    mode="bilinear",
                    align_corners=False,
                    antialias=True,
                )
            else:
                mask_prompt = mask_inputs

        sparse, dense = self.sam_prompt_encoder(points=(coords, labels), boxes=None, masks=mask_prompt)
        low_res_multimasks, ious, sam_tokens, object_score_logits = self.sam_mask_decoder(
            image_embeddings=conditioned,
            image_pe=self.sam_prompt_encoder.get_dense_pe(),
            sparse_prompt_embeddings=sparse,
            dense_prompt_embeddings=dense,
            multimask_output=multimask_output,
            repeat_image=False,
            high_res_features=high_res_features,
        )
        if self.pred_obj_scores:
            appearing = object_score_logits > 0
            # Absent objects get a uniformly negative mask.
            low_res_multimasks = torch.where(appearing[:, None, None], low_res_multimasks, NO_OBJ_SCORE)

        low_res_multimasks = low_res_multimasks.float()
        token = sam_tokens[:, 0]
        if multimask_output:
            best = torch.argmax(ious, dim=-1)
            rows = torch.arange(batch, device=device)
            low_res_masks = low_res_multimasks[rows, best].unsqueeze(1)
            if sam_tokens.size(1) > 1:
                token = sam_tokens[rows, best]
        else:
            low_res_masks = low_res_multimasks
        # Only the chosen mask is upsampled here (each mask upsamples on its own, so this
        # equals picking from upsampled candidates); the candidates are upsampled on demand.
        high_res_masks = F.interpolate(
            low_res_masks, size=(self.image_size, self.image_size), mode="bilinear", align_corners=False
        )

        obj_ptr = self.obj_ptr_proj(token)
        if self.pred_obj_scores:
            weight = object_score_logits.sigmoid() if self.soft_no_obj_ptr else appearing.float()
            obj_ptr = self._mix_in_no_obj_ptr(obj_ptr, weight)
        return MaskPrediction(low_res_multimasks, ious, low_res_masks, high_res_masks, obj_ptr, object_score_logits)

    def mask_as_prediction(
        self,
        conditioned: torch.Tensor,
        high_res_features: Optional[List[torch.Tensor]],
        mask_inputs: torch.Tensor,
    ) -> MaskPrediction:
        """Turn a binary mask prompt (B, 1, S, S) into a prediction without running SAM on it.

        The object pointer still comes from the SAM heads, fed with the mask downsampled to
        the logit grid.
        """
        mask = mask_inputs.float()
        high_res_masks = mask * MASK_AS_OUTPUT_SCALE + MASK_AS_OUTPUT_BIAS
        low_res_masks = F.interpolate(
            high_res_masks,
            size=(high_res_masks.size(-2) // 4, high_res_masks.size(-1) // 4),
            mode="bilinear",
            align_corners=False,
            antialias=True,
        )
        ious = mask_inputs.new_ones(mask_inputs.size(0), 1).float()
        if self.use_obj_ptrs_in_encoder:
            obj_ptr = self.predict_masks(
                conditioned, high_res_features, mask_inputs=self.mask_downsample(mask)
            ).obj_ptr
        else:
            obj_ptr = torch.zeros(mask_inputs.size(0), self.hidden_dim, device=mask_inputs.device)
        appearing = torch.any(mask.flatten(1) > 0.0, dim=1)[:, None].float()
        object_score_logits = MASK_AS_OUTPUT_SCALE * appearing + MASK_AS_OUTPUT_BIAS
        obj_ptr = self._mix_in_no_obj_ptr(obj_ptr, appearing)
        return MaskPrediction(low_res_masks, ious, low_res_masks, high_res_masks, obj_ptr, object_score_logits,
                              multimask_high_res_given=high_res_masks)

    def use_multimask(self, is_init_cond_frame: bool, point_inputs: Optional[dict]) -> bool:
        """Three candidate masks only for the first click(s) of a conditioning frame."""
        num_pts = 0 if point_inputs is None else point_inputs["point_labels"].size(1)
        return (
            self.multimask_output_in_sam
            and (is_init_cond_frame or self.multimask_output_for_tracking)
            and self.multimask_min_pt_num <= num_pts <= self.multimask_max_pt_num
        )

    # ------------------------------------------------------------------ memory write
    def encode_memory(
        self,
        features: FrameFeatures,
        high_res_masks: torch.Tensor,
        object_score_logits: torch.Tensor,
        is_mask_from_pts: bool,
        non_overlapping: bool = False,
    ) -> Tuple[torch.Tensor, List[torch.Tensor]]:
        """Memory of a frame: (features (B, mem_dim, H, W), [pos enc (B, mem_dim, H, W)]).

        high_res_masks: (B, 1, S, S) logits. ``non_overlapping`` first keeps, where masks of
        the batch overlap, only the highest logit (meaningful when the batch is the objects
        of one frame and they are meant to exclude each other).
        """
        pix_feat = features.as_map()
        if non_overlapping:
            high_res_masks = self._apply_non_overlapping_constraints(high_res_masks)
        if self.binarize_mask_from_pts_for_mem_enc and is_mask_from_pts and not self.training:
            mask_for_mem = (high_res_masks > 0).float()
        else:
            mask_for_mem = torch.sigmoid(high_res_masks)
        if self.sigmoid_scale_for_mem_enc != 1.0:
            mask_for_mem = mask_for_mem * self.sigmoid_scale_for_mem_enc
        if self.sigmoid_bias_for_mem_enc != 0.0:
            mask_for_mem = mask_for_mem + self.sigmoid_bias_for_mem_enc
        out = self.memory_encoder(pix_feat, mask_for_mem, skip_mask_sigmoid=True)
        memory, pos_enc = out["vision_features"], out["vision_pos_enc"]
        if self.no_obj_embed_spatial is not None:
            absent = 1.0 - (object_score_logits > 0).float()
            memory = memory + absent[..., None, None] * self.no_obj_embed_spatial[..., None, None]
        return memory, pos_enc

    # ------------------------------------------------------------------ one frame
    def step(
        self,
        features: FrameFeatures,
        memory: Optional[MemoryContext],
        point_inputs: Optional[Dict[str, torch.Tensor]] = None,
        mask_inputs: Optional[torch.Tensor] = None,
        is_init_cond_frame: bool = False,
        prev_mask_logits: Optional[torch.Tensor] = None,
        run_memory_encoder: bool = True,
        conditioned: Optional[torch.Tensor] = None,
        first_self_attention: Optional[torch.Tensor] = None,
        non_overlapping_memory: bool = False,
    ) -> FrameOutput:
        """One frame for B objects: condition on ``memory``, decode masks, encode the new memory.

        ``memory`` None = an initial conditioning frame. ``conditioned`` (B, C, H, W) skips the
        conditioning when the caller already has it (e.g. cached). ``prev_mask_logits``
        (B, 1, S/4, S/4): the previous result of a refined frame, used as the mask prompt.
        """
        if mask_inputs is not None and self.use_mask_input_as_output_without_sam:
            conditioned = features.as_map()
            prediction = self.mask_as_prediction(conditioned, features.high_res, mask_inputs)
        else:
            if conditioned is None:
                conditioned = self.condition(features, memory, first_self_attention)
            prediction = self.predict_masks(
                conditioned,
                features.high_res,
                point_inputs,
                prev_mask_logits if prev_mask_logits is not None else mask_inputs,
                multimask_output=self.use_multimask(is_init_cond_frame, point_inputs),
            )
        new_memory = memory_pos = None
        if run_memory_encoder and self.num_maskmem > 0:
            new_memory, memory_pos = self.encode_memory(
                features, prediction.high_res_masks, prediction.object_score_logits,
                is_mask_from_pts=point_inputs is not None, non_overlapping=non_overlapping_memory,
            )
        return FrameOutput(prediction, conditioned, new_memory, memory_pos)

    def track_step(
        self,
        frame_idx: int,
        is_init_cond_frame: bool,
        current_vision_feats: List[torch.Tensor],
        current_vision_pos_embeds: List[torch.Tensor],
        feat_sizes: List[Tuple[int, int]],
        point_inputs: Optional[Dict[str, torch.Tensor]],
        mask_inputs: Optional[torch.Tensor],
        output_dict: dict,
        num_frames: int,
        track_in_reverse: bool = False,
        run_mem_encoder: bool = True,
        prev_sam_mask_logits: Optional[torch.Tensor] = None,
    ) -> dict:
        """The official per-frame entry point, kept for code written against it.

        ``output_dict`` = {"cond_frame_outputs": {t: out}, "non_cond_frame_outputs": {t: out}}
        with the dicts this method returns: point_inputs, mask_inputs, pred_masks (B,1,S/4,S/4),
        pred_masks_high_res (B,1,S,S), obj_ptr (B,C), object_score_logits (B,1) in eval,
        maskmem_features and maskmem_pos_enc (None when the memory encoder is skipped).
        New code calls :meth:`step` with a memory context instead.
        """
        from sam2.video.memory_bank import MemoryEntry, MemoryPolicy, build_memory_context

        features = self._features_from_lists(current_vision_feats, current_vision_pos_embeds, feat_sizes)
        memory = None
        if not is_init_cond_frame:
            def entries(outputs: dict) -> dict:
                return {
                    t: MemoryEntry(o["obj_ptr"], o.get("maskmem_features"),
                                   (o.get("maskmem_pos_enc") or [None])[-1])
                    for t, o in outputs.items()
                }

            selection = MemoryPolicy.of(self).select(
                frame_idx, entries(output_dict["cond_frame_outputs"]),
                entries(output_dict["non_cond_frame_outputs"]), num_frames, track_in_reverse, self.training,
            )
            memory = build_memory_context(self, [selection], num_frames, features.tokens.device)
        out = self.step(
            features, memory, point_inputs, mask_inputs, is_init_cond_frame, prev_sam_mask_logits,
            run_memory_encoder=run_mem_encoder,
            non_overlapping_memory=self.non_overlap_masks_for_mem_enc and not self.training,
        )
        result = {
            "point_inputs": point_inputs,
            "mask_inputs": mask_inputs,
            "pred_masks": out.mask_logits,
            "pred_masks_high_res": out.high_res_masks,
            "obj_ptr": out.obj_ptr,
            "maskmem_features": out.memory,
            "maskmem_pos_enc": out.memory_pos,
        }
        if not self.training:
            result["object_score_logits"] = out.object_score_logits
        return result

    def _apply_non_overlapping_constraints(self, pred_masks: torch.Tensor) -> torch.Tensor:
        """Where objects overlap, keep only the highest logit; others drop to at most -10."""
        if pred_masks.size(0) == 1:
            return pred_masks
        winner = torch.argmax(pred_masks, dim=0, keepdim=True)
        ids = torch.arange(pred_masks.size(0), device=pred_masks.device)[:, None, None, None]
        return torch.where(winner == ids, pred_masks, torch.clamp(pred_masks, max=-10.0))
