"""SAM 2: the model that ties image encoder, memory and SAM heads together.

One call of :meth:`SAM2Base.track_step` processes one frame for a batch of objects:

1. condition the frame's lowest-resolution features on memories of earlier frames
   (spatial memories + object pointers) through memory attention;
2. run the SAM prompt encoder and mask decoder on the conditioned features;
3. encode the predicted mask together with the frame into a new memory.

The predictors (image and video) drive this class; it holds no per-video state itself.
Shapes: features are "sequence-first" (HW, B, C) between steps, as the memory attention
expects; masks are (B, 1, H, W).
"""

from typing import Dict, List, Optional, Tuple

import torch
import torch.nn.functional as F
from torch.nn.init import trunc_normal_

from sam2.modeling.sam.mask_decoder import MaskDecoder
from sam2.modeling.sam.prompt_encoder import PromptEncoder
from sam2.modeling.sam.transformer import TwoWayTransformer
from sam2.modeling.sam2_utils import MLP, get_1d_sine_pe, select_closest_cond_frames

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

    def _forward_sam_heads(
        self,
        backbone_features: torch.Tensor,
        point_inputs: Optional[Dict[str, torch.Tensor]] = None,
        mask_inputs: Optional[torch.Tensor] = None,
        high_res_features: Optional[List[torch.Tensor]] = None,
        multimask_output: bool = False,
    ):
        """Prompt encoder + mask decoder on (B, C, H, W) features of stride 16.

        point_inputs: {"point_coords": (B, P, 2) in model-input pixels, "point_labels": (B, P)}.
        mask_inputs: (B, 1, h, w) mask prompt, resized to the prompt encoder's input size.
        Returns (low_res_multimasks (B,M,4H,4W), high_res_multimasks (B,M,16H,16W), ious (B,M),
        low_res_masks (B,1,4H,4W), high_res_masks (B,1,16H,16W), obj_ptr (B,C),
        object_score_logits (B,1)); the single-mask outputs are the best by predicted IoU.
        """
        batch = backbone_features.size(0)
        device = backbone_features.device
        side = self.sam_image_embedding_size
        if tuple(backbone_features.shape[1:]) != (self.hidden_dim, side, side):
            raise ValueError(
                f"backbone features must be (B, {self.hidden_dim}, {side}, {side}), "
                f"got {tuple(backbone_features.shape)}"
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
            image_embeddings=backbone_features,
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
        high_res_multimasks = F.interpolate(
            low_res_multimasks, size=(self.image_size, self.image_size), mode="bilinear", align_corners=False
        )

        token = sam_tokens[:, 0]
        if multimask_output:
            best = torch.argmax(ious, dim=-1)
            rows = torch.arange(batch, device=device)
            low_res_masks = low_res_multimasks[rows, best].unsqueeze(1)
            high_res_masks = high_res_multimasks[rows, best].unsqueeze(1)
            if sam_tokens.size(1) > 1:
                token = sam_tokens[rows, best]
        else:
            low_res_masks, high_res_masks = low_res_multimasks, high_res_multimasks

        obj_ptr = self.obj_ptr_proj(token)
        if self.pred_obj_scores:
            weight = object_score_logits.sigmoid() if self.soft_no_obj_ptr else appearing.float()
            obj_ptr = self._mix_in_no_obj_ptr(obj_ptr, weight)
        return (
            low_res_multimasks,
            high_res_multimasks,
            ious,
            low_res_masks,
            high_res_masks,
            obj_ptr,
            object_score_logits,
        )

    def _use_mask_as_output(
        self,
        backbone_features: torch.Tensor,
        high_res_features: Optional[List[torch.Tensor]],
        mask_inputs: torch.Tensor,
    ):
        """Turn a binary mask prompt (B, 1, S, S) into outputs without running SAM on it.

        Same return layout as :meth:`_forward_sam_heads`. The object pointer still comes
        from the SAM heads, fed with the mask downsampled to the logit grid.
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
            obj_ptr = self._forward_sam_heads(
                backbone_features=backbone_features,
                mask_inputs=self.mask_downsample(mask),
                high_res_features=high_res_features,
            )[5]
        else:
            obj_ptr = torch.zeros(mask_inputs.size(0), self.hidden_dim, device=mask_inputs.device)
        appearing = torch.any(mask.flatten(1) > 0.0, dim=1)[:, None].float()
        object_score_logits = MASK_AS_OUTPUT_SCALE * appearing + MASK_AS_OUTPUT_BIAS
        obj_ptr = self._mix_in_no_obj_ptr(obj_ptr, appearing)
        return low_res_masks, high_res_masks, ious, low_res_masks, high_res_masks, obj_ptr, object_score_logits

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

    # ------------------------------------------------------------------ memory read
    def _memory_frame_indices(self, frame_idx: int, track_in_reverse: bool) -> List[Tuple[int, int]]:
        """(t_pos, frame index) of the non-conditioning memories for ``frame_idx``.

        t_pos runs 1 .. num_maskmem-1, t_pos = num_maskmem-1 being the previous frame.
        With a temporal stride r > 1 the older slots sample every r-th frame.
        """
        stride = 1 if self.training else self.memory_temporal_stride_for_eval
        picks = []
        for t_pos in range(1, self.num_maskmem):
            frames_back = self.num_maskmem - t_pos
            if frames_back == 1:
                prev = frame_idx + 1 if track_in_reverse else frame_idx - 1
            elif not track_in_reverse:
                prev = ((frame_idx - 2) // stride) * stride - (frames_back - 2) * stride
            else:
                prev = -(-(frame_idx + 2) // stride) * stride + (frames_back - 2) * stride
            picks.append((t_pos, prev))
        return picks

    def _select_memories(
        self,
        frame_idx: int,
        output_dict: dict,
        num_frames: int,
        track_in_reverse: bool,
    ) -> Tuple[List[Tuple[int, dict]], List[Tuple[int, dict]]]:
        """Which earlier outputs a non-initial frame attends to (no tensor work).

        Returns (spatial, pointers): spatial = [(t_pos, out)] where t_pos 0 marks conditioning
        frames; pointers = [(temporal distance, out)] whose ``obj_ptr`` become memory tokens.
        """
        cond_outputs = output_dict["cond_frame_outputs"]
        if not cond_outputs:
            raise RuntimeError("tracking a frame needs at least one conditioning frame")
        selected, unselected = select_closest_cond_frames(frame_idx, cond_outputs, self.max_cond_frames_in_attn)
        non_cond = output_dict["non_cond_frame_outputs"]
        spatial = [(0, out) for out in selected.values()]
        for t_pos, prev_idx in self._memory_frame_indices(frame_idx, track_in_reverse):
            out = non_cond.get(prev_idx)
            if out is None:
                out = unselected.get(prev_idx)
            # Outputs kept compactly (bounded memory) have no spatial memory left.
            if out is not None and out.get("maskmem_features") is not None:
                spatial.append((t_pos, out))

        pointers: List[Tuple[int, dict]] = []
        if not self.use_obj_ptrs_in_encoder:
            return spatial, pointers
        sign = -1 if track_in_reverse else 1
        if not self.training and self.only_obj_ptrs_in_the_past_for_eval:
            cond = {t: o for t, o in selected.items() if (t >= frame_idx if track_in_reverse else t <= frame_idx)}
        else:
            cond = selected
        for t, out in cond.items():
            dist = (frame_idx - t) * sign if self.use_signed_tpos_enc_to_obj_ptrs else abs(frame_idx - t)
            pointers.append((dist, out))
        max_ptrs = min(num_frames, self.max_obj_ptrs_in_encoder)
        for t_diff in range(1, max_ptrs):
            t = frame_idx + t_diff if track_in_reverse else frame_idx - t_diff
            if t < 0 or (num_frames is not None and t >= num_frames):
                break
            out = non_cond.get(t, unselected.get(t))
            if out is not None:
                pointers.append((t_diff, out))
        return spatial, pointers

    def _pointer_tokens(
        self, pointers: List[Tuple[int, dict]], num_frames: int, batch: int, device: torch.device
    ) -> Tuple[torch.Tensor, torch.Tensor]:
        """Object pointers as memory tokens: (tokens, pos), each (N, B, mem_dim)."""
        C, mem_dim = self.hidden_dim, self.mem_dim
        ptrs = torch.stack([out["obj_ptr"] for _, out in pointers], dim=0)  # (N, B, C)
        if self.add_tpos_enc_to_obj_ptrs:
            max_ptrs = min(num_frames, self.max_obj_ptrs_in_encoder)
            tpos_dim = C if self.proj_tpos_enc_in_obj_ptrs else mem_dim
            # A one-frame video has no temporal range; avoid 0/0.
            rel = torch.tensor([d for d, _ in pointers], device=device) / max(max_ptrs - 1, 1)
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

    def _prepare_memory_conditioned_features(
        self,
        frame_idx: int,
        is_init_cond_frame: bool,
        current_vision_feats: List[torch.Tensor],
        current_vision_pos_embeds: List[torch.Tensor],
        feat_sizes: List[Tuple[int, int]],
        output_dict: dict,
        num_frames: int,
        track_in_reverse: bool = False,
        selection: Optional[Tuple[list, list]] = None,
        first_self_attention: Optional[torch.Tensor] = None,
    ) -> torch.Tensor:
        """Fuse the frame's top-level features (HW, B, C) with memory; returns (B, C, H, W).

        ``selection`` may pass a precomputed :meth:`_select_memories` result and
        ``first_self_attention`` the memory attention's first, memory-independent step.
        """
        feats = current_vision_feats[-1]
        batch, C = feats.size(1), self.hidden_dim
        H, W = feat_sizes[-1]
        device = feats.device
        if self.num_maskmem == 0:
            return feats.permute(1, 2, 0).view(batch, C, H, W)

        num_obj_ptr_tokens = 0
        if is_init_cond_frame:
            if self.directly_add_no_mem_embed:
                return (feats + self.no_mem_embed).permute(1, 2, 0).view(batch, C, H, W)
            memories = [self.no_mem_embed.expand(1, batch, self.mem_dim)]
            memory_pos = [self.no_mem_pos_enc.expand(1, batch, self.mem_dim)]
        else:
            if selection is None:
                selection = self._select_memories(frame_idx, output_dict, num_frames, track_in_reverse)
            spatial, pointers = selection
            memories, memory_pos = [], []
            for t_pos, prev in spatial:
                pos_enc = prev["maskmem_pos_enc"][-1].to(device)
                # Stored memories may be bfloat16; attention reads them in the compute dtype.
                mem = prev["maskmem_features"].to(device, dtype=pos_enc.dtype, non_blocking=True)
                memories.append(mem.flatten(2).permute(2, 0, 1))
                pos_enc = pos_enc.flatten(2).permute(2, 0, 1)
                memory_pos.append(pos_enc + self.maskmem_tpos_enc[self.num_maskmem - t_pos - 1])
            if pointers:
                tokens, pos = self._pointer_tokens(pointers, num_frames, batch, device)
                memories.append(tokens)
                memory_pos.append(pos)
                num_obj_ptr_tokens = tokens.shape[0]

        conditioned = self.memory_attention(
            curr=current_vision_feats,
            curr_pos=current_vision_pos_embeds,
            memory=torch.cat(memories, dim=0),
            memory_pos=torch.cat(memory_pos, dim=0),
            num_obj_ptr_tokens=num_obj_ptr_tokens,
            first_self_attention=first_self_attention,
        )
        return conditioned.permute(1, 2, 0).view(batch, C, H, W)

    def _memory_conditioned_features(
        self,
        frame_idx,
        is_init_cond_frame,
        current_vision_feats,
        current_vision_pos_embeds,
        feat_sizes,
        output_dict,
        num_frames,
        track_in_reverse,
        conditioned_cache=None,
    ) -> torch.Tensor:
        """:meth:`_prepare_memory_conditioned_features`, served from a cache when allowed."""
        if conditioned_cache is None or is_init_cond_frame or self.num_maskmem == 0 or self.training:
            return self._prepare_memory_conditioned_features(
                frame_idx, is_init_cond_frame, current_vision_feats, current_vision_pos_embeds,
                feat_sizes, output_dict, num_frames, track_in_reverse,
            )
        selection = self._select_memories(frame_idx, output_dict, num_frames, track_in_reverse)
        key = (id(output_dict), frame_idx, track_in_reverse)
        cached = conditioned_cache.lookup(key, selection)
        if cached is not None:
            return cached
        # The first self-attention sees only the frame: shared by objects and passes.
        first = conditioned_cache.first_self_attention(
            frame_idx,
            current_vision_feats[-1].shape,
            lambda: self.memory_attention.first_layer_self_attention(
                current_vision_feats[-1], current_vision_pos_embeds[-1]
            ),
        )
        pix_feat = self._prepare_memory_conditioned_features(
            frame_idx, is_init_cond_frame, current_vision_feats, current_vision_pos_embeds,
            feat_sizes, output_dict, num_frames, track_in_reverse, selection=selection,
            first_self_attention=first,
        )
        conditioned_cache.store(key, selection, pix_feat)
        return pix_feat

    # ------------------------------------------------------------------ memory write
    def _encode_new_memory(
        self,
        current_vision_feats: List[torch.Tensor],
        feat_sizes: List[Tuple[int, int]],
        pred_masks_high_res: torch.Tensor,
        object_score_logits: torch.Tensor,
        is_mask_from_pts: bool,
    ) -> Tuple[torch.Tensor, List[torch.Tensor]]:
        """Memory of this frame: (features (B, mem_dim, H, W), [pos enc (B, mem_dim, H, W)])."""
        feats = current_vision_feats[-1]
        batch, C = feats.size(1), self.hidden_dim
        H, W = feat_sizes[-1]
        pix_feat = feats.permute(1, 2, 0).view(batch, C, H, W)
        if self.non_overlap_masks_for_mem_enc and not self.training:
            pred_masks_high_res = self._apply_non_overlapping_constraints(pred_masks_high_res)
        if self.binarize_mask_from_pts_for_mem_enc and is_mask_from_pts and not self.training:
            mask_for_mem = (pred_masks_high_res > 0).float()
        else:
            mask_for_mem = torch.sigmoid(pred_masks_high_res)
        if self.sigmoid_scale_for_mem_enc != 1.0:
            mask_for_mem = mask_for_mem * self.sigmoid_scale_for_mem_enc
        if self.sigmoid_bias_for_mem_enc != 0.0:
            mask_for_mem = mask_for_mem + self.sigmoid_bias_for_mem_enc
        out = self.memory_encoder(pix_feat, mask_for_mem, skip_mask_sigmoid=True)
        features, pos_enc = out["vision_features"], out["vision_pos_enc"]
        if self.no_obj_embed_spatial is not None:
            absent = 1.0 - (object_score_logits > 0).float()
            features = features + absent[..., None, None] * self.no_obj_embed_spatial[..., None, None]
        return features, pos_enc

    # ------------------------------------------------------------------ one frame
    def _track_step(
        self,
        frame_idx,
        is_init_cond_frame,
        current_vision_feats,
        current_vision_pos_embeds,
        feat_sizes,
        point_inputs,
        mask_inputs,
        output_dict,
        num_frames,
        track_in_reverse,
        prev_sam_mask_logits,
        conditioned_cache=None,
    ):
        """Masks for one frame; returns (current_out, sam_outputs, high_res_features, pix_feat)."""
        current_out = {"point_inputs": point_inputs, "mask_inputs": mask_inputs}
        if len(current_vision_feats) > 1:
            high_res_features = [
                x.permute(1, 2, 0).view(x.size(1), x.size(2), *size)
                for x, size in zip(current_vision_feats[:-1], feat_sizes[:-1])
            ]
        else:
            high_res_features = None
        if mask_inputs is not None and self.use_mask_input_as_output_without_sam:
            pix_feat = current_vision_feats[-1].permute(1, 2, 0)
            pix_feat = pix_feat.view(-1, self.hidden_dim, *feat_sizes[-1])
            sam_outputs = self._use_mask_as_output(pix_feat, high_res_features, mask_inputs)
        else:
            pix_feat = self._memory_conditioned_features(
                frame_idx,
                is_init_cond_frame,
                current_vision_feats[-1:],
                current_vision_pos_embeds[-1:],
                feat_sizes[-1:],
                output_dict,
                num_frames,
                track_in_reverse,
                conditioned_cache,
            )
            if prev_sam_mask_logits is not None:
                # A refinement click reuses the previous logits as the dense prompt.
                mask_inputs = prev_sam_mask_logits
            sam_outputs = self._forward_sam_heads(
                backbone_features=pix_feat,
                point_inputs=point_inputs,
                mask_inputs=mask_inputs,
                high_res_features=high_res_features,
                multimask_output=self._use_multimask(is_init_cond_frame, point_inputs),
            )
        return current_out, sam_outputs, high_res_features, pix_feat

    def _encode_memory_in_output(
        self,
        current_vision_feats,
        feat_sizes,
        point_inputs,
        run_mem_encoder,
        high_res_masks,
        object_score_logits,
        current_out,
    ) -> None:
        if run_mem_encoder and self.num_maskmem > 0:
            features, pos_enc = self._encode_new_memory(
                current_vision_feats=current_vision_feats,
                feat_sizes=feat_sizes,
                pred_masks_high_res=high_res_masks,
                object_score_logits=object_score_logits,
                is_mask_from_pts=point_inputs is not None,
            )
        else:
            features, pos_enc = None, None
        current_out["maskmem_features"] = features
        current_out["maskmem_pos_enc"] = pos_enc

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
        conditioned_cache=None,
    ) -> dict:
        """Predict one frame's masks for a batch of objects and (optionally) its memory.

        Returns a dict with point_inputs, mask_inputs, pred_masks (B,1,S/4,S/4),
        pred_masks_high_res (B,1,S,S), obj_ptr (B,C), object_score_logits (B,1) in eval,
        maskmem_features and maskmem_pos_enc (None when the memory encoder is skipped).
        ``conditioned_cache`` (optional, see sam2.video.feature_cache) reuses memory-conditioned
        features of a frame whose memories have not changed since they were computed.
        """
        current_out, sam_outputs, _, _ = self._track_step(
            frame_idx,
            is_init_cond_frame,
            current_vision_feats,
            current_vision_pos_embeds,
            feat_sizes,
            point_inputs,
            mask_inputs,
            output_dict,
            num_frames,
            track_in_reverse,
            prev_sam_mask_logits,
            conditioned_cache,
        )
        _, _, _, low_res_masks, high_res_masks, obj_ptr, object_score_logits = sam_outputs
        current_out["pred_masks"] = low_res_masks
        current_out["pred_masks_high_res"] = high_res_masks
        current_out["obj_ptr"] = obj_ptr
        if not self.training:
            current_out["object_score_logits"] = object_score_logits
        self._encode_memory_in_output(
            current_vision_feats,
            feat_sizes,
            point_inputs,
            run_mem_encoder,
            high_res_masks,
            object_score_logits,
            current_out,
        )
        return current_out

    def _use_multimask(self, is_init_cond_frame: bool, point_inputs: Optional[dict]) -> bool:
        """Three candidate masks only for the first click(s) of a conditioning frame."""
        num_pts = 0 if point_inputs is None else point_inputs["point_labels"].size(1)
        return (
            self.multimask_output_in_sam
            and (is_init_cond_frame or self.multimask_output_for_tracking)
            and self.multimask_min_pt_num <= num_pts <= self.multimask_max_pt_num
        )

    def _apply_non_overlapping_constraints(self, pred_masks: torch.Tensor) -> torch.Tensor:
        """Where objects overlap, keep only the highest logit; others drop to at most -10."""
        if pred_masks.size(0) == 1:
            return pred_masks
        winner = torch.argmax(pred_masks, dim=0, keepdim=True)
        ids = torch.arange(pred_masks.size(0), device=pred_masks.device)[:, None, None, None]
        return torch.where(winner == ids, pred_masks, torch.clamp(pred_masks, max=-10.0))
