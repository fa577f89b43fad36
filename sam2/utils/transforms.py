"""Image pre- and post-processing of the image predictor (no torchvision needed).

Input images are resized to the model's square input (aspect ratio not kept), with
antialiased bilinear interpolation, then normalised with ImageNet statistics.
"""

from typing import List, Sequence, Tuple, Union

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

ImageLike = Union[np.ndarray, Image.Image]


def image_to_tensor(image: ImageLike) -> torch.Tensor:
    """HWC uint8 RGB numpy array or PIL image -> (3, H, W) float32 in [0, 1]."""
    if isinstance(image, Image.Image):
        image = np.asarray(image.convert("RGB"))
    if not isinstance(image, np.ndarray):
        raise TypeError(f"image must be a numpy array (H, W, 3) or a PIL image, got {type(image).__name__}")
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"image must have shape (H, W, 3) (RGB), got {image.shape}")
    if image.shape[0] < 1 or image.shape[1] < 1:
        raise ValueError(f"image is empty: shape {image.shape}")
    if image.dtype == np.uint8:
        tensor = torch.from_numpy(np.array(image)).permute(2, 0, 1).float().div(255.0)
    elif np.issubdtype(image.dtype, np.floating):
        if not np.isfinite(image).all():
            raise ValueError("image contains NaN or infinite values")
        tensor = torch.from_numpy(np.ascontiguousarray(image, dtype=np.float32)).permute(2, 0, 1)
    else:
        raise TypeError(f"image dtype must be uint8 (0..255) or float (0..1), got {image.dtype}")
    return tensor


class SAM2Transforms:
    """Resize + normalise images, map prompts to model-input coordinates, upsample masks."""

    def __init__(self, resolution: int, mask_threshold: float = 0.0):
        self.resolution = resolution
        self.mask_threshold = mask_threshold
        self.mean = torch.tensor(IMAGENET_MEAN).view(3, 1, 1)
        self.std = torch.tensor(IMAGENET_STD).view(3, 1, 1)

    def __call__(self, image: ImageLike) -> torch.Tensor:
        """(3, S, S) normalised model input."""
        x = image_to_tensor(image)
        x = F.interpolate(
            x[None], (self.resolution, self.resolution), mode="bilinear", align_corners=False, antialias=True
        )[0]
        return (x - self.mean) / self.std

    def forward_batch(self, images: Sequence[ImageLike]) -> torch.Tensor:
        return torch.stack([self(img) for img in images], dim=0)

    def transform_coords(self, coords: torch.Tensor, normalize: bool, orig_hw: Tuple[int, int]) -> torch.Tensor:
        """(..., 2) x/y in image pixels (normalize=True) or in [0, 1] -> model-input pixels."""
        if normalize:
            h, w = orig_hw
            coords = coords / torch.tensor([w, h], dtype=coords.dtype, device=coords.device)
        return coords * self.resolution

    def transform_boxes(self, boxes: torch.Tensor, normalize: bool, orig_hw: Tuple[int, int]) -> torch.Tensor:
        """(B, 4) x0 y0 x1 y1 -> (B, 2, 2) corner points in model-input pixels."""
        return self.transform_coords(boxes.reshape(-1, 2, 2), normalize, orig_hw)

    def postprocess_masks(self, masks: torch.Tensor, orig_hw: Tuple[int, int]) -> torch.Tensor:
        """Low-res logits (B, C, h, w) -> logits at the original image size (B, C, H, W)."""
        return F.interpolate(masks.float(), tuple(orig_hw), mode="bilinear", align_corners=False)


def to_list_of_images(images) -> List[ImageLike]:
    if not isinstance(images, (list, tuple)) or len(images) == 0:
        raise TypeError("image_list must be a non-empty list of images")
    return list(images)
