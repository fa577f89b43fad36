"""SAM 2 image encoder: a multi-scale trunk (Hiera) followed by an FPN-style neck.

Attribute names (``trunk``, ``neck``, ``neck.convs.N.conv``) follow the official
checkpoints; renaming them breaks checkpoint loading.
"""

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn


class ImageEncoder(nn.Module):
    """Trunk + neck, optionally dropping the ``scalp`` coarsest output levels.

    forward(sample (B, 3, H, W)) returns a dict:
      - ``backbone_fpn``: list of (B, d_model, h_l, w_l), highest resolution first;
      - ``vision_pos_enc``: list of positional encodings, same shapes as ``backbone_fpn``;
      - ``vision_features``: the coarsest kept level, ``backbone_fpn[-1]``.
    """

    def __init__(self, trunk: nn.Module, neck: nn.Module, scalp: int = 0):
        super().__init__()
        self.trunk = trunk
        self.neck = neck
        self.scalp = scalp
        trunk_channels = list(trunk.channel_list)
        neck_channels = list(neck.backbone_channel_list)
        if trunk_channels != neck_channels:
            raise ValueError(
                f"trunk and neck channel lists differ: trunk.channel_list={trunk_channels}, "
                f"neck.backbone_channel_list={neck_channels} (both coarsest level first)"
            )
        if not 0 <= scalp < len(trunk_channels):
            raise ValueError(f"scalp must be in [0, {len(trunk_channels) - 1}], got {scalp}")

    def forward(self, sample: torch.Tensor) -> dict[str, torch.Tensor | list[torch.Tensor]]:
        features, pos = self.neck(self.trunk(sample))
        if self.scalp > 0:
            # The coarsest maps are not used by SAM 2's heads; drop them.
            features, pos = features[: -self.scalp], pos[: -self.scalp]
        return {"vision_features": features[-1], "vision_pos_enc": pos, "backbone_fpn": features}


class FpnNeck(nn.Module):
    """Feature-pyramid neck without output convs.

    Every trunk level gets a lateral conv to ``d_model`` channels. Walking from the
    coarsest level to the finest, levels listed in ``fpn_top_down_levels`` add the
    2x-upsampled result of the coarser level (then halve it when ``fuse_type`` is
    "avg"); other levels keep only their lateral features.

    forward(xs) takes the trunk outputs, finest first (the Hiera order), each
    (B, C_l, H_l, W_l) with C_l = ``backbone_channel_list[::-1][l]``, and returns
    ``(features, pos)``: two lists in the same order, each (B, d_model, H_l, W_l).
    """

    def __init__(
        self,
        position_encoding: nn.Module,
        d_model: int,
        backbone_channel_list: Sequence[int],
        kernel_size: int = 1,
        stride: int = 1,
        padding: int = 0,
        fpn_interp_model: str = "bilinear",
        fuse_type: str = "sum",
        fpn_top_down_levels: Sequence[int] | None = None,
    ):
        super().__init__()
        if fuse_type not in ("sum", "avg"):
            raise ValueError(f"fuse_type must be 'sum' or 'avg', got {fuse_type!r}")
        self.position_encoding = position_encoding
        self.backbone_channel_list = list(backbone_channel_list)
        self.d_model = d_model
        self.fpn_interp_model = fpn_interp_model
        self.fuse_type = fuse_type
        # convs[j] serves the j-th channel entry, i.e. the coarsest level first.
        self.convs = nn.ModuleList()
        for channels in self.backbone_channel_list:
            lateral = nn.Sequential()
            lateral.add_module(
                "conv",
                nn.Conv2d(channels, d_model, kernel_size=kernel_size, stride=stride, padding=padding),
            )
            self.convs.append(lateral)
        if fpn_top_down_levels is None:
            fpn_top_down_levels = range(len(self.convs))
        self.fpn_top_down_levels = list(fpn_top_down_levels)

    def _upsample(self, x: torch.Tensor) -> torch.Tensor:
        """2x upsampling of the coarser level, always computed in float32."""
        align = None if self.fpn_interp_model == "nearest" else False
        return F.interpolate(
            x.to(dtype=torch.float32),
            scale_factor=2.0,
            mode=self.fpn_interp_model,
            align_corners=align,
            antialias=False,
        )

    def forward(self, xs: list[torch.Tensor]) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        levels = len(self.convs)
        if len(xs) != levels:
            raise ValueError(f"FpnNeck expects {levels} feature maps, got {len(xs)}")
        features: list[torch.Tensor | None] = [None] * levels
        pos: list[torch.Tensor | None] = [None] * levels
        coarser = None
        for level in reversed(range(levels)):  # coarsest (last) level first
            lateral = self.convs[levels - 1 - level](xs[level])
            if coarser is not None and level in self.fpn_top_down_levels:
                fused = lateral + self._upsample(coarser)
                if self.fuse_type == "avg":
                    fused = fused / 2
            else:
                fused = lateral
            coarser = fused
            features[level] = fused
            pos[level] = self.position_encoding(fused)  # in fused's dtype
        return features, pos
