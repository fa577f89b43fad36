"""Small building blocks shared by several SAM 2 components.

Parameter names (``layers.N``, ``weight``/``bias``) follow the official checkpoints,
so changing them breaks checkpoint loading.
"""

import copy
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

from sam2.modeling.linear_ops import linear
from sam2.video.memory_policy import select_closest_cond_frames  # noqa: F401  (moved: torch-free)


def get_activation_fn(name: str) -> Callable[[torch.Tensor], torch.Tensor]:
    """Map a config string ("relu", "gelu", "glu") to the functional activation."""
    table = {"relu": F.relu, "gelu": F.gelu, "glu": F.glu}
    if name not in table:
        raise ValueError(f"unknown activation {name!r}; expected one of {sorted(table)}")
    return table[name]


def get_clones(module: nn.Module, count: int) -> nn.ModuleList:
    """``count`` independent deep copies of ``module`` (layers of a stack)."""
    return nn.ModuleList(copy.deepcopy(module) for _ in range(count))


class DropPath(nn.Module):
    """Stochastic depth: during training, drop the whole residual branch per sample."""

    def __init__(self, drop_prob: float = 0.0, scale_by_keep: bool = True):
        super().__init__()
        self.drop_prob = drop_prob
        self.scale_by_keep = scale_by_keep

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.drop_prob == 0.0:
            return x
        keep = 1.0 - self.drop_prob
        mask_shape = (x.shape[0],) + (1,) * (x.dim() - 1)
        mask = x.new_empty(mask_shape).bernoulli_(keep)
        if self.scale_by_keep and keep > 0.0:
            mask = mask / keep
        return x * mask


class MLP(nn.Module):
    """A stack of ``num_layers`` Linear layers with an activation between them.

    input_dim -> hidden_dim -> ... -> hidden_dim -> output_dim; optional sigmoid at the end.
    """

    def __init__(
        self,
        input_dim: int,
        hidden_dim: int,
        output_dim: int,
        num_layers: int,
        activation: type = nn.ReLU,
        sigmoid_output: bool = False,
    ) -> None:
        super().__init__()
        self.num_layers = num_layers
        dims_in = [input_dim] + [hidden_dim] * (num_layers - 1)
        dims_out = [hidden_dim] * (num_layers - 1) + [output_dim]
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(dims_in, dims_out))
        self.sigmoid_output = sigmoid_output
        self.act = activation()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        last = len(self.layers) - 1
        for i, layer in enumerate(self.layers):
            x = linear(x, layer, self.act if i < last else None)
        return torch.sigmoid(x) if self.sigmoid_output else x


class LayerNorm2d(nn.Module):
    """LayerNorm over the channel dimension of a (B, C, H, W) map."""

    def __init__(self, num_channels: int, eps: float = 1e-6) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(num_channels))
        self.bias = nn.Parameter(torch.zeros(num_channels))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.size(1) >= 8:
            # One fused kernel over channels-last rows; the result stays channels-last in
            # memory, which the convolutions that follow take as fast as contiguous maps.
            return F.layer_norm(x.permute(0, 2, 3, 1), (x.size(1),), self.weight, self.bias, self.eps).permute(
                0, 3, 1, 2
            )
        # A few channels (the first mask downsampling step): rows too short for the fused
        # kernel to pay off, so elementwise passes over the map are faster.
        mean = x.mean(1, keepdim=True)
        var = (x - mean).pow(2).mean(1, keepdim=True)
        x = (x - mean) / torch.sqrt(var + self.eps)
        return x * self.weight[:, None, None] + self.bias[:, None, None]


def get_1d_sine_pe(positions: torch.Tensor, dim: int, temperature: float = 10000) -> torch.Tensor:
    """Transformer-style sine/cosine encoding of (possibly fractional) 1-D positions.

    positions: (...,) -> (..., dim); first half sines, second half cosines.
    """
    half = dim // 2
    idx = torch.arange(half, dtype=torch.float32, device=positions.device)
    freq = temperature ** (2 * torch.div(idx, 2, rounding_mode="floor") / half)
    angles = positions.unsqueeze(-1) / freq
    return torch.cat([angles.sin(), angles.cos()], dim=-1)
