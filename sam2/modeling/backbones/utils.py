"""Patch embedding and non-overlapping window helpers for the Hiera trunk.

Feature maps inside the trunk are channels-last: (B, H, W, C).
"""

import torch
import torch.nn.functional as F
from torch import nn

IntPair = int | tuple[int, int]


def window_partition(x: torch.Tensor, window_size: int) -> tuple[torch.Tensor, tuple[int, int]]:
    """Cut a (B, H, W, C) map into square windows, zero-padding bottom/right to fit.

    Returns ``(windows, (Hp, Wp))``: windows of shape (B * nH * nW, ws, ws, C), ordered
    batch-major then row-major over the window grid, and the padded map size.
    """
    if window_size <= 0:
        raise ValueError(f"window_size must be positive, got {window_size}")
    b, h, w, c = x.shape
    pad_h = -h % window_size
    pad_w = -w % window_size
    if pad_h or pad_w:
        # F.pad lists pads from the last dim backwards: (C: none, W: right, H: bottom).
        x = F.pad(x, (0, 0, 0, pad_w, 0, pad_h))
    hp, wp = h + pad_h, w + pad_w
    grid = x.view(b, hp // window_size, window_size, wp // window_size, window_size, c)
    # Bring the two grid axes next to each other so each window is one contiguous block.
    windows = grid.permute(0, 1, 3, 2, 4, 5).reshape(-1, window_size, window_size, c)
    return windows, (hp, wp)


def window_unpartition(
    windows: torch.Tensor, window_size: int, pad_hw: tuple[int, int], hw: tuple[int, int]
) -> torch.Tensor:
    """Inverse of :func:`window_partition`: stitch windows back and crop the padding.

    windows: (B * nH * nW, ws, ws, C) with nH = Hp / ws, nW = Wp / ws.
    pad_hw: padded size (Hp, Wp); hw: size (H, W) to crop to. Returns (B, H, W, C).
    """
    hp, wp = pad_hw
    h, w = hw
    n_h, n_w = hp // window_size, wp // window_size
    if n_h * window_size != hp or n_w * window_size != wp:
        raise ValueError(f"padded size {pad_hw} is not a multiple of window size {window_size}")
    b = windows.shape[0] // (n_h * n_w)
    grid = windows.reshape(b, n_h, n_w, window_size, window_size, windows.shape[-1])
    x = grid.permute(0, 1, 3, 2, 4, 5).reshape(b, hp, wp, -1)
    if hp > h or wp > w:
        x = x[:, :h, :w, :]
    return x


class PatchEmbed(nn.Module):
    """Strided convolution that turns an image into a channels-last token map.

    (B, in_chans, H, W) -> (B, H / stride, W / stride, embed_dim) for the default
    kernel 7, stride 4, padding 3 (the Hiera stem).
    """

    def __init__(
        self,
        kernel_size: IntPair = (7, 7),
        stride: IntPair = (4, 4),
        padding: IntPair = (3, 3),
        in_chans: int = 3,
        embed_dim: int = 768,
    ):
        super().__init__()
        self.proj = nn.Conv2d(in_chans, embed_dim, kernel_size=kernel_size, stride=stride, padding=padding)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 4 or x.shape[1] != self.proj.in_channels:
            raise ValueError(
                f"expected an image batch (B, {self.proj.in_channels}, H, W), got shape {tuple(x.shape)}"
            )
        # Conv output is (B, C, H', W'); the trunk works channels-last.
        return self.proj(x).permute(0, 2, 3, 1)
