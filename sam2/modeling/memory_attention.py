"""Memory attention: conditions the current frame's features on memories of past frames.

Each layer is pre-norm: self-attention over the current frame's tokens, cross-attention
from them to the memory tokens (spatial memories of earlier frames followed by object-
pointer tokens), then a feed-forward block. With RoPE attention, the object-pointer
tokens at the end of the memory are excluded from the rotation (they have no position on
the grid).
"""

from torch import Tensor, nn

from sam2.modeling.linear_ops import linear
from sam2.modeling.sam.transformer import RoPEAttention
from sam2.modeling.sam2_utils import get_activation_fn, get_clones


class MemoryAttentionLayer(nn.Module):
    """One pre-norm block: self-attention, cross-attention to memory, MLP (all residual)."""

    def __init__(
        self,
        activation: str,
        cross_attention: nn.Module,
        d_model: int,
        dim_feedforward: int,
        dropout: float,
        pos_enc_at_attn: bool,
        pos_enc_at_cross_attn_keys: bool,
        pos_enc_at_cross_attn_queries: bool,
        self_attention: nn.Module,
    ):
        """
        activation: "relu" | "gelu" | "glu" for the feed-forward block.
        cross_attention / self_attention: attention modules (usually RoPEAttention).
        d_model: token width; dim_feedforward: hidden width of the MLP.
        dropout: dropout after each residual branch and inside the MLP (training only).
        pos_enc_at_attn: add the query position encoding before self-attention.
        pos_enc_at_cross_attn_keys / _queries: add position encodings before cross-attention.
        """
        super().__init__()
        self.d_model = d_model
        self.dim_feedforward = dim_feedforward
        self.dropout_value = dropout
        # Registration order = checkpoint key order.
        self.self_attn = self_attention
        self.cross_attn_image = cross_attention
        self.linear1 = nn.Linear(d_model, dim_feedforward)
        self.dropout = nn.Dropout(dropout)
        self.linear2 = nn.Linear(dim_feedforward, d_model)
        self.norm1 = nn.LayerNorm(d_model)
        self.norm2 = nn.LayerNorm(d_model)
        self.norm3 = nn.LayerNorm(d_model)
        self.dropout1 = nn.Dropout(dropout)
        self.dropout2 = nn.Dropout(dropout)
        self.dropout3 = nn.Dropout(dropout)
        self.activation_str = activation
        self.activation = get_activation_fn(activation)
        self.pos_enc_at_attn = pos_enc_at_attn
        self.pos_enc_at_cross_attn_queries = pos_enc_at_cross_attn_queries
        self.pos_enc_at_cross_attn_keys = pos_enc_at_cross_attn_keys

    def _self_attention_block(self, tgt: Tensor, query_pos: Tensor | None) -> Tensor:
        normed = self.norm1(tgt)
        qk = normed + query_pos if self.pos_enc_at_attn else normed
        return tgt + self.dropout1(self.self_attn(qk, qk, v=normed))

    def _cross_attention_block(
        self,
        tgt: Tensor,
        memory: Tensor,
        query_pos: Tensor | None,
        pos: Tensor | None,
        num_k_exclude_rope: int,
    ) -> Tensor:
        extra = {}
        if num_k_exclude_rope > 0:
            if not isinstance(self.cross_attn_image, RoPEAttention):
                raise ValueError("num_k_exclude_rope needs a RoPEAttention cross-attention")
            extra["num_k_exclude_rope"] = num_k_exclude_rope
        normed = self.norm2(tgt)
        q = normed + query_pos if self.pos_enc_at_cross_attn_queries else normed
        k = memory + pos if self.pos_enc_at_cross_attn_keys else memory
        return tgt + self.dropout2(self.cross_attn_image(q=q, k=k, v=memory, **extra))

    def forward(
        self,
        tgt: Tensor,
        memory: Tensor,
        pos: Tensor | None = None,
        query_pos: Tensor | None = None,
        num_k_exclude_rope: int = 0,
        self_attended: Tensor | None = None,
    ) -> Tensor:
        """tgt/query_pos: (B, N, d_model); memory/pos: (B, M, mem_dim) -> (B, N, d_model).

        ``self_attended``: this layer's self-attention output for ``tgt``, if already known.
        """
        tgt = self._self_attention_block(tgt, query_pos) if self_attended is None else self_attended
        tgt = self._cross_attention_block(tgt, memory, query_pos, pos, num_k_exclude_rope)
        hidden = self.dropout(linear(self.norm3(tgt), self.linear1, self.activation))
        return tgt + self.dropout3(linear(hidden, self.linear2))


class MemoryAttention(nn.Module):
    """``num_layers`` copies of ``layer`` followed by a final LayerNorm.

    Inputs and output are sequence-first (tokens, B, C); ``batch_first`` says whether the
    layers expect batch-first tensors (the official configs: yes).
    """

    def __init__(
        self,
        d_model: int,
        pos_enc_at_input: bool,
        layer: nn.Module,
        num_layers: int,
        batch_first: bool = True,
    ):
        super().__init__()
        self.d_model = d_model
        self.layers = get_clones(layer, num_layers)
        self.num_layers = num_layers
        self.norm = nn.LayerNorm(d_model)
        self.pos_enc_at_input = pos_enc_at_input
        self.batch_first = batch_first

    def forward(
        self,
        curr: Tensor | list[Tensor],
        memory: Tensor,
        curr_pos: Tensor | list[Tensor] | None = None,
        memory_pos: Tensor | None = None,
        num_obj_ptr_tokens: int = 0,
        first_self_attention: Tensor | None = None,
    ) -> Tensor:
        """Attend the current frame to the memory.

        curr, curr_pos: (N, B, d_model) current-frame tokens and their position encoding
            (a one-element list is accepted too);
        memory, memory_pos: (M, B, mem_dim) memory tokens, the last ``num_obj_ptr_tokens``
            of which are object pointers (no RoPE);
        first_self_attention: optional :meth:`first_layer_self_attention` of curr.
        Returns (N, B, d_model).
        """
        if isinstance(curr, list):
            if not isinstance(curr_pos, list) or len(curr) != 1 or len(curr_pos) != 1:
                raise ValueError("curr and curr_pos given as lists must both hold exactly one tensor")
            curr, curr_pos = curr[0], curr_pos[0]
        if curr.shape[1] != memory.shape[1]:
            raise ValueError(f"batch size differs: current frame {curr.shape[1]}, memory {memory.shape[1]}")

        output, curr_pos = self._queries(curr, curr_pos)
        memory = self._to_layer_layout(memory)
        memory_pos = self._to_layer_layout(memory_pos)

        for i, layer in enumerate(self.layers):
            extra = {}
            if isinstance(layer.cross_attn_image, RoPEAttention):
                extra["num_k_exclude_rope"] = num_obj_ptr_tokens
            if i == 0 and first_self_attention is not None:
                extra["self_attended"] = first_self_attention
            output = layer(tgt=output, memory=memory, pos=memory_pos, query_pos=curr_pos, **extra)

        return self._to_layer_layout(self.norm(output))

    def _to_layer_layout(self, x: Tensor | None) -> Tensor | None:
        return x.transpose(0, 1) if (self.batch_first and x is not None) else x

    def _queries(self, curr: Tensor, curr_pos: Tensor | None) -> tuple[Tensor, Tensor | None]:
        output = curr
        if self.pos_enc_at_input and curr_pos is not None:
            output = output + 0.1 * curr_pos
        return self._to_layer_layout(output), self._to_layer_layout(curr_pos)

    def first_layer_self_attention(self, curr: Tensor, curr_pos: Tensor | None) -> Tensor:
        """The first layer's self-attention output for (N, B, d_model) frame tokens.

        It depends on the frame alone (memory enters later), so a video predictor can
        compute it once per frame and pass it to :meth:`forward` as
        ``first_self_attention`` for every object and every tracking pass.
        """
        output, curr_pos = self._queries(curr, curr_pos)
        return self.layers[0]._self_attention_block(output, curr_pos)
