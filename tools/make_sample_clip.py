#!/usr/bin/env python3
"""Generate a short synthetic sample clip for the demo gallery (no network needed).

The clip shows three textured shapes (a striped disc, a checkered square and a dotted
triangle) moving over a slowly panning textured background, so there is something
worth clicking on and tracking even on a machine that cannot download anything.
Output: H.264 (yuv420p) MP4 with the index at the front, constant frame rate, no audio,
the format every browser plays and the demo backend accepts as-is.

Usage:
    python tools/make_sample_clip.py data/gallery/sample_shapes.mp4
    python tools/make_sample_clip.py out.mp4 --width 320 --height 180 --seconds 2
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import tempfile
from pathlib import Path

import numpy as np

DEFAULT_NAME = "sample_shapes_640x360_24fps.mp4"


def _background(height: int, width: int, rng: np.random.Generator) -> np.ndarray:
    """A tileable texture twice the frame size (so it can pan), HxWx3 float32 in [0, 255]."""
    h2, w2 = 2 * height, 2 * width
    yy, xx = np.mgrid[0:h2, 0:w2].astype(np.float32)
    # Soft colour gradient plus a few low-frequency waves: looks like a surface, not noise.
    base = np.stack(
        [
            90 + 40 * np.sin(xx / w2 * 2 * math.pi),
            110 + 30 * np.cos(yy / h2 * 2 * math.pi),
            80 + 35 * np.sin((xx + yy) / (w2 + h2) * 4 * math.pi),
        ],
        axis=-1,
    )
    waves = 12 * np.sin(xx / 23.0) * np.cos(yy / 31.0)
    grain = rng.normal(0.0, 9.0, size=(h2, w2, 1)).astype(np.float32)
    return np.clip(base + waves[..., None] + grain, 0, 255)


def _disc_mask(yy, xx, cy, cx, radius):
    return (yy - cy) ** 2 + (xx - cx) ** 2 <= radius**2


def _square_mask(yy, xx, cy, cx, half, angle):
    # Rotate the pixel grid into the square's frame, then test |u|,|v| <= half.
    cos_a, sin_a = math.cos(angle), math.sin(angle)
    u = (xx - cx) * cos_a + (yy - cy) * sin_a
    v = -(xx - cx) * sin_a + (yy - cy) * cos_a
    return (np.abs(u) <= half) & (np.abs(v) <= half)


def _triangle_mask(yy, xx, cy, cx, size):
    # Upward-pointing triangle, corners listed clockwise on screen (y grows downwards):
    # a pixel is inside when it lies on the inner side of all three edges.
    p = [(cx, cy - size), (cx + size, cy + size * 0.8), (cx - size, cy + size * 0.8)]
    inside = np.ones_like(xx, dtype=bool)
    for (x0, y0), (x1, y1) in zip(p, p[1:] + p[:1]):
        inside &= (x1 - x0) * (yy - y0) - (y1 - y0) * (xx - x0) >= 0
    return inside


def render_frame(index: int, num_frames: int, background: np.ndarray, height: int, width: int) -> np.ndarray:
    """Frame `index` of the clip as an HxWx3 uint8 RGB array."""
    t = index / max(num_frames - 1, 1)  # 0..1 over the clip
    # The camera pans diagonally across the double-size background.
    oy = round(t * (background.shape[0] - height) * 0.5)
    ox = round(t * (background.shape[1] - width))
    frame = background[oy : oy + height, ox : ox + width].copy()
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    s = min(height, width)

    # Disc: moves left to right on a gentle sine path; red with diagonal stripes.
    cy, cx = height * (0.35 + 0.12 * math.sin(2 * math.pi * t)), width * (0.15 + 0.7 * t)
    m = _disc_mask(yy, xx, cy, cx, 0.14 * s)
    stripes = ((xx + yy) // 7 % 2).astype(np.float32)
    frame[m] = np.stack([200 + 40 * stripes, 40 + 30 * stripes, 40 + 0 * stripes], -1)[m]

    # Square: bounces vertically on the right and spins; blue checkerboard.
    cy, cx = height * (0.25 + 0.5 * abs(math.sin(math.pi * 1.5 * t))), width * 0.78
    m = _square_mask(yy, xx, cy, cx, 0.11 * s, angle=2 * math.pi * 0.5 * t)
    checker = ((xx // 8 + yy // 8) % 2).astype(np.float32)
    frame[m] = np.stack([40 + 20 * checker, 70 + 40 * checker, 190 + 50 * checker], -1)[m]

    # Triangle: crosses from right to left along the bottom (drawn last, so always in front).
    cy, cx = height * 0.72, width * (0.9 - 0.75 * t)
    m = _triangle_mask(yy, xx, cy, cx, 0.12 * s)
    dots = (((xx % 10) - 5) ** 2 + ((yy % 10) - 5) ** 2 < 6).astype(np.float32)
    frame[m] = np.stack([230 - 60 * dots, 200 - 60 * dots, 40 + 0 * dots], -1)[m]

    return np.clip(frame, 0, 255).astype(np.uint8)


def make_sample_clip(
    out_path: str | os.PathLike,
    width: int = 640,
    height: int = 360,
    fps: int = 24,
    seconds: float = 4.0,
    seed: int = 0,
) -> Path:
    """Write the clip to `out_path` atomically (temp file + rename) and return its path.

    width/height are rounded down to even numbers (H.264 4:2:0 needs even sizes).
    """
    import av  # imported here so `--help` works without PyAV

    width, height = int(width) // 2 * 2, int(height) // 2 * 2
    if width < 32 or height < 32:
        raise ValueError(f"clip size {width}x{height} is too small (minimum 32x32)")
    if not (1 <= fps <= 120) or not (0 < seconds <= 600):
        raise ValueError(f"fps must be 1..120 and seconds 0..600, got fps={fps}, seconds={seconds}")
    num_frames = max(1, round(fps * seconds))
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)

    rng = np.random.default_rng(seed)
    background = _background(height, width, rng)
    fd, tmp_name = tempfile.mkstemp(prefix=".tmp-", suffix=".mp4", dir=out_path.parent)
    os.close(fd)
    try:
        with av.open(tmp_name, mode="w", format="mp4", options={"movflags": "+faststart"}) as container:
            stream = container.add_stream("libx264", rate=fps)
            stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
            # No B-frames: decode order equals display order, simplest for frame-accurate players.
            stream.options = {"crf": "20", "preset": "medium", "bf": "0"}
            for i in range(num_frames):
                rgb = render_frame(i, num_frames, background, height, width)
                video_frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
                for packet in stream.encode(video_frame):
                    container.mux(packet)
            for packet in stream.encode():  # flush the encoder
                container.mux(packet)
        os.chmod(tmp_name, 0o644)  # mkstemp creates 0600; the server may run as another user
        os.replace(tmp_name, out_path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    return out_path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("output", nargs="?", default=os.path.join("data", "gallery", DEFAULT_NAME))
    parser.add_argument("--width", type=int, default=640)
    parser.add_argument("--height", type=int, default=360)
    parser.add_argument("--fps", type=int, default=24)
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    try:
        path = make_sample_clip(args.output, args.width, args.height, args.fps, args.seconds, args.seed)
    except (ValueError, OSError) as exc:
        print(f"make_sample_clip: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {path} ({path.stat().st_size / 1e6:.2f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
