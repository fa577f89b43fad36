"""Export-shaped views of a SAM 2 model: one ``nn.Module`` per ONNX graph.

Each wrapper reuses the model's own submodules (no weights are copied or changed) and gives
them a forward with plain tensor inputs and outputs, no Python-side decisions on data and
no complex numbers, so ``torch.onnx.export`` can trace it with dynamic axes. The split:

* :class:`ImageEncoderGraph` – one frame -> image features (+ the no-memory embedding);
* :class:`MemoryAttentionGraph` – a frame's features + chosen memories -> conditioned features;
  builds the memory tokens (temporal encodings, pointer encodings and splitting) inside, and
  applies RoPE with cos/sin tables in real arithmetic;
* :class:`DecoderGraph` – prompt encoder + mask decoder, every mask token's output (choosing
  among them is the runtime's job, as it depends on the call);
* :class:`MemoryEncoderGraph` – low-res mask logits (upsampled inside) + features -> memory;
* :class:`MaskPromptGraph` – a binary mask given as a prompt -> its logits and the decoder's
  mask input (``use_mask_input_as_output_without_sam``).

Shapes: S = image size, h = w = S/16 (backbone stride), C = hidden dim, B = objects.
"""

from typing import Tuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from sam2.modeling.position_encoding import compute_axial_cis
from sam2.modeling.sam.transformer import RoPEAttention
from sam2.modeling.sam2_base import MASK_AS_OUTPUT_BIAS, MASK_AS_OUTPUT_SCALE, SAM2Base
from sam2.modeling.sam2_utils import get_1d_sine_pe

# Queries per attention call in the memory-attention graph (see _rope_attention).
QUERY_CHUNK = 1024


class UnsupportedConfig(ValueError):
    """The model uses an option the ONNX graphs do not implement."""


def check_exportable(model: SAM2Base) -> None:
    """Raise :class:`UnsupportedConfig` for options outside the official configs' set."""
    problems = []
    if model.num_maskmem <= 0:
        problems.append("num_maskmem must be > 0")
    if not model.directly_add_no_mem_embed:
        problems.append("directly_add_no_mem_embed must be true")
    if not model.use_high_res_features_in_sam:
        problems.append("use_high_res_features_in_sam must be true")
    if model.non_overlap_masks_for_mem_enc:
        problems.append("non_overlap_masks_for_mem_enc is not supported")
    if model.soft_no_obj_ptr:
        problems.append("soft_no_obj_ptr is not supported")
    attn = model.memory_attention
    if not attn.batch_first:
        problems.append("memory attention must be batch_first")
    for layer in attn.layers:
        if not isinstance(layer.self_attn, RoPEAttention) or not isinstance(
            layer.cross_attn_image, RoPEAttention
        ):
            problems.append("memory attention layers must use RoPEAttention")
            break
    if problems:
        raise UnsupportedConfig("this model cannot be exported to ONNX: " + "; ".join(problems))


def _rotation_tables(attn: RoPEAttention, side: int) -> Tuple[Tensor, Tensor]:
    """cos and sin (side*side, head_dim/2) of the RoPE rotations on a side x side grid."""
    cis = compute_axial_cis(
        dim=attn.internal_dim // attn.num_heads, end_x=side, end_y=side, theta=_rope_theta(attn)
    )
    return cis.real.contiguous(), cis.imag.contiguous()


def _rope_theta(attn: RoPEAttention) -> float:
    return float(attn.compute_cis.keywords["theta"])


def rotate_pairs(x: Tensor, cos: Tensor, sin: Tensor) -> Tensor:
    """RoPE in real arithmetic: channel pairs (2i, 2i+1) of x (..., N, D) rotated by (N, D/2) angles.

    The pair (a, b) is the complex number a + ib; multiplying by cos + i sin gives
    (a cos - b sin, a sin + b cos), which is what the complex version computes.
    """
    pairs = x.reshape(*x.shape[:-1], x.shape[-1] // 2, 2)
    a, b = pairs[..., 0], pairs[..., 1]
    return torch.stack([a * cos - b * sin, a * sin + b * cos], dim=-1).flatten(-2)


def _rope_attention(
    attn: RoPEAttention, q: Tensor, k_grid: Tensor, k_extra: Tensor, v: Tensor, cos: Tensor, sin: Tensor
) -> Tensor:
    """RoPEAttention.forward with keys in two parts: whole frames of the grid (rotated) and extra
    tokens (object pointers, not rotated). q: (B, N, C); k_grid: (B, F*N, kv); k_extra: (B, P, kv);
    v: (B, F*N + P, kv)."""
    qh = rotate_pairs(attn._split_heads(attn.q_proj(q)), cos, sin)
    kg = attn._split_heads(attn.k_proj(k_grid))
    b, heads, n_keys, d = kg.shape
    # Each frame of keys gets the queries' rotations: (B, heads, F, N, D).
    kg = rotate_pairs(kg.reshape(b, heads, -1, cos.shape[0], d), cos, sin).reshape(b, heads, n_keys, d)
    ke = attn._split_heads(attn.k_proj(k_extra))
    kh = torch.cat([kg, ke], dim=2)
    # With one head, softmax(QK^T)(V W + b) = (softmax(QK^T) V) W + b, the rows of softmax summing
    # to 1: the attention product then runs on the memories' kv_in_dim channels (64) instead of
    # the projected ones (256), 4x fewer operations in the graph's largest product (tiny: 4096
    # queries x 7 frames x 4096 keys), and V W on the queries only, not on every key.
    reassociate = attn.num_heads == 1 and v.shape[-1] < attn.internal_dim
    vh = v[:, None] if reassociate else attn._split_heads(attn.v_proj(v))
    # onnxruntime materialises the (queries x keys) attention matrix; with 7 memory frames of a
    # 64x64 grid that is 0.5 GB per object and head. Queries are independent, so they run in
    # fixed chunks (the query count is static) to bound it.
    n = qh.shape[2]
    out = torch.cat(
        [
            F.scaled_dot_product_attention(qh[:, :, s : s + QUERY_CHUNK], kh, vh)
            for s in range(0, n, QUERY_CHUNK)
        ],
        dim=2,
    )
    if reassociate:
        return attn.out_proj(attn.v_proj(out[:, 0]))
    return attn.out_proj(attn._merge_heads(out))


class ImageEncoderGraph(nn.Module):
    """image (1, 3, S, S) normalised -> vision_features (1, C, h, w) (what memory attention and the
    memory encoder read), image_embed (1, C, h, w) (with the no-memory embedding: the features of
    a frame without memories, and the image predictor's embedding), high_res_0 (1, C/8, 4h, 4w),
    high_res_1 (1, C/4, 2h, 2w) (projected for the mask decoder)."""

    input_names = ["image"]
    output_names = ["vision_features", "image_embed", "high_res_0", "high_res_1"]

    def __init__(self, model: SAM2Base):
        super().__init__()
        self.model = model

    def forward(self, image: Tensor):
        out = self.model.forward_image(image)
        fpn = out["backbone_fpn"]
        vision = fpn[-1]
        embed = vision + self.model.no_mem_embed.reshape(1, -1, 1, 1)
        return vision, embed, fpn[0], fpn[1]


class MemoryAttentionGraph(nn.Module):
    """Condition a frame on memories.

    Inputs: vision_features (B, C, h, w) of the frame (the same map for every object);
    memory (B, F, mem_dim, h, w) spatial memories of F frames; memory_slots (F,) int64 their
    temporal slots (0 = prompted frame, num_maskmem - 1 = previous frame); obj_ptrs (B, P, C)
    object pointers; obj_ptr_pos (P,) float32 their temporal distance / (max pointers - 1).
    Output: conditioned (B, C, h, w).
    """

    input_names = ["vision_features", "memory", "memory_slots", "obj_ptrs", "obj_ptr_pos"]
    output_names = ["conditioned"]

    def __init__(self, model: SAM2Base):
        super().__init__()
        check_exportable(model)
        self.model = model
        side = model.sam_image_embedding_size
        self.side = side
        with torch.no_grad():
            grid = torch.zeros(1, model.hidden_dim, side, side)
            vision_pos = model.image_encoder.neck.position_encoding(grid)
            memory_pos = model.memory_encoder.position_encoding(torch.zeros(1, model.mem_dim, side, side))
        # Position encodings depend on the grid alone: constants of the graph, (h*w, channels).
        self.register_buffer("vision_pos", vision_pos.flatten(2).transpose(1, 2)[0].clone(), persistent=False)
        self.register_buffer("memory_pos", memory_pos.flatten(2).transpose(1, 2)[0].clone(), persistent=False)
        layer0 = model.memory_attention.layers[0]
        cos, sin = _rotation_tables(layer0.self_attn, side)
        self.register_buffer("rope_cos", cos, persistent=False)
        self.register_buffer("rope_sin", sin, persistent=False)
        for layer in model.memory_attention.layers:
            for attn in (layer.self_attn, layer.cross_attn_image):
                c, s = _rotation_tables(attn, side)
                if not (torch.equal(c, cos) and torch.equal(s, sin)):
                    raise UnsupportedConfig("memory attention layers use different RoPE tables")

    def _memory_tokens(self, memory: Tensor, slots: Tensor) -> Tuple[Tensor, Tensor]:
        """(B, F, mem_dim, h, w) -> tokens (B, F*h*w, mem_dim) and their position (1, F*h*w, mem_dim)."""
        m = self.model
        b, f, c, h, w = memory.shape
        tokens = memory.permute(0, 1, 3, 4, 2).reshape(b, f * h * w, c)
        tpos = m.maskmem_tpos_enc.reshape(m.num_maskmem, c)[(m.num_maskmem - 1) - slots]  # (F, mem_dim)
        pos = (self.memory_pos[None] + tpos[:, None, :]).reshape(1, f * h * w, c)
        return tokens, pos

    def _pointer_tokens(self, obj_ptrs: Tensor, rel_pos: Tensor) -> Tuple[Tensor, Tensor]:
        """(B, P, C) pointers -> tokens (B, P*split, mem_dim) and their position (1, P*split, mem_dim)."""
        m = self.model
        b, p, c = obj_ptrs.shape
        mem_dim = m.mem_dim
        if m.add_tpos_enc_to_obj_ptrs:
            tpos_dim = c if m.proj_tpos_enc_in_obj_ptrs else mem_dim
            pos = m.obj_ptr_tpos_proj(get_1d_sine_pe(rel_pos, dim=tpos_dim))  # (P, mem_dim)
        else:
            pos = rel_pos[:, None] * torch.zeros(1, mem_dim)
        split = c // mem_dim
        tokens = obj_ptrs.reshape(b, p * split, mem_dim)
        pos = pos[:, None, :].expand(p, split, mem_dim).reshape(1, p * split, mem_dim)
        return tokens, pos

    def forward(
        self,
        vision_features: Tensor,
        memory: Tensor,
        memory_slots: Tensor,
        obj_ptrs: Tensor,
        obj_ptr_pos: Tensor,
    ) -> Tensor:
        m = self.model
        attn = m.memory_attention
        b, c, h, w = vision_features.shape
        curr = vision_features.flatten(2).transpose(1, 2)  # (B, h*w, C)
        curr_pos = self.vision_pos[None]
        mem, mem_pos = self._memory_tokens(memory, memory_slots)
        ptr, ptr_pos = self._pointer_tokens(obj_ptrs, obj_ptr_pos)
        values = torch.cat([mem, ptr], dim=1)
        cos, sin = self.rope_cos, self.rope_sin

        out = curr + 0.1 * curr_pos if attn.pos_enc_at_input else curr
        for layer in attn.layers:
            normed = layer.norm1(out)
            qk = normed + curr_pos if layer.pos_enc_at_attn else normed
            out = out + _rope_attention(layer.self_attn, qk, qk, qk[:, :0], normed, cos, sin)
            normed = layer.norm2(out)
            q = normed + curr_pos if layer.pos_enc_at_cross_attn_queries else normed
            if layer.pos_enc_at_cross_attn_keys:
                k_grid, k_ptr = mem + mem_pos, ptr + ptr_pos
            else:
                k_grid, k_ptr = mem, ptr
            out = out + _rope_attention(layer.cross_attn_image, q, k_grid, k_ptr, values, cos, sin)
            out = out + layer.linear2(layer.activation(layer.linear1(layer.norm3(out))))
        out = attn.norm(out)
        return out.transpose(1, 2).reshape(b, c, h, w)


class DecoderGraph(nn.Module):
    """Prompt encoder + mask decoder for B prompt sets, every mask token's output.

    Inputs: image_embed (B, C, h, w); high_res_0 (B, C/8, 4h, 4w); high_res_1 (B, C/4, 2h, 2w);
    point_coords (B, P, 2) in model-input pixels (padding points included, label -1);
    point_labels (B, P) int64; mask_input (B, 1, 4h, 4w) logits; has_mask_input (1,) float32
    (1: use mask_input, 0: no mask prompt); ptr_presence (B, 1) float32 (1 normally; 0/1 for a
    mask used as output, whose pointer gets the "no object" pointer where it is empty).
    Outputs: masks (B, 1+M, 4h, 4w) logits (token 0 = the single-mask output); iou (B, 1+M);
    obj_ptr (B, 1+M, C) the object pointer each token would give; object_score_logits (B, 1).
    """

    input_names = [
        "image_embed",
        "high_res_0",
        "high_res_1",
        "point_coords",
        "point_labels",
        "mask_input",
        "has_mask_input",
        "ptr_presence",
    ]
    output_names = ["masks", "iou", "obj_ptr", "object_score_logits"]

    def __init__(self, model: SAM2Base):
        super().__init__()
        self.model = model
        with torch.no_grad():
            self.register_buffer(
                "dense_pe", model.sam_prompt_encoder.get_dense_pe().clone(), persistent=False
            )

    def forward(
        self,
        image_embed,
        high_res_0,
        high_res_1,
        point_coords,
        point_labels,
        mask_input,
        has_mask_input,
        ptr_presence,
    ):
        m = self.model
        pe = m.sam_prompt_encoder
        decoder = m.sam_mask_decoder
        sparse = pe._embed_points(point_coords, point_labels, pad=False)
        h, w = pe.image_embedding_size
        no_mask = pe.no_mask_embed.weight.reshape(1, -1, 1, 1).expand(point_coords.shape[0], -1, h, w)
        dense = torch.where(has_mask_input.reshape(1, 1, 1, 1) > 0, pe._embed_masks(mask_input), no_mask)
        masks, iou, tokens, object_score_logits = decoder.predict_masks(
            image_embeddings=image_embed,
            image_pe=self.dense_pe,
            sparse_prompt_embeddings=sparse,
            dense_prompt_embeddings=dense,
            repeat_image=False,
            high_res_features=[high_res_0, high_res_1],
        )
        obj_ptr = m.obj_ptr_proj(tokens)  # (B, 1+M, C)
        if m.pred_obj_scores:
            appearing = (object_score_logits > 0).float()[:, :, None]
            obj_ptr = m._mix_in_no_obj_ptr(obj_ptr, appearing)
            obj_ptr = m._mix_in_no_obj_ptr(obj_ptr, ptr_presence[:, :, None])
        return masks, iou, obj_ptr, object_score_logits


class MemoryEncoderGraph(nn.Module):
    """A frame's new memory for B objects.

    Inputs: vision_features (B, C, h, w); mask_logits (B, 1, S/4, S/4) (upsampled to S x S
    here, bilinear); object_score_logits (B, 1); binarize (1,) float32 (1: masks from clicks,
    thresholded at 0 when the config says so; 0: sigmoid). Output: memory (B, mem_dim, h, w).
    """

    input_names = ["vision_features", "mask_logits", "object_score_logits", "binarize"]
    output_names = ["memory"]

    def __init__(self, model: SAM2Base):
        super().__init__()
        self.model = model

    def forward(self, vision_features, mask_logits, object_score_logits, binarize):
        m = self.model
        size = (m.image_size, m.image_size)
        high_res = F.interpolate(mask_logits, size=size, mode="bilinear", align_corners=False)
        mask = torch.sigmoid(high_res)
        if m.binarize_mask_from_pts_for_mem_enc:
            mask = torch.where(binarize.reshape(1, 1, 1, 1) > 0, (high_res > 0).float(), mask)
        if m.sigmoid_scale_for_mem_enc != 1.0:
            mask = mask * m.sigmoid_scale_for_mem_enc
        if m.sigmoid_bias_for_mem_enc != 0.0:
            mask = mask + m.sigmoid_bias_for_mem_enc
        memory = m.memory_encoder(vision_features, mask, skip_mask_sigmoid=True)["vision_features"]
        if m.no_obj_embed_spatial is not None:
            absent = 1.0 - (object_score_logits > 0).float()
            memory = memory + absent[..., None, None] * m.no_obj_embed_spatial[..., None, None]
        return memory


class MaskPromptGraph(nn.Module):
    """A binary mask prompt used as the output (``use_mask_input_as_output_without_sam``).

    Input: mask (B, 1, S, S) float32 0/1. Outputs: mask_logits (B, 1, S/4, S/4) (the mask as
    +-10 logits, downsampled with antialiasing); decoder_mask (B, 1, S/4, S/4) (the mask
    brought to the logit grid by the model's ``mask_downsample``, fed to the decoder to get the
    object pointer).
    """

    input_names = ["mask"]
    output_names = ["mask_logits", "decoder_mask"]

    def __init__(self, model: SAM2Base):
        super().__init__()
        self.model = model

    def forward(self, mask):
        high_res = mask * MASK_AS_OUTPUT_SCALE + MASK_AS_OUTPUT_BIAS
        side = mask.shape[-1] // 4
        low_res = F.interpolate(
            high_res, size=(side, side), mode="bilinear", align_corners=False, antialias=True
        )
        return low_res, self.model.mask_downsample(mask)
