"""Attention layers of SAM 2.

* ``Attention``: multi-head attention whose q/k/v projections may shrink the width
  (``downsample_rate``) and whose keys/values may come from a different width (``kv_in_dim``).
* ``RoPEAttention``: the same with 2-D axial rotary position encoding on q and k (memory
  attention).
* ``TwoWayAttentionBlock`` / ``TwoWayTransformer``: the mask decoder's transformer, in which
  prompt tokens and image tokens attend to each other in turn.

Attention itself is ``sam2.modeling.attention_ops.attend`` (scale 1/sqrt(head_dim)).
"""

import math
from functools import partial

import torch
from torch import Tensor, nn

from sam2.modeling.attention_ops import attend, attends_by_gemms
from sam2.modeling.linear_ops import linear
from sam2.modeling.position_encoding import apply_rotary_enc, compute_axial_cis
from sam2.modeling.sam2_utils import MLP


class Attention(nn.Module):
    """Multi-head attention with optional width reduction inside the heads.

    Queries have ``embedding_dim`` channels, keys/values ``kv_in_dim`` (default: same);
    all are projected to ``embedding_dim // downsample_rate`` channels split over
    ``num_heads`` heads, and the result is projected back to ``embedding_dim``.
    """

    def __init__(
        self,
        embedding_dim: int,
        num_heads: int,
        downsample_rate: int = 1,
        dropout: float = 0.0,
        kv_in_dim: int | None = None,
    ) -> None:
        super().__init__()
        self.embedding_dim = embedding_dim
        self.kv_in_dim = embedding_dim if kv_in_dim is None else kv_in_dim
        self.internal_dim = embedding_dim // downsample_rate
        self.num_heads = num_heads
        if self.internal_dim % num_heads != 0:
            raise ValueError(
                f"num_heads={num_heads} must divide the internal width "
                f"{self.internal_dim} (= embedding_dim {embedding_dim} // downsample_rate {downsample_rate})"
            )
        self.q_proj = nn.Linear(embedding_dim, self.internal_dim)
        self.k_proj = nn.Linear(self.kv_in_dim, self.internal_dim)
        self.v_proj = nn.Linear(self.kv_in_dim, self.internal_dim)
        self.out_proj = nn.Linear(self.internal_dim, embedding_dim)
        self.dropout_p = dropout

    def _split_heads(self, x: Tensor) -> Tensor:
        """(B, N, C) -> (B, heads, N, C / heads)."""
        b, n, c = x.shape
        return x.reshape(b, n, self.num_heads, c // self.num_heads).transpose(1, 2)

    @staticmethod
    def _merge_heads(x: Tensor) -> Tensor:
        """(B, heads, N, c) -> (B, N, heads * c)."""
        b, h, n, c = x.shape
        return x.transpose(1, 2).reshape(b, n, h * c)

    def _project(self, q: Tensor, k: Tensor, v: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        return (
            self._split_heads(linear(q, self.q_proj)),
            self._split_heads(linear(k, self.k_proj)),
            self._split_heads(linear(v, self.v_proj)),
        )

    def _attend(self, q: Tensor, k: Tensor, v: Tensor) -> Tensor:
        """Per-head attention then output projection; dropout only while training."""
        drop = self.dropout_p if self.training else 0.0
        out = attend(q, k, v, dropout_p=drop)
        return linear(self._merge_heads(out), self.out_proj)

    def _values_after_weights(self, v_in: Tensor, q_in: Tensor) -> bool:
        """Whether to weigh the raw values before projecting them (``_attend_raw_values``).

        Softmax rows sum to one, so ``weights @ (v W^T + b) == (weights @ v) W^T + b``: with
        narrow values (memory attention: 64 channels projected to 256) the second GEMM of
        attention then costs a quarter. Only where attention runs as GEMMs: the fused SDPA
        kernels were not faster with narrow values (measured on the CPU).
        """
        dtype = torch.get_autocast_dtype("cpu") if torch.is_autocast_enabled("cpu") else q_in.dtype
        return (
            not self.training
            and self.kv_in_dim < self.internal_dim // self.num_heads
            and type(self.v_proj) is nn.Linear  # not int8 (packed weights)
            and attends_by_gemms(dtype, q_in.device)
        )

    def _attend_raw_values(self, q: Tensor, k: Tensor, v_in: Tensor) -> Tensor:
        """``_attend`` for unprojected values v_in (B, Nk, kv_in_dim): the attention weights
        average v_in, then each head projects its average with its slice of ``v_proj``."""
        b, heads = q.shape[0], self.num_heads
        raw = v_in.to(q.dtype).unsqueeze(1).expand(b, heads, *v_in.shape[-2:])
        averaged = attend(q, k, raw)  # (B, heads, Nq, kv_in_dim)
        head_dim = self.internal_dim // heads
        weight = self.v_proj.weight.view(heads, head_dim, self.kv_in_dim)
        out = torch.matmul(averaged, weight.transpose(1, 2).to(averaged.dtype))
        if self.v_proj.bias is not None:
            out = out + self.v_proj.bias.view(heads, 1, head_dim).to(out.dtype)
        return linear(self._merge_heads(out), self.out_proj)

    def forward(self, q: Tensor, k: Tensor, v: Tensor) -> Tensor:
        """q: (B, Nq, embedding_dim); k, v: (B, Nk, kv_in_dim) -> (B, Nq, embedding_dim)."""
        if self._values_after_weights(v, q):
            q, k = self._split_heads(linear(q, self.q_proj)), self._split_heads(linear(k, self.k_proj))
            return self._attend_raw_values(q, k, v)
        return self._attend(*self._project(q, k, v))


class RoPEAttention(Attention):
    """Attention with axial rotary position encoding of queries and keys.

    ``feat_sizes`` (x, y) is the token grid the rotation table is built for; when a call
    brings a different number of query tokens, the table is rebuilt for a square grid of
    that size. With ``rope_k_repeat`` the keys may hold several frames of that grid (memory
    cross-attention), each rotated like the queries. The last ``num_k_exclude_rope`` keys
    (object pointers, which have no grid position) are left unrotated.
    """

    def __init__(
        self,
        *args,
        rope_theta: float = 10000.0,
        rope_k_repeat: bool = False,
        feat_sizes: tuple[int, int] = (64, 64),  # stride-16 grid of a 1024 px image
        **kwargs,
    ):
        super().__init__(*args, **kwargs)
        self.compute_cis = partial(
            compute_axial_cis, dim=self.internal_dim // self.num_heads, theta=rope_theta
        )
        # A plain attribute, not a buffer: checkpoints do not carry it.
        self.freqs_cis = self.compute_cis(end_x=feat_sizes[0], end_y=feat_sizes[1])
        self.rope_k_repeat = rope_k_repeat

    def _rotations_for(self, num_tokens: int, device) -> Tensor:
        """Rotation table for ``num_tokens`` query tokens, rebuilt if the grid changed."""
        if self.freqs_cis.shape[0] != num_tokens:
            side = math.isqrt(num_tokens)
            if side * side != num_tokens:
                raise ValueError(
                    f"RoPEAttention got {num_tokens} query tokens, which is neither the configured "
                    f"grid ({self.freqs_cis.shape[0]} tokens) nor a square grid"
                )
            self.freqs_cis = self.compute_cis(end_x=side, end_y=side)
        if self.freqs_cis.device != torch.device(device):
            self.freqs_cis = self.freqs_cis.to(device)
        return self.freqs_cis

    def forward(self, q: Tensor, k: Tensor, v: Tensor, num_k_exclude_rope: int = 0) -> Tensor:
        """q: (B, Nq, C); k, v: (B, Nk, kv_in_dim) -> (B, Nq, C)."""
        raw_values = self._values_after_weights(v, q)
        if raw_values:
            q, k = self._split_heads(linear(q, self.q_proj)), self._split_heads(linear(k, self.k_proj))
        else:
            q, k, v = self._project(q, k, v)
        num_q = q.shape[-2]
        rotations = self._rotations_for(num_q, q.device)

        num_k_rope = k.shape[-2] - num_k_exclude_rope
        if num_k_rope < 0:
            raise ValueError(f"num_k_exclude_rope={num_k_exclude_rope} exceeds the {k.shape[-2]} keys")
        if num_k_rope != num_q and not (self.rope_k_repeat and num_k_rope % num_q == 0):
            raise ValueError(
                f"{num_k_rope} rotated keys do not match {num_q} queries"
                + ("" if self.rope_k_repeat else " (rope_k_repeat is off)")
                + "; keys must be whole frames of the query grid"
            )
        # In inference the keys (fresh projections) are rotated where they are: the pointer
        # tokens after them need not be copied into a new tensor, nor all the keys into float32.
        in_place = not torch.is_grad_enabled()
        q, k_rot = apply_rotary_enc(
            q, k[:, :, :num_k_rope], freqs_cis=rotations, repeat_freqs_k=self.rope_k_repeat, keys_in_place=in_place
        )
        if not in_place:
            k = torch.cat([k_rot, k[:, :, num_k_rope:]], dim=-2) if num_k_exclude_rope > 0 else k_rot
        return self._attend_raw_values(q, k, v) if raw_values else self._attend(q, k, v)


class TwoWayAttentionBlock(nn.Module):
    """One round of the mask decoder's two-way transformer.

    1. self-attention of the prompt tokens (no position encoding in the first block),
    2. tokens attend to the image, 3. MLP on the tokens, 4. the image attends to the
    tokens. Each step is residual and followed by a LayerNorm (post-norm).
    """

    def __init__(
        self,
        embedding_dim: int,
        num_heads: int,
        mlp_dim: int = 2048,
        activation: type[nn.Module] = nn.ReLU,
        attention_downsample_rate: int = 2,
        skip_first_layer_pe: bool = False,
    ) -> None:
        super().__init__()
        # Registration order = checkpoint key order.
        self.self_attn = Attention(embedding_dim, num_heads)
        self.norm1 = nn.LayerNorm(embedding_dim)
        self.cross_attn_token_to_image = Attention(
            embedding_dim, num_heads, downsample_rate=attention_downsample_rate
        )
        self.norm2 = nn.LayerNorm(embedding_dim)
        self.mlp = MLP(embedding_dim, mlp_dim, embedding_dim, num_layers=2, activation=activation)
        self.norm3 = nn.LayerNorm(embedding_dim)
        self.norm4 = nn.LayerNorm(embedding_dim)
        self.cross_attn_image_to_token = Attention(
            embedding_dim, num_heads, downsample_rate=attention_downsample_rate
        )
        self.skip_first_layer_pe = skip_first_layer_pe

    def forward(
        self, queries: Tensor, keys: Tensor, query_pe: Tensor, key_pe: Tensor
    ) -> tuple[Tensor, Tensor]:
        """queries/query_pe: (B, Nt, C) tokens; keys/key_pe: (B, HW, C) image. Returns both updated."""
        if self.skip_first_layer_pe:
            # The first block replaces the tokens outright (they already hold the PE).
            queries = self.self_attn(q=queries, k=queries, v=queries)
        else:
            q = queries + query_pe
            queries = queries + self.self_attn(q=q, k=q, v=queries)
        queries = self.norm1(queries)

        q = queries + query_pe
        k = keys + key_pe
        queries = self.norm2(queries + self.cross_attn_token_to_image(q=q, k=k, v=keys))

        queries = self.norm3(queries + self.mlp(queries))

        q = queries + query_pe
        k = keys + key_pe
        keys = self.norm4(keys + self.cross_attn_image_to_token(q=k, k=q, v=queries))
        return queries, keys


class TwoWayTransformer(nn.Module):
    """Stack of ``depth`` two-way blocks plus a last token-to-image attention.

    Queries are the prompt/output tokens (with their embedding re-added as position
    encoding at every step); keys are the flattened image embedding.
    """

    def __init__(
        self,
        depth: int,
        embedding_dim: int,
        num_heads: int,
        mlp_dim: int,
        activation: type[nn.Module] = nn.ReLU,
        attention_downsample_rate: int = 2,
    ) -> None:
        super().__init__()
        self.depth = depth
        self.embedding_dim = embedding_dim
        self.num_heads = num_heads
        self.mlp_dim = mlp_dim
        self.layers = nn.ModuleList(
            TwoWayAttentionBlock(
                embedding_dim=embedding_dim,
                num_heads=num_heads,
                mlp_dim=mlp_dim,
                activation=activation,
                attention_downsample_rate=attention_downsample_rate,
                skip_first_layer_pe=(i == 0),
            )
            for i in range(depth)
        )
        self.final_attn_token_to_image = Attention(
            embedding_dim, num_heads, downsample_rate=attention_downsample_rate
        )
        self.norm_final_attn = nn.LayerNorm(embedding_dim)

    def forward(
        self, image_embedding: Tensor, image_pe: Tensor, point_embedding: Tensor
    ) -> tuple[Tensor, Tensor]:
        """image_embedding, image_pe: (B, C, H, W); point_embedding: (B, Nt, C).

        Returns (tokens (B, Nt, C), image tokens (B, H*W, C)).
        """
        if image_embedding.shape != image_pe.shape:
            raise ValueError(
                f"image_pe {tuple(image_pe.shape)} must match image_embedding {tuple(image_embedding.shape)}"
            )
        image_tokens = image_embedding.flatten(2).permute(0, 2, 1)
        image_pe_tokens = image_pe.flatten(2).permute(0, 2, 1)

        queries, keys = point_embedding, image_tokens
        for block in self.layers:
            queries, keys = block(
                queries=queries, keys=keys, query_pe=point_embedding, key_pe=image_pe_tokens
            )

        q = queries + point_embedding
        k = keys + image_pe_tokens
        queries = self.norm_final_attn(queries + self.final_attn_token_to_image(q=q, k=k, v=keys))
        return queries, keys
