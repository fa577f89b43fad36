"""A synthetic VOS data set: textured shapes moving over a textured background.

Written as a DAVIS-style folder (JPEGImages/, Annotations/ with palette PNGs), with exact
masks (shapes are drawn from their own masks, later objects in front). Used by the tests
and for trying the pipeline without downloading anything:

    python -m training.synthetic OUT_DIR --videos 12 --frames 12
"""

import argparse
import os
from typing import List, Tuple

import numpy as np
from PIL import Image

from training.palette import davis_palette


def _texture(rng: np.random.Generator, h: int, w: int, base: np.ndarray, cell: int) -> np.ndarray:
    """Blocky colour noise around ``base`` (RGB in 0..255): (h, w, 3) float."""
    coarse = rng.normal(0, 35, size=(h // cell + 2, w // cell + 2, 3))
    tex = np.kron(coarse, np.ones((cell, cell, 1)))[:h, :w]
    stripes = 20 * np.sin(np.arange(w)[None, :, None] / (1.5 + cell))
    return np.clip(base + tex + stripes, 0, 255)


def _shape_mask(kind: int, h: int, w: int, cx: float, cy: float, r: float) -> np.ndarray:
    yy, xx = np.mgrid[0:h, 0:w]
    if kind == 0:  # ellipse
        return ((xx - cx) / r) ** 2 + ((yy - cy) / (0.7 * r)) ** 2 <= 1
    if kind == 1:  # rectangle
        return (np.abs(xx - cx) <= r) & (np.abs(yy - cy) <= 0.6 * r)
    # triangle pointing up
    return (yy <= cy + 0.8 * r) & (yy - (cy - r) >= 1.8 * np.abs(xx - cx))


def make_video(rng: np.random.Generator, num_frames: int, size: Tuple[int, int], num_objects: int):
    """Frames (T, H, W, 3) uint8 and id masks (T, H, W) uint8 (0 background, 1..N objects)."""
    h, w = size
    background = _texture(rng, h, w, rng.uniform(60, 190, 3), cell=int(rng.integers(4, 9)))
    objects = []
    for _ in range(num_objects):
        r = rng.uniform(0.12, 0.22) * min(h, w)
        objects.append({
            "kind": int(rng.integers(3)),
            "r": r,
            "pos": np.array([rng.uniform(r, w - r), rng.uniform(r, h - r)]),
            "vel": rng.uniform(-0.05, 0.05, 2) * np.array([w, h]),
            "tex": _texture(rng, h, w, rng.uniform(0, 255, 3), cell=int(rng.integers(2, 5))),
        })
    frames, ids = [], []
    for _ in range(num_frames):
        image = background.copy()
        id_mask = np.zeros((h, w), np.uint8)
        for k, obj in enumerate(objects):
            m = _shape_mask(obj["kind"], h, w, obj["pos"][0], obj["pos"][1], obj["r"])
            image[m] = obj["tex"][m]
            id_mask[m] = k + 1
            obj["pos"] = obj["pos"] + obj["vel"]
            for axis, limit in ((0, w), (1, h)):  # bounce off the borders
                if not obj["r"] * 0.5 <= obj["pos"][axis] <= limit - obj["r"] * 0.5:
                    obj["vel"][axis] *= -1
        frames.append(image.astype(np.uint8))
        ids.append(id_mask)
    return np.stack(frames), np.stack(ids)


def write_vos_folder(root: str, num_videos: int = 8, num_frames: int = 10, size: Tuple[int, int] = (96, 128),
                     max_objects: int = 2, seed: int = 0, prefix: str = "video") -> List[str]:
    """Write ``num_videos`` synthetic videos under ``root`` (DAVIS layout); returns their names."""
    rng = np.random.default_rng(seed)
    palette = davis_palette()
    names = []
    for v in range(num_videos):
        name = f"{prefix}{v:03d}"
        frames, ids = make_video(rng, num_frames, size, int(rng.integers(1, max_objects + 1)))
        os.makedirs(os.path.join(root, "JPEGImages", name), exist_ok=True)
        os.makedirs(os.path.join(root, "Annotations", name), exist_ok=True)
        for t in range(num_frames):
            Image.fromarray(frames[t]).save(os.path.join(root, "JPEGImages", name, f"{t:05d}.jpg"), quality=95)
            png = Image.fromarray(ids[t], mode="P")
            png.putpalette(palette)
            png.save(os.path.join(root, "Annotations", name, f"{t:05d}.png"))
        names.append(name)
    return names


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out")
    parser.add_argument("--videos", type=int, default=8)
    parser.add_argument("--frames", type=int, default=10)
    parser.add_argument("--height", type=int, default=96)
    parser.add_argument("--width", type=int, default=128)
    parser.add_argument("--max-objects", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    names = write_vos_folder(args.out, args.videos, args.frames, (args.height, args.width), args.max_objects, args.seed)
    print(f"wrote {len(names)} videos to {args.out}")


if __name__ == "__main__":
    main()
