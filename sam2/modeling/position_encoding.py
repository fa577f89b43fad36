"""Position encodings used by SAM 2.

* ``PositionEmbeddingSine``: fixed 2-D sine/cosine maps for the image features (neck and
  memory encoder).
* ``PositionEmbeddingRandom``: Fourier features with a random Gaussian projection, used by
  the prompt encoder for both the dense grid and sparse point prompts.
* ``compute_axial_cis`` / ``apply_rotary_enc``: 2-D axial rotary embedding (RoPE) for the
  memory attention. Pairs of channels are treated as complex numbers and rotated by an
  angle that grows with the token's x (first half of the pairs) or y (second half) index.
"""

import math

import torch
from torch import nn


class PositionEmbeddingSine(nn.Module):
    """Fixed 2-D sine/cosine position map, half of the channels for y and half for x.

    Within each half, channel ``2k`` is ``sin(pos / T**(2k/F))`` and channel ``2k+1`` is
    ``cos`` of the same angle, where ``F = num_pos_feats // 2`` and ``T`` the temperature.
    Positions run 1..H (1..W), optionally rescaled to (0, scale].
    """

    def __init__(
        self,
        num_pos_feats: int,
        temperature: int = 10000,
        normalize: bool = True,
        scale: float | None = None,
        warmup_cache: bool = True,
        image_size: int = 1024,
        strides: tuple[int, ...] = (4, 8, 16, 32),
    ):
        super().__init__()
        if num_pos_feats % 2 != 0:
            raise ValueError(f"num_pos_feats must be even (half for y, half for x), got {num_pos_feats}")
        if scale is not None and not normalize:
            raise ValueError("a scale is only meaningful with normalize=True")
        self.num_pos_feats = num_pos_feats // 2  # channels per axis
        self.temperature = temperature
        self.normalize = normalize
        self.scale = 2 * math.pi if scale is None else scale
        # (H, W, dtype, device) -> (C, H, W); the map depends only on the grid size.
        self.cache: dict[tuple[int, int, torch.dtype, torch.device], torch.Tensor] = {}
        # Pre-filling the cache only helps torch.compile on CUDA; it changes no numbers.
        if warmup_cache and torch.cuda.is_available():
            for stride in strides:
                side = image_size // stride
                self._pe(1, torch.device("cuda", torch.cuda.current_device()), side, side)

    def _inverse_freqs(self, device) -> torch.Tensor:
        """Per-channel divisors T**(2*(i//2)/F), shape (F,)."""
        idx = torch.arange(self.num_pos_feats, dtype=torch.float32, device=device)
        return self.temperature ** (2 * (idx // 2) / self.num_pos_feats)

    def _sin_cos(self, angles: torch.Tensor) -> torch.Tensor:
        """sin on even channels, cos on odd channels of the last dimension."""
        even = torch.arange(angles.shape[-1], device=angles.device) % 2 == 0
        return torch.where(even, angles.sin(), angles.cos())

    def _encode_xy(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Encode normalised 1-D coordinates x, y of shape (N,) -> two (N, F) tensors."""
        if x.ndim != 1 or y.shape != x.shape:
            raise ValueError(
                f"x and y must be 1-D of equal length, got {tuple(x.shape)} and {tuple(y.shape)}"
            )
        freqs = self._inverse_freqs(x.device)
        pos_x = self._sin_cos((x * self.scale)[:, None] / freqs)
        pos_y = self._sin_cos((y * self.scale)[:, None] / freqs)
        return pos_x, pos_y

    @torch.no_grad()
    def encode_boxes(self, x, y, w, h) -> torch.Tensor:
        """Boxes (centre x, y normalised; w, h) of shape (N,) -> (N, 2F + 2)."""
        pos_x, pos_y = self._encode_xy(x, y)
        return torch.cat((pos_y, pos_x, h[:, None], w[:, None]), dim=1)

    encode = encode_boxes  # older name

    @torch.no_grad()
    def encode_points(self, x, y, labels) -> torch.Tensor:
        """Points x, y, labels of shape (B, N) -> (B, N, 2F + 1)."""
        if not (x.shape == y.shape == labels.shape) or x.ndim != 2:
            raise ValueError("x, y and labels must all have the same (B, N) shape")
        b, n = x.shape
        pos_x, pos_y = self._encode_xy(x.flatten(), y.flatten())
        return torch.cat((pos_y.reshape(b, n, -1), pos_x.reshape(b, n, -1), labels[:, :, None]), dim=2)

    @torch.no_grad()
    def _pe(
        self, batch: int, device, height: int, width: int, dtype: torch.dtype = torch.float32
    ) -> torch.Tensor:
        """(batch, 2F, height, width) position map in ``dtype``, computed once per grid, dtype and device.

        Batch 1 (every frame of video tracking) gets a view of the cached map, not a copy: the
        maps are read-only (85 MB of float32 for the three levels of a 1024 px image).
        """
        key = (height, width, dtype, torch.device(device))
        cached = self.cache.get(key)
        if cached is None:
            cached = self.cache[key] = self._map(torch.device(device), height, width).to(dtype)
        return cached[None] if batch == 1 else cached[None].repeat(batch, 1, 1, 1)

    def _map(self, device: torch.device, height: int, width: int) -> torch.Tensor:
        """The (2F, height, width) float32 map."""
        ys = torch.arange(1, height + 1, dtype=torch.float32, device=device)
        xs = torch.arange(1, width + 1, dtype=torch.float32, device=device)
        if self.normalize:
            eps = 1e-6  # keeps the last position just under `scale`
            ys = ys / (ys[-1:] + eps) * self.scale
            xs = xs / (xs[-1:] + eps) * self.scale
        freqs = self._inverse_freqs(device)
        pe_y = self._sin_cos(ys[:, None] / freqs)  # (H, F)
        pe_x = self._sin_cos(xs[:, None] / freqs)  # (W, F)
        return torch.cat(
            (
                pe_y.t()[:, :, None].expand(-1, height, width),
                pe_x.t()[:, None, :].expand(-1, height, width),
            ),
            dim=0,
        ).contiguous()

    @torch.no_grad()
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (B, C, H, W) feature map (only its shape, dtype and device are used) -> (B, 2F, H, W)
        in x's dtype (rounded from the float32 map)."""
        return self._pe(x.shape[0], x.device, x.shape[-2], x.shape[-1], x.dtype)


class PositionEmbeddingRandom(nn.Module):
    """Random Fourier features: [sin(2π·p'G), cos(2π·p'G)] with p' = 2p - 1, p in [0, 1]².

    ``G`` (2, num_pos_feats) is a fixed Gaussian matrix stored as a buffer (it is part of
    the checkpoint), so the output has 2 * num_pos_feats channels.
    """

    def __init__(self, num_pos_feats: int = 64, scale: float | None = None) -> None:
        super().__init__()
        if scale is None or scale <= 0.0:
            scale = 1.0
        self.register_buffer("positional_encoding_gaussian_matrix", scale * torch.randn((2, num_pos_feats)))

    def _pe_encoding(self, coords: torch.Tensor) -> torch.Tensor:
        """coords (..., 2) as (x, y) in [0, 1] -> (..., 2 * num_pos_feats)."""
        projected = (2 * coords - 1) @ self.positional_encoding_gaussian_matrix
        projected = 2 * math.pi * projected
        return torch.cat([projected.sin(), projected.cos()], dim=-1)

    def forward(self, size: tuple[int, int]) -> torch.Tensor:
        """Encoding of the centres of an (h, w) grid -> (C, h, w)."""
        h, w = size
        device = self.positional_encoding_gaussian_matrix.device
        ones = torch.ones((h, w), device=device, dtype=torch.float32)
        # cumsum - 0.5 gives the cell centres 0.5, 1.5, ...
        ys = (ones.cumsum(dim=0) - 0.5) / h
        xs = (ones.cumsum(dim=1) - 0.5) / w
        return self._pe_encoding(torch.stack([xs, ys], dim=-1)).permute(2, 0, 1)

    def forward_with_coords(self, coords_input: torch.Tensor, image_size: tuple[int, int]) -> torch.Tensor:
        """Points in pixels (B, N, 2) as (x, y), image_size (H, W) -> (B, N, C)."""
        coords = coords_input.clone()
        coords[:, :, 0] = coords[:, :, 0] / image_size[1]
        coords[:, :, 1] = coords[:, :, 1] / image_size[0]
        return self._pe_encoding(coords.to(torch.float))


# ---------------------------------------------------------------------------------------
# Axial rotary position encoding (RoPE) on a 2-D token grid.


def _grid_positions(end_x: int, end_y: int) -> tuple[torch.Tensor, torch.Tensor]:
    """x and y index of each token of a row-major (end_y, end_x) grid, as float32 (N,)."""
    flat = torch.arange(end_x * end_y, dtype=torch.float32)
    return flat % end_x, torch.div(flat, end_x, rounding_mode="floor")


def compute_axial_cis(dim: int, end_x: int, end_y: int, theta: float = 10000.0) -> torch.Tensor:
    """Unit complex rotations for an (end_y, end_x) token grid and head dimension ``dim``.

    Returns (end_x * end_y, dim // 2) complex64: the first dim//4 columns rotate by
    x * f_k, the last dim//4 by y * f_k, with f_k = theta ** (-4k / dim).
    """
    exponents = torch.arange(0, dim, 4)[: dim // 4].float() / dim
    freqs = 1.0 / (theta**exponents)
    pos_x, pos_y = _grid_positions(end_x, end_y)
    angles_x = torch.outer(pos_x, freqs)
    angles_y = torch.outer(pos_y, freqs)
    rot_x = torch.polar(torch.ones_like(angles_x), angles_x)
    rot_y = torch.polar(torch.ones_like(angles_y), angles_y)
    return torch.cat([rot_x, rot_y], dim=-1)


def _as_complex_pairs(x: torch.Tensor) -> torch.Tensor:
    """(..., D) real -> (..., D/2) complex, pairing channels (0,1), (2,3), ..."""
    return torch.view_as_complex(x.float().reshape(*x.shape[:-1], -1, 2))


def _rotate(x_complex: torch.Tensor, rotations: torch.Tensor) -> torch.Tensor:
    """Multiply by the rotations and return real (B, heads, N, D)."""
    return torch.view_as_real(x_complex * rotations).flatten(3)


def apply_rotary_enc(
    xq: torch.Tensor,
    xk: torch.Tensor,
    freqs_cis: torch.Tensor,
    repeat_freqs_k: bool = False,
    keys_in_place: bool = False,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Rotate queries and keys by their grid positions.

    xq: (B, heads, Nq, D); xk: (B, heads, Nk, D); freqs_cis: (Nq, D/2) complex.
    With ``repeat_freqs_k`` the keys hold several frames of the same grid (Nk = r * Nq)
    and each frame gets the same rotations. Keys may be empty (Nk = 0): returned as is.
    ``keys_in_place``: keys are rotated in their own memory (inference only: no autograd), and
    ``xk`` itself is returned. Outputs keep the input dtypes.
    """
    q_c = _as_complex_pairs(xq)
    if tuple(freqs_cis.shape) != (q_c.shape[-2], q_c.shape[-1]):
        raise ValueError(
            f"RoPE table {tuple(freqs_cis.shape)} does not fit queries with "
            f"{q_c.shape[-2]} tokens and head dim {xq.shape[-1]}"
        )
    rot_q = freqs_cis.view(*([1] * (q_c.ndim - 2)), *freqs_cis.shape)
    q_out = _rotate(q_c, rot_q).type_as(xq).to(xq.device)
    if xk.shape[-2] == 0:
        return q_out, xk

    if keys_in_place:
        _rotate_keys_in_place(xk, rot_q, repeat_freqs_k)
        return q_out, xk
    k_c = _as_complex_pairs(xk)
    rot_k = rot_q
    if repeat_freqs_k:
        repeats = k_c.shape[-2] // q_c.shape[-2]
        # expand + flatten instead of repeat: repeat on complex tensors is not supported everywhere
        rot_k = rot_q.unsqueeze(2).expand(-1, -1, repeats, -1, -1).flatten(2, 3)
    k_out = _rotate(k_c, rot_k).type_as(xk).to(xk.device)
    return q_out, k_out


def _rotate_keys_in_place(xk: torch.Tensor, rot: torch.Tensor, repeated: bool) -> None:
    """Rotate keys (B, heads, r * Nq, D) in their own memory, one grid of Nq tokens at a time.

    A grid at a time keeps the float32 working copy (of non-float32 keys) to one frame's worth
    rather than all r frames' (memory cross-attention reads up to 7 frames of 4096 tokens); the
    values are those of the whole-tensor rotation, element by element.
    """
    grid = rot.shape[-2]
    if xk.shape[-2] % grid != 0 or (not repeated and xk.shape[-2] != grid):
        raise ValueError(f"{xk.shape[-2]} keys are not whole grids of {grid} tokens")
    for start in range(0, xk.shape[-2], grid):
        keys = xk[..., start : start + grid, :]
        if keys.dtype == torch.float32:
            torch.view_as_complex(keys.unflatten(-1, (-1, 2))).mul_(rot)  # a complex view of xk
        else:
            keys.copy_(_rotate(_as_complex_pairs(keys), rot))
