"""Memory encoder: fuses a frame's image features with its predicted mask into a memory.

mask (B, 1, S, S) --MaskDownSampler--> (B, C_in, S/16, S/16)
image features (B, C_in, S/16, S/16) --1x1 conv--> + mask features --Fuser (ConvNeXt
blocks)--> --1x1 conv--> memory features (B, out_dim, S/16, S/16) + sine position map.
"""

import math

import torch
import torch.nn.functional as F
from torch import nn

from sam2.modeling.sam2_utils import DropPath, LayerNorm2d, get_clones


class MaskDownSampler(nn.Module):
    """Downsample a mask by ``total_stride`` in steps of ``stride``.

    Each step is conv (stride ``stride``) -> LayerNorm2d -> activation and multiplies the
    channels by stride² (so no information is lost to the shrinking grid): with the
    defaults 1 -> 16 -> 256, and a final 1x1 conv projects to ``embed_dim``.
    """

    def __init__(
        self,
        embed_dim: int = 256,
        kernel_size: int = 4,
        stride: int = 4,
        padding: int = 0,
        total_stride: int = 16,
        activation=nn.GELU,
    ):
        super().__init__()
        num_steps = int(math.log2(total_stride) // math.log2(stride))
        if stride**num_steps != total_stride:
            raise ValueError(f"total_stride {total_stride} is not a power of stride {stride}")
        self.encoder = nn.Sequential()
        channels = 1
        for _ in range(num_steps):
            out_channels = channels * stride**2
            self.encoder.append(
                nn.Conv2d(channels, out_channels, kernel_size=kernel_size, stride=stride, padding=padding)
            )
            self.encoder.append(LayerNorm2d(out_channels))
            self.encoder.append(activation())
            channels = out_channels
        self.encoder.append(nn.Conv2d(channels, embed_dim, kernel_size=1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 1, H, W) -> (B, embed_dim, H / total_stride, W / total_stride)."""
        return self.encoder(x)


class CXBlock(nn.Module):
    """ConvNeXt block: depth-wise conv, LayerNorm, pointwise MLP (x4 width, GELU), layer scale.

    The pointwise layers are Linear layers applied channels-last (equal to 1x1 convs).
    Residual, with optional stochastic depth.
    """

    def __init__(
        self,
        dim: int,
        kernel_size: int = 7,
        padding: int = 3,
        drop_path: float = 0.0,
        layer_scale_init_value: float = 1e-6,
        use_dwconv: bool = True,
    ):
        super().__init__()
        self.dwconv = nn.Conv2d(
            dim, dim, kernel_size=kernel_size, padding=padding, groups=dim if use_dwconv else 1
        )
        self.norm = LayerNorm2d(dim, eps=1e-6)
        self.pwconv1 = nn.Linear(dim, 4 * dim)
        self.act = nn.GELU()
        self.pwconv2 = nn.Linear(4 * dim, dim)
        # Per-channel residual scale; starting near 0 makes the block start as identity.
        self.gamma = (
            nn.Parameter(layer_scale_init_value * torch.ones(dim), requires_grad=True)
            if layer_scale_init_value > 0
            else None
        )
        self.drop_path = DropPath(drop_path) if drop_path > 0.0 else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, dim, H, W) -> same shape."""
        y = self.norm(self.dwconv(x))
        y = y.permute(0, 2, 3, 1)  # channels last for the Linear layers
        y = self.pwconv2(self.act(self.pwconv1(y)))
        if self.gamma is not None:
            y = self.gamma * y
        y = y.permute(0, 3, 1, 2)
        return x + self.drop_path(y)


class Fuser(nn.Module):
    """Optional 1x1 input projection followed by ``num_layers`` copies of ``layer``."""

    def __init__(
        self, layer: nn.Module, num_layers: int, dim: int | None = None, input_projection: bool = False
    ):
        super().__init__()
        self.proj = nn.Identity()
        self.layers = get_clones(layer, num_layers)
        if input_projection:
            if dim is None:
                raise ValueError("Fuser(input_projection=True) needs dim")
            self.proj = nn.Conv2d(dim, dim, kernel_size=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) -> same shape."""
        x = self.proj(x)
        for layer in self.layers:
            x = layer(x)
        return x


class MemoryEncoder(nn.Module):
    def __init__(
        self,
        out_dim: int,
        mask_downsampler: nn.Module,
        fuser: nn.Module,
        position_encoding: nn.Module,
        in_dim: int = 256,
    ):
        """
        out_dim: channels of the stored memory.
        mask_downsampler: mask (B, 1, S, S) -> (B, in_dim, S/16, S/16).
        fuser: mixes image and mask features, (B, in_dim, h, w) -> same.
        position_encoding: module mapping (B, out_dim, h, w) to a position map.
        in_dim: channels of the incoming image features.
        """
        super().__init__()
        self.mask_downsampler = mask_downsampler
        self.pix_feat_proj = nn.Conv2d(in_dim, in_dim, kernel_size=1)
        self.fuser = fuser
        self.position_encoding = position_encoding
        self.out_proj = nn.Identity() if out_dim == in_dim else nn.Conv2d(in_dim, out_dim, kernel_size=1)

    def forward(
        self,
        pix_feat: torch.Tensor,
        masks: torch.Tensor,
        skip_mask_sigmoid: bool = False,
    ) -> dict[str, object]:
        """pix_feat (B, in_dim, h, w), masks (B, 1, 16h, 16w) logits (or probabilities with
        ``skip_mask_sigmoid``) -> {"vision_features": (B, out_dim, h, w),
        "vision_pos_enc": [(B, out_dim, h, w)]}.
        """
        if not skip_mask_sigmoid:
            # Probabilities look more like the binary masks the encoder also sees.
            masks = F.sigmoid(masks)
        mask_features = self.mask_downsampler(masks)
        if mask_features.shape[-2:] != pix_feat.shape[-2:]:
            raise ValueError(
                f"mask of size {tuple(masks.shape[-2:])} downsamples to {tuple(mask_features.shape[-2:])}, "
                f"but the image features are {tuple(pix_feat.shape[-2:])}"
            )
        pix_feat = pix_feat.to(mask_features.device)  # features may have been offloaded

        x = self.pix_feat_proj(pix_feat) + mask_features
        x = self.out_proj(self.fuser(x))
        pos: list[torch.Tensor] = [self.position_encoding(x)]  # in x's dtype
        return {"vision_features": x, "vision_pos_enc": pos}
