"""The unit of training data: a short clip of frames with the masks of a few objects."""

from dataclasses import dataclass, field
from typing import List

import numpy as np
import torch
from PIL import Image


class DataError(ValueError):
    """A data set file or folder that cannot be used; the message names it and says why."""


@dataclass
class Clip:
    """T frames and the masks of K objects on them.

    frames: (T, 3, H, W) float32 in [0, 1] (RGB).
    masks: (T, K, H, W) bool; an object may be absent (all False) on some frames.
    object_ids: K ids as the data set names them (palette index, masklet index, ...).
    """

    frames: torch.Tensor
    masks: torch.Tensor
    object_ids: List[int]
    name: str = ""
    frame_indices: List[int] = field(default_factory=list)

    def __post_init__(self):
        if self.frames.ndim != 4 or self.frames.shape[1] != 3:
            raise DataError(f"clip {self.name!r}: frames must be (T, 3, H, W), got {tuple(self.frames.shape)}")
        if self.masks.ndim != 4:
            raise DataError(f"clip {self.name!r}: masks must be (T, K, H, W), got {tuple(self.masks.shape)}")
        t, _, h, w = self.frames.shape
        if self.masks.shape[0] != t or tuple(self.masks.shape[2:]) != (h, w):
            raise DataError(
                f"clip {self.name!r}: masks {tuple(self.masks.shape)} do not fit frames {tuple(self.frames.shape)}"
            )
        if self.masks.shape[1] != len(self.object_ids):
            raise DataError(f"clip {self.name!r}: {self.masks.shape[1]} masks but {len(self.object_ids)} object ids")

    @property
    def num_frames(self) -> int:
        return self.frames.shape[0]

    @property
    def num_objects(self) -> int:
        return self.masks.shape[1]

    def replace(self, frames: torch.Tensor, masks: torch.Tensor) -> "Clip":
        return Clip(frames, masks, list(self.object_ids), self.name, list(self.frame_indices))

    def select_objects(self, keep: List[int]) -> "Clip":
        """Keep the objects at positions ``keep`` (in that order)."""
        return Clip(self.frames, self.masks[:, keep], [self.object_ids[i] for i in keep],
                    self.name, list(self.frame_indices))


def read_rgb(path: str) -> np.ndarray:
    """(H, W, 3) uint8 RGB of an image file, or DataError naming the file."""
    try:
        with Image.open(path) as im:
            return np.asarray(im.convert("RGB"))
    except Exception as e:  # PIL raises several types for broken files
        raise DataError(f"image {path!r} cannot be read: {type(e).__name__}: {e}") from None


def frames_to_tensor(frames: List[np.ndarray]) -> torch.Tensor:
    """List of (H, W, 3) uint8 -> (T, 3, H, W) float32 in [0, 1]."""
    return torch.from_numpy(np.stack(frames)).permute(0, 3, 1, 2).float().div_(255.0)
