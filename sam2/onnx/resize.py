"""Image and mask resizing in NumPy, matching ``torch.nn.functional.interpolate``.

Both are separable; the taps and weights of each axis depend on the sizes only and are cached.

* :func:`bilinear` = ``interpolate(mode="bilinear", align_corners=False)`` (no antialiasing);
* :func:`bilinear_antialias` = the same with ``antialias=True`` (a triangle filter widened by
  the scale factor when shrinking; the torchvision ``Resize`` the reference uses).
"""

from functools import lru_cache

import numpy as np


@lru_cache(maxsize=64)
def _bilinear_taps(out_size: int, in_size: int):
    """The two source indices and weights of each output index (torch's half-pixel rule, float32)."""
    scale = np.float32(in_size / out_size)
    src = np.maximum((np.arange(out_size, dtype=np.float32) + np.float32(0.5)) * scale - np.float32(0.5), 0)
    i0 = np.minimum(src.astype(np.int64), in_size - 1)
    i1 = np.minimum(i0 + 1, in_size - 1)
    w1 = (src - i0).astype(np.float32)
    return i0, i1, (np.float32(1) - w1), w1


@lru_cache(maxsize=64)
def _antialias_weights(out_size: int, in_size: int) -> np.ndarray:
    scale = in_size / out_size
    support = scale if scale >= 1.0 else 1.0
    inv = 1.0 / scale if scale >= 1.0 else 1.0
    weights = np.zeros((out_size, in_size), dtype=np.float64)
    for i in range(out_size):
        center = scale * (i + 0.5)
        lo = max(int(center - support + 0.5), 0)
        hi = min(int(center + support + 0.5), in_size)
        j = np.arange(lo, hi)
        w = np.maximum(0.0, 1.0 - np.abs((j - center + 0.5) * inv))
        total = w.sum()
        weights[i, lo:hi] = w / total if total > 0 else w
    return weights.astype(np.float32)


def _apply(x: np.ndarray, wy: np.ndarray, wx: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    return np.matmul(np.matmul(wy, x), wx.T)


def bilinear(x: np.ndarray, size) -> np.ndarray:
    """(..., H, W) float -> (..., size[0], size[1]) float32, half-pixel bilinear.

    Two taps per axis by gathering (no matrix products: output sizes are large, e.g. video
    frames, and the taps are few), along the width first, as torch's kernel combines them.
    """
    x = np.asarray(x, dtype=np.float32)
    h, w = x.shape[-2:]
    x0, x1, wx0, wx1 = _bilinear_taps(int(size[1]), w)
    y0, y1, wy0, wy1 = _bilinear_taps(int(size[0]), h)
    rows = x[..., x0] * wx0 + x[..., x1] * wx1  # (..., H, W_out)
    return rows[..., y0, :] * wy0[:, None] + rows[..., y1, :] * wy1[:, None]


def bilinear_antialias(x: np.ndarray, size) -> np.ndarray:
    """(..., H, W) float -> (..., size[0], size[1]) float32, antialiased bilinear."""
    h, w = x.shape[-2:]
    return _apply(x, _antialias_weights(int(size[0]), h), _antialias_weights(int(size[1]), w))
