"""Hiera: the hierarchical vision transformer used as the SAM 2 image trunk.

Four stages of transformer blocks on a channels-last token map (B, H, W, C). The first
block of each later stage halves the resolution by max-pooling its attention queries and
its residual path, and widens the channels (``dim_mul``) and heads (``head_mul``). Most
blocks attend inside non-overlapping windows; ``global_att_blocks`` attend over the whole
map. Positions are encoded by a small background table resized to the patch grid plus a
window-sized table repeated over it (the "window positional embedding" of Bolya et al.,
arXiv:2311.05613).

Attribute and parameter names follow the official checkpoints; renaming any of them
breaks checkpoint loading.
"""

import logging
from collections.abc import Callable
from functools import partial

import torch
import torch.nn.functional as F
from torch import nn

from sam2.modeling.attention_ops import attend
from sam2.modeling.backbones.utils import PatchEmbed, window_partition, window_unpartition
from sam2.modeling.linear_ops import linear
from sam2.modeling.sam2_utils import MLP, DropPath

logger = logging.getLogger(__name__)


def _pool_channels_last(x: torch.Tensor, pool: nn.Module | None) -> torch.Tensor:
    """Apply a 2-D pooling module to a (B, H, W, C) map; returns (B, H', W', C)."""
    if pool is None:
        return x
    return pool(x.permute(0, 3, 1, 2)).permute(0, 2, 3, 1)


class MultiScaleAttention(nn.Module):
    """Multi-head self-attention whose queries may be pooled to a coarser grid.

    Input (B, H, W, dim). Output (B, H', W', dim_out), where (H', W') is the pooled query
    grid when ``q_pool`` is given and (H, W) otherwise. Keys/values keep full resolution.
    """

    def __init__(self, dim: int, dim_out: int, num_heads: int, q_pool: nn.Module | None = None):
        super().__init__()
        if dim_out % num_heads:
            raise ValueError(f"dim_out={dim_out} is not divisible by num_heads={num_heads}")
        self.dim = dim
        self.dim_out = dim_out
        self.num_heads = num_heads
        self.q_pool = q_pool
        self.qkv = nn.Linear(dim, dim_out * 3)
        self.proj = nn.Linear(dim_out, dim_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, h, w, _ = x.shape
        # (B, N, 3, heads, head_dim): q, k, v are strided views, no copies.
        q, k, v = linear(x, self.qkv).reshape(b, h * w, 3, self.num_heads, -1).unbind(2)

        if self.q_pool is not None:
            # Pool queries spatially; heads and head channels pool independently.
            q = _pool_channels_last(q.reshape(b, h, w, -1), self.q_pool)
            h, w = q.shape[1], q.shape[2]
            q = q.reshape(b, h * w, self.num_heads, -1)

        # Attention wants (B, heads, N, head_dim); transposes are views.
        out = attend(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2))
        out = out.transpose(1, 2).reshape(b, h, w, -1)
        return linear(out, self.proj)


class MultiScaleBlock(nn.Module):
    """Pre-norm transformer block: (windowed) attention then MLP, both residual.

    Input (B, H, W, dim) -> (B, H', W', dim_out). With ``q_stride`` the output grid is the
    input grid max-pooled by ``q_stride``; with ``dim != dim_out`` the residual path goes
    through a Linear ``proj`` (applied to the normalised input, then pooled).
    ``window_size`` 0 means global attention.
    """

    def __init__(
        self,
        dim: int,
        dim_out: int,
        num_heads: int,
        mlp_ratio: float = 4.0,
        drop_path: float = 0.0,
        norm_layer: Callable[[int], nn.Module] | str = "LayerNorm",
        q_stride: tuple[int, int] | None = None,
        act_layer: type = nn.GELU,
        window_size: int = 0,
    ):
        super().__init__()
        if isinstance(norm_layer, str):
            norm_layer = partial(getattr(nn, norm_layer), eps=1e-6)

        self.dim = dim
        self.dim_out = dim_out
        self.window_size = window_size
        self.q_stride = q_stride
        self.pool = None
        if q_stride:
            self.pool = nn.MaxPool2d(kernel_size=q_stride, stride=q_stride, ceil_mode=False)

        self.norm1 = norm_layer(dim)
        self.attn = MultiScaleAttention(dim, dim_out, num_heads=num_heads, q_pool=self.pool)
        self.drop_path = DropPath(drop_path) if drop_path > 0.0 else nn.Identity()
        self.norm2 = norm_layer(dim_out)
        self.mlp = MLP(dim_out, int(dim_out * mlp_ratio), dim_out, num_layers=2, activation=act_layer)
        if dim != dim_out:
            self.proj = nn.Linear(dim, dim_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        normed = self.norm1(x)
        if self.dim != self.dim_out:
            # Widened residual: project the normalised tokens, pool like the queries.
            shortcut = _pool_channels_last(linear(normed, self.proj), self.pool)
        else:
            # Official configs never pool without widening; pooling keeps shapes consistent.
            shortcut = _pool_channels_last(x, self.pool)

        window = self.window_size
        if window > 0:
            windows, (hp, wp) = window_partition(normed, window)
            attended = self.attn(windows)
            # Query pooling shrinks every window; the window grid (Hp/ws, Wp/ws) stays.
            out_window = attended.shape[1]
            grid_hw = ((hp // window) * out_window, (wp // window) * out_window)
            attended = window_unpartition(attended, out_window, grid_hw, shortcut.shape[1:3])
        else:
            attended = self.attn(normed)

        x = shortcut + self.drop_path(attended)
        return x + self.drop_path(self.mlp(self.norm2(x)))


class Hiera(nn.Module):
    """Hiera trunk (Ryali et al., arXiv:2306.00989) as configured by the SAM 2 YAMLs.

    forward: image batch (B, 3, H, W), H and W multiples of 32 for the default
    settings -> list of feature maps (B, C_s, H / 4 / 2^s, W / 4 / 2^s), one per stage s,
    highest resolution first (only the last stage if ``return_interm_layers`` is False).
    ``channel_list`` gives their channel counts lowest resolution first (the FPN order).
    """

    def __init__(
        self,
        embed_dim: int = 96,
        num_heads: int = 1,
        drop_path_rate: float = 0.0,
        q_pool: int = 3,
        q_stride: tuple[int, int] = (2, 2),
        stages: tuple[int, ...] = (2, 3, 16, 3),
        dim_mul: float = 2.0,
        head_mul: float = 2.0,
        window_pos_embed_bkg_spatial_size: tuple[int, int] = (14, 14),
        window_spec: tuple[int, ...] = (8, 4, 14, 7),
        global_att_blocks: tuple[int, ...] | None = (12, 16, 20),
        weights_path: str | None = None,
        return_interm_layers: bool = True,
    ):
        super().__init__()
        stages = list(stages)
        if len(stages) != len(window_spec):
            raise ValueError(f"stages {stages} and window_spec {list(window_spec)} must have the same length")
        if not 0 <= q_pool <= len(stages) - 1:
            raise ValueError(f"q_pool must be in [0, {len(stages) - 1}], got {q_pool}")

        self.window_spec = window_spec
        self.q_stride = q_stride
        # Index of the last block of every stage, e.g. stages [1, 2, 7, 2] -> [0, 2, 9, 11].
        self.stage_ends = [sum(stages[: s + 1]) - 1 for s in range(len(stages))]
        # The first block of each of the first q_pool later stages halves the grid.
        self.q_pool_blocks = [end + 1 for end in self.stage_ends[:-1]][:q_pool]
        self.return_interm_layers = return_interm_layers
        self.global_att_blocks = global_att_blocks
        self.window_pos_embed_bkg_spatial_size = window_pos_embed_bkg_spatial_size

        self.patch_embed = PatchEmbed(embed_dim=embed_dim)
        self.pos_embed = nn.Parameter(torch.zeros(1, embed_dim, *window_pos_embed_bkg_spatial_size))
        self.pos_embed_window = nn.Parameter(torch.zeros(1, embed_dim, window_spec[0], window_spec[0]))
        # Inference-only cache of the interpolated embedding (a bicubic resize of the whole
        # grid, ~26 ms a 1024 px frame on a CPU): keyed by grid, device, dtype and the two
        # parameters' identities and versions, so loading or training them invalidates it.
        self._pos_embed_cache: tuple | None = None

        depth = sum(stages)
        drop_rates = torch.linspace(0, drop_path_rate, depth).tolist()  # grows linearly with depth
        global_blocks = set(global_att_blocks or ())
        stage = 0
        self.blocks = nn.ModuleList()
        for i in range(depth):
            dim_out = embed_dim
            # The first block of a stage still uses the previous stage's window size:
            # it attends on the not-yet-pooled grid.
            window_size = 0 if i in global_blocks else window_spec[stage]
            if i - 1 in self.stage_ends:
                dim_out = int(embed_dim * dim_mul)
                num_heads = int(num_heads * head_mul)
                stage += 1
            self.blocks.append(
                MultiScaleBlock(
                    dim=embed_dim,
                    dim_out=dim_out,
                    num_heads=num_heads,
                    drop_path=drop_rates[i],
                    q_stride=q_stride if i in self.q_pool_blocks else None,
                    window_size=window_size,
                )
            )
            embed_dim = dim_out

        if return_interm_layers:
            self.channel_list = [self.blocks[end].dim_out for end in reversed(self.stage_ends)]
        else:
            self.channel_list = [self.blocks[-1].dim_out]

        if weights_path is not None:
            state = torch.load(weights_path, map_location="cpu", weights_only=True)
            result = self.load_state_dict(state, strict=False)
            logger.info("loaded Hiera weights from %s: %s", weights_path, result)

    def _get_pos_embed(self, hw: tuple[int, int]) -> torch.Tensor:
        """Positional embedding for an (h, w) patch grid, shape (1, h, w, C)."""
        if torch.is_grad_enabled() or torch.compiler.is_compiling():
            return self._compute_pos_embed(hw)  # training; or a compiled graph, which folds it in
        params = (self.pos_embed, self.pos_embed_window)
        key = (tuple(hw), *((p.data_ptr(), p._version, p.device, p.dtype) for p in params))
        if self._pos_embed_cache is None or self._pos_embed_cache[0] != key:
            self._pos_embed_cache = (key, self._compute_pos_embed(hw))
        return self._pos_embed_cache[1]

    def _compute_pos_embed(self, hw: tuple[int, int]) -> torch.Tensor:
        h, w = hw
        window = self.pos_embed_window
        win_h, win_w = window.shape[-2:]
        if h % win_h or w % win_w:
            raise ValueError(
                f"patch grid {h}x{w} is not a multiple of the {win_h}x{win_w} window embedding; "
                f"image height and width must be multiples of {4 * win_h} (got about {4 * h}x{4 * w})"
            )
        background = F.interpolate(self.pos_embed, size=(h, w), mode="bicubic")
        c = background.shape[1]
        # Repeat the window table over the grid by broadcasting over (rows, cols) of windows.
        tiled = background.view(1, c, h // win_h, win_h, w // win_w, win_w) + window.view(
            1, c, 1, win_h, 1, win_w
        )
        return tiled.view(1, c, h, w).permute(0, 2, 3, 1)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        x = self.patch_embed(x)  # (B, H/4, W/4, C)
        # No .contiguous() here on purpose: the memory layout decides which conv kernel
        # the neck uses, and keeping the reference's layout keeps its numerics bit-exact.
        x = x + self._get_pos_embed(x.shape[1:3])

        last = self.stage_ends[-1]
        keep = set(self.stage_ends) if self.return_interm_layers else {last}
        outputs = []
        for i, block in enumerate(self.blocks):
            x = block(x)
            if i in keep:
                outputs.append(x.permute(0, 3, 1, 2))  # (B, C, H', W') view
        return outputs

    def get_num_layers(self) -> int:
        """Number of transformer blocks (used for layer-wise learning-rate decay)."""
        return len(self.blocks)

    def get_layer_id(self, layer_name: str) -> int:
        """Depth index of a parameter for layer-wise learning-rate decay.

        Stem parameters (patch and positional embeddings) are layer 0, block i is layer
        i + 1, anything else sits above the last block.
        """
        top = self.get_num_layers() + 1
        if "rel_pos" in layer_name:
            return top
        if "pos_embed" in layer_name or "patch_embed" in layer_name:
            return 0
        if "blocks" in layer_name:
            return int(layer_name.split("blocks")[1].split(".")[1]) + 1
        return top
