"""Validation of user prompts (points, labels, boxes, masks) shared by the predictors.

Every check raises ``ValueError``/``TypeError`` with a message that names the argument,
what was expected and what was given.
"""

from typing import Optional, Tuple

import numpy as np

try:
    import torch
except ImportError:  # the onnxruntime predictors (sam2.onnx) run without torch
    torch = None

# -1 padding, 0 negative click, 1 positive click, 2 / 3 top-left / bottom-right box corner.
VALID_POINT_LABELS = (-1, 0, 1, 2, 3)


def _is_tensor(value) -> bool:
    return torch is not None and isinstance(value, torch.Tensor)


def _as_float_array(value, name: str) -> np.ndarray:
    if _is_tensor(value):
        value = value.detach().cpu().numpy()
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be numeric, got {type(value).__name__}") from None
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} contains NaN or infinite values")
    return arr


def check_points(coords, labels, name: str = "point_coords") -> Tuple[np.ndarray, np.ndarray]:
    """(N, 2) or (B, N, 2) coordinates with (N,) or (B, N) labels; returns float64/int64 arrays."""
    if labels is None:
        raise ValueError(f"point_labels must be given together with {name}")
    pts = _as_float_array(coords, name)
    if pts.ndim not in (2, 3) or pts.shape[-1] != 2:
        raise ValueError(f"{name} must have shape (N, 2) or (B, N, 2) as (x, y), got {pts.shape}")
    if _is_tensor(labels):
        labels = labels.detach().cpu().numpy()
    lab = np.asarray(labels)
    if lab.dtype.kind == "f":
        if not np.isfinite(lab).all() or not np.all(lab == np.round(lab)):
            raise ValueError("point_labels must be integers")
    elif lab.dtype.kind not in "iub":
        raise TypeError(f"point_labels must be integers, got dtype {lab.dtype}")
    lab = lab.astype(np.int64)
    if lab.shape != pts.shape[:-1]:
        raise ValueError(f"point_labels must have shape {pts.shape[:-1]} to match {name}, got {lab.shape}")
    if pts.shape[-2] == 0:
        raise ValueError(f"{name} is empty; give at least one point or leave it as None")
    bad = sorted(set(np.unique(lab).tolist()) - set(VALID_POINT_LABELS))
    if bad:
        raise ValueError(
            f"point_labels contain {bad}; allowed are 1 (positive), 0 (negative), "
            "2/3 (box corners) and -1 (padding)"
        )
    return pts, lab


def check_box(box, name: str = "box") -> np.ndarray:
    """(4,) or (B, 4) boxes x0, y0, x1, y1; returns (B, 4) float64."""
    arr = _as_float_array(box, name)
    if arr.shape == (4,):
        arr = arr[None]
    if arr.ndim != 2 or arr.shape[1] != 4:
        raise ValueError(f"{name} must have shape (4,) or (B, 4) as x0, y0, x1, y1, got {arr.shape}")
    if np.any(arr[:, 2] < arr[:, 0]) or np.any(arr[:, 3] < arr[:, 1]):
        raise ValueError(f"{name} must have x1 >= x0 and y1 >= y0, got {arr.tolist()}")
    return arr


def check_nonnegative(coords: np.ndarray, name: str) -> None:
    if np.any(coords < 0):
        raise ValueError(f"{name} must not be negative, got {coords.reshape(-1, 2).tolist()[:4]}")


def check_mask_input(mask, side: int) -> np.ndarray:
    """Low-res mask logits (1, s, s) or (B, 1, s, s) for the image predictor."""
    arr = _as_float_array(mask, "mask_input")
    if arr.ndim == 3:
        arr = arr[None]
    if arr.ndim != 4 or arr.shape[1] != 1 or arr.shape[-2:] != (side, side):
        raise ValueError(
            f"mask_input must have shape (1, {side}, {side}) or (B, 1, {side}, {side}) "
            f"(low-res logits from a previous predict), got {np.shape(mask)}"
        )
    return arr


def check_frame_mask_array(mask) -> np.ndarray:
    """:func:`check_frame_mask` for NumPy callers: a 2-D mask (H, W) -> bool array."""
    if _is_tensor(mask):
        mask = mask.detach().cpu().numpy()
    if not isinstance(mask, np.ndarray):
        raise TypeError(f"mask must be a numpy array, got {type(mask).__name__}")
    if mask.ndim != 2:
        raise ValueError(f"mask must be 2-D (H, W), got shape {mask.shape}")
    if mask.size == 0:
        raise ValueError("mask is empty")
    if mask.dtype.kind == "f" and not np.isfinite(mask).all():
        raise ValueError("mask contains NaN or infinite values")
    return mask.astype(bool)


def check_frame_mask(mask, height: Optional[int] = None, width: Optional[int] = None) -> "torch.Tensor":
    """A 2-D mask (H, W) of bool/0-1 values for the video predictor's add_new_mask."""
    if isinstance(mask, np.ndarray):
        mask = torch.from_numpy(mask)
    if not isinstance(mask, torch.Tensor):
        raise TypeError(f"mask must be a numpy array or a torch tensor, got {type(mask).__name__}")
    if mask.dim() != 2:
        raise ValueError(f"mask must be 2-D (H, W), got shape {tuple(mask.shape)}")
    if mask.numel() == 0:
        raise ValueError("mask is empty")
    if mask.is_floating_point() and not torch.isfinite(mask).all():
        raise ValueError("mask contains NaN or infinite values")
    return mask
