"""Clip augmentations of the SAM 2.1 recipe, one small class each.

Every transform is called as ``transform(clip, rng) -> clip`` with a numpy Generator.
Geometric transforms draw their parameters once per clip, so all frames move together;
images are resampled bilinearly and masks with nearest neighbour, so they stay aligned.
Photometric transforms can draw once per clip (``consistent=True``) or per frame.
"""

import math
from typing import List, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn.functional as F

from training.datasets.clip import Clip

GRAY_WEIGHTS = (0.299, 0.587, 0.114)


def _resize(frames: torch.Tensor, masks: torch.Tensor, size: Tuple[int, int]) -> Tuple[torch.Tensor, torch.Tensor]:
    """frames (T,3,H,W) bilinear (antialiased), masks (T,K,H,W) nearest, to size (h, w)."""
    if tuple(frames.shape[-2:]) == tuple(size):
        return frames, masks
    frames = F.interpolate(frames, size=size, mode="bilinear", align_corners=False, antialias=True)
    masks = F.interpolate(masks.float(), size=size, mode="nearest-exact") > 0.5
    return frames.clamp_(0, 1), masks


class Compose:
    def __init__(self, transforms: Sequence):
        self.transforms = list(transforms)

    def __call__(self, clip: Clip, rng: np.random.Generator) -> Clip:
        for t in self.transforms:
            clip = t(clip, rng)
        return clip


class RandomHorizontalFlip:
    def __init__(self, p: float = 0.5):
        self.p = p

    def __call__(self, clip: Clip, rng: np.random.Generator) -> Clip:
        if rng.random() >= self.p:
            return clip
        return clip.replace(clip.frames.flip(-1), clip.masks.flip(-1))


class RandomAffine:
    """Rotation (degrees), shear (degrees, along x) and isotropic scale about the centre.

    Pixels that come from outside the frame are ``fill`` for images and background for masks.
    """

    def __init__(self, degrees: float = 25.0, shear: float = 20.0, scale: Tuple[float, float] = (0.9, 1.1),
                 p: float = 1.0, fill: float = 0.0):
        self.degrees, self.shear, self.scale, self.p, self.fill = degrees, shear, tuple(scale), p, fill

    @staticmethod
    def matrix(angle: float, shear: float, scale: float) -> np.ndarray:
        """2x2 forward map (input -> output) in centred pixel coordinates (x right, y down)."""
        a, s = math.radians(angle), math.radians(shear)
        rot = np.array([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]])
        shr = np.array([[1.0, math.tan(s)], [0.0, 1.0]])
        return rot @ shr * scale

    def apply(self, clip: Clip, forward: np.ndarray) -> Clip:
        t, _, h, w = clip.frames.shape
        # grid_sample wants, for each output pixel, where to read in the input: the inverse map,
        # expressed in normalised coordinates (pixel / half-size).
        half = np.diag([w / 2.0, h / 2.0])
        inv = np.linalg.inv(half) @ np.linalg.inv(forward) @ half
        theta = torch.zeros(1, 2, 3)
        theta[0, :, :2] = torch.from_numpy(inv).float()
        grid = F.affine_grid(theta, [1, 1, h, w], align_corners=False).expand(t, -1, -1, -1)
        frames = F.grid_sample(clip.frames - self.fill, grid, mode="bilinear", align_corners=False) + self.fill
        masks = F.grid_sample(clip.masks.float(), grid, mode="nearest", align_corners=False) > 0.5
        return clip.replace(frames.clamp_(0, 1), masks)

    def __call__(self, clip: Clip, rng: np.random.Generator) -> Clip:
        if rng.random() >= self.p:
            return clip
        angle = rng.uniform(-self.degrees, self.degrees)
        shear = rng.uniform(-self.shear, self.shear)
        scale = rng.uniform(*self.scale)
        return self.apply(clip, self.matrix(angle, shear, scale))


class RandomResizedCrop:
    """Crop a random box (area fraction ``scale``, aspect ``ratio``) and resize it back.

    With probability ``small_object_bias`` the box is centred on the smallest object of the
    first frame, so small objects get more pixels (as in the SAM 2.1 recipe).
    """

    def __init__(self, scale: Tuple[float, float] = (0.3, 1.0), ratio: Tuple[float, float] = (0.75, 1.333),
                 p: float = 0.5, small_object_bias: float = 0.5):
        self.scale, self.ratio, self.p, self.small_object_bias = tuple(scale), tuple(ratio), p, small_object_bias

    def box(self, clip: Clip, rng: np.random.Generator) -> Tuple[int, int, int, int]:
        """(top, left, height, width) of the crop."""
        _, _, h, w = clip.frames.shape
        area = rng.uniform(*self.scale) * h * w
        aspect = math.exp(rng.uniform(math.log(self.ratio[0]), math.log(self.ratio[1])))
        ch = int(round(min(h, math.sqrt(area / aspect))))
        cw = int(round(min(w, math.sqrt(area * aspect))))
        ch, cw = max(ch, 1), max(cw, 1)
        areas = clip.masks[0].flatten(1).sum(1)
        if rng.random() < self.small_object_bias and bool((areas > 0).any()):
            k = int(torch.where(areas > 0, areas, areas.max() + 1).argmin())
            ys, xs = torch.nonzero(clip.masks[0, k], as_tuple=True)
            cy, cx = float(ys.float().mean()), float(xs.float().mean())
            top = int(np.clip(round(cy - ch / 2), 0, h - ch))
            left = int(np.clip(round(cx - cw / 2), 0, w - cw))
        else:
            top = int(rng.integers(0, h - ch + 1))
            left = int(rng.integers(0, w - cw + 1))
        return top, left, ch, cw

    def __call__(self, clip: Clip, rng: np.random.Generator) -> Clip:
        if rng.random() >= self.p:
            return clip
        _, _, h, w = clip.frames.shape
        top, left, ch, cw = self.box(clip, rng)
        frames = clip.frames[..., top:top + ch, left:left + cw]
        masks = clip.masks[..., top:top + ch, left:left + cw]
        return clip.replace(*_resize(frames, masks, (h, w)))


class ResizeSquare:
    """Resize to ``size`` x ``size`` (aspect ratio not kept), the model's input.

    Multi-scale: with ``sizes`` given, the clip is resized to a random one of them and
    padded (bottom/right, background) to ``size``.
    """

    def __init__(self, size: int, sizes: Optional[Sequence[int]] = None):
        self.size = size
        self.sizes = list(sizes) if sizes else [size]
        if max(self.sizes) > size:
            raise ValueError(f"multi-scale sizes {self.sizes} must not exceed the input size {size}")

    def __call__(self, clip: Clip, rng: np.random.Generator) -> Clip:
        side = self.sizes[int(rng.integers(len(self.sizes)))] if len(self.sizes) > 1 else self.sizes[0]
        frames, masks = _resize(clip.frames, clip.masks, (side, side))
        pad = self.size - side
        if pad:
            frames = F.pad(frames, (0, pad, 0, pad))
            masks = F.pad(masks, (0, pad, 0, pad))
        return clip.replace(frames, masks)


class ColorJitter:
    """Brightness, contrast, saturation (factors in [1-x, 1+x]) and hue (shift in turns, |h| <= 0.5)."""

    def __init__(self, brightness: float = 0.0, contrast: float = 0.0, saturation: float = 0.0,
                 hue: float = 0.0, consistent: bool = True, p: float = 1.0):
        self.brightness, self.contrast, self.saturation, self.hue = brightness, contrast, saturation, hue
        self.consistent, self.p = consistent, p

    def _draw(self, rng):
        def factor(x):
            return rng.uniform(max(0.0, 1 - x), 1 + x) if x > 0 else 1.0
        return factor(self.brightness), factor(self.contrast), factor(self.saturation), (
            rng.uniform(-self.hue, self.hue) if self.hue > 0 else 0.0)

    @staticmethod
    def apply(frames: torch.Tensor, b: float, c: float, s: float, h: float) -> torch.Tensor:
        """frames (T, 3, H, W) in [0, 1]."""
        gray_w = torch.tensor(GRAY_WEIGHTS).view(1, 3, 1, 1)
        x = frames * b
        x = x.clamp(0, 1)
        mean = (x * gray_w).sum(1, keepdim=True).mean((2, 3), keepdim=True)
        x = ((x - mean) * c + mean).clamp(0, 1)
        gray = (x * gray_w).sum(1, keepdim=True)
        x = ((x - gray) * s + gray).clamp(0, 1)
        if h:
            x = _shift_hue(x, h)
        return x

    def __call__(self, clip: Clip, rng: np.random.Generator) -> Clip:
        if rng.random() >= self.p:
            return clip
        if self.consistent:
            frames = self.apply(clip.frames, *self._draw(rng))
        else:
            frames = torch.cat([self.apply(f[None], *self._draw(rng)) for f in clip.frames])
        return clip.replace(frames, clip.masks)


def _shift_hue(x: torch.Tensor, turns: float) -> torch.Tensor:
    """Rotate the chroma of RGB images by ``turns`` of a full turn in YIQ space."""
    to_yiq = torch.tensor([[0.299, 0.587, 0.114], [0.596, -0.274, -0.322], [0.211, -0.523, 0.312]])
    a = 2 * math.pi * turns
    rot = torch.tensor([[1.0, 0.0, 0.0], [0.0, math.cos(a), -math.sin(a)], [0.0, math.sin(a), math.cos(a)]])
    m = torch.linalg.inv(to_yiq) @ rot @ to_yiq
    return torch.einsum("ij,tjhw->tihw", m, x).clamp(0, 1)


class RandomGrayscale:
    def __init__(self, p: float = 0.05, consistent: bool = True):
        self.p, self.consistent = p, consistent

    def __call__(self, clip: Clip, rng: np.random.Generator) -> Clip:
        gray_w = torch.tensor(GRAY_WEIGHTS).view(1, 3, 1, 1)
        n = 1 if self.consistent else clip.num_frames
        pick = torch.from_numpy(rng.random(n) < self.p).view(-1, 1, 1, 1)
        if not bool(pick.any()):
            return clip
        gray = (clip.frames * gray_w).sum(1, keepdim=True).expand(-1, 3, -1, -1)
        return clip.replace(torch.where(pick, gray, clip.frames), clip.masks)


def build_transforms(cfg, image_size: int) -> Compose:
    """The recipe from a config node (see training/configs/base.yaml, ``data.augment``)."""
    steps: List = []
    if cfg.get("hflip", 0) > 0:
        steps.append(RandomHorizontalFlip(cfg.hflip))
    if cfg.get("affine"):
        a = cfg.affine
        steps.append(RandomAffine(a.degrees, a.shear, tuple(a.scale), a.get("p", 1.0)))
    if cfg.get("crop"):
        c = cfg.crop
        steps.append(RandomResizedCrop(tuple(c.scale), tuple(c.get("ratio", (0.75, 1.333))), c.p,
                                       c.get("small_object_bias", 0.5)))
    steps.append(ResizeSquare(image_size, cfg.get("sizes")))
    for jitter in cfg.get("color_jitter") or []:
        steps.append(ColorJitter(jitter.get("brightness", 0), jitter.get("contrast", 0),
                                 jitter.get("saturation", 0), jitter.get("hue", 0),
                                 jitter.get("consistent", True)))
    if cfg.get("grayscale", 0) > 0:
        steps.append(RandomGrayscale(cfg.grayscale))
    return Compose(steps)
