"""Each clip transform: masks stay aligned with the image, all frames move together."""

import numpy as np
import pytest
import torch

from training.datasets.clip import Clip
from training.transforms import (
    ColorJitter,
    RandomAffine,
    RandomGrayscale,
    RandomHorizontalFlip,
    RandomResizedCrop,
    ResizeSquare,
)


def marked_clip(t=3, h=64, w=80, seed=0) -> Clip:
    """Frames whose red channel is exactly the first object's mask (so alignment is checkable)."""
    g = torch.Generator().manual_seed(seed)
    masks = torch.zeros(t, 2, h, w, dtype=torch.bool)
    for i in range(t):
        masks[i, 0, 10 + i:30 + i, 12:40] = True  # a rectangle moving down
        masks[i, 1, 40:50, 50 + 2 * i:60 + 2 * i] = True  # a small square moving right
    frames = torch.rand(t, 3, h, w, generator=g) * 0.5 + 0.25
    frames[:, 0] = masks[:, 0].float()
    return Clip(frames, masks, [1, 2], "marked", list(range(t)))


def agreement(clip: Clip) -> float:
    """Share of pixels where the red channel (thresholded) equals object 1's mask."""
    return float(((clip.frames[:, 0] > 0.5) == clip.masks[:, 0]).float().mean())


def always(p=1.0):
    return np.random.default_rng(0)


def test_hflip_flips_image_and_mask_exactly():
    clip = marked_clip()
    out = RandomHorizontalFlip(p=1.0)(clip, always())
    assert torch.equal(out.frames, clip.frames.flip(-1))
    assert torch.equal(out.masks, clip.masks.flip(-1))
    assert agreement(out) == 1.0
    assert RandomHorizontalFlip(p=0.0)(clip, always()) is clip


def test_affine_identity_keeps_the_clip():
    clip = marked_clip()
    out = RandomAffine().apply(clip, RandomAffine.matrix(0.0, 0.0, 1.0))
    assert torch.allclose(out.frames, clip.frames, atol=1e-5)
    assert torch.equal(out.masks, clip.masks)


def test_affine_quarter_turn_is_an_exact_rotation():
    clip = marked_clip(h=64, w=64)
    out = RandomAffine().apply(clip, RandomAffine.matrix(90.0, 0.0, 1.0))
    # y points down, so +90 degrees turns the picture clockwise: rot90 from W towards H.
    expected = torch.rot90(clip.masks, k=1, dims=(-1, -2))
    assert torch.equal(out.masks, expected)
    assert torch.allclose(out.frames, torch.rot90(clip.frames, k=1, dims=(-1, -2)), atol=1e-5)


@pytest.mark.parametrize("seed", range(5))
def test_random_affine_keeps_masks_aligned(seed):
    clip = marked_clip()
    out = RandomAffine(degrees=25, shear=20, scale=(0.8, 1.2))(clip, np.random.default_rng(seed))
    assert out.masks.shape == clip.masks.shape
    assert not torch.equal(out.masks, clip.masks)
    assert agreement(out) > 0.99  # only boundary pixels may differ (bilinear vs nearest)
    # The object keeps roughly its area (scale^2 within 0.64..1.44).
    ratio = out.masks[:, 0].sum() / clip.masks[:, 0].sum()
    assert 0.55 < float(ratio) < 1.6


def test_geometric_transforms_are_shared_by_all_frames():
    frame = marked_clip(t=1)
    clip = Clip(frame.frames.repeat(4, 1, 1, 1), frame.masks.repeat(4, 1, 1, 1), [1, 2], "same")
    for transform in (RandomAffine(), RandomResizedCrop(p=1.0), RandomHorizontalFlip(1.0)):
        out = transform(clip, np.random.default_rng(3))
        for t in range(1, 4):
            assert torch.equal(out.frames[t], out.frames[0])
            assert torch.equal(out.masks[t], out.masks[0])


@pytest.mark.parametrize("seed", range(5))
def test_resized_crop_keeps_masks_aligned_and_size(seed):
    clip = marked_clip()
    out = RandomResizedCrop(scale=(0.3, 0.8), p=1.0, small_object_bias=0.0)(clip, np.random.default_rng(seed))
    assert out.frames.shape == clip.frames.shape and out.masks.shape == clip.masks.shape
    assert agreement(out) > 0.98


def test_resized_crop_bias_centres_the_smallest_object():
    clip = marked_clip()
    crop = RandomResizedCrop(scale=(0.1, 0.1), p=1.0, small_object_bias=1.0)
    top, left, ch, cw = crop.box(clip, np.random.default_rng(0))
    ys, xs = torch.nonzero(clip.masks[0, 1], as_tuple=True)  # object 2 is the smaller one
    assert top <= float(ys.float().mean()) <= top + ch
    assert left <= float(xs.float().mean()) <= left + cw
    out = crop(clip, np.random.default_rng(0))
    assert out.masks[0, 1].sum() > clip.masks[0, 1].sum()  # zoomed in on it


def test_resize_square_and_multiscale_padding():
    clip = marked_clip()
    out = ResizeSquare(128)(clip, always())
    assert out.frames.shape == (3, 3, 128, 128) and out.masks.shape == (3, 2, 128, 128)
    assert agreement(out) > 0.99
    out = ResizeSquare(128, sizes=[96])(clip, always())
    assert out.frames.shape[-2:] == (128, 128)
    assert not out.masks[..., 96:, :].any() and not out.masks[..., :, 96:].any()
    assert float(out.frames[..., 96:, :].abs().sum()) == 0.0
    with pytest.raises(ValueError):
        ResizeSquare(64, sizes=[96])


def test_color_jitter_changes_colours_only():
    frame = marked_clip(t=1)
    clip = Clip(frame.frames.repeat(3, 1, 1, 1), frame.masks.repeat(3, 1, 1, 1), [1, 2], "same")
    jitter = ColorJitter(brightness=0.4, contrast=0.4, saturation=0.4, hue=0.1, consistent=True)
    out = jitter(clip, np.random.default_rng(0))
    assert torch.equal(out.masks, clip.masks)
    assert not torch.allclose(out.frames, clip.frames)
    assert float(out.frames.min()) >= 0.0 and float(out.frames.max()) <= 1.0
    assert torch.equal(out.frames[1], out.frames[0])  # consistent: same change on every frame
    per_frame = ColorJitter(brightness=0.4, consistent=False)(clip, np.random.default_rng(0))
    assert not torch.allclose(per_frame.frames[1], per_frame.frames[0])


def test_hue_shift_of_a_full_turn_is_identity():
    clip = marked_clip()
    out = ColorJitter.apply(clip.frames, 1.0, 1.0, 1.0, 1.0)
    assert torch.allclose(out, clip.frames, atol=1e-4)


def test_grayscale():
    clip = marked_clip()
    out = RandomGrayscale(p=1.0)(clip, always())
    assert torch.allclose(out.frames[:, 0], out.frames[:, 1]) and torch.allclose(out.frames[:, 1], out.frames[:, 2])
    assert torch.equal(out.masks, clip.masks)
    assert RandomGrayscale(p=0.0)(clip, always()) is clip
