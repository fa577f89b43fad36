"""VOS folders as DAVIS, MOSE and LVOS ship them.

Layout: ``<root>/JPEGImages/<video>/<frame>.jpg`` and ``<root>/Annotations/<video>/<frame>.png``,
the PNGs holding object ids as pixel values (palette or grayscale; 0 = background,
255 = "void" in some sets and ignored). Frames without a PNG are not used for training.
"""

import os
from dataclasses import dataclass
from typing import List, Optional, Sequence

import numpy as np
import torch
from PIL import Image

from training.datasets.clip import Clip, DataError, frames_to_tensor, read_rgb
from training.datasets.sampling import choose_frames, choose_objects

JPEG_EXTENSIONS = (".jpg", ".jpeg")
VOID_ID = 255


def sort_key(name: str):
    """Frame order: by the number in the file name when there is one."""
    stem = os.path.splitext(name)[0]
    return (0, int(stem), stem) if stem.isdigit() else (1, 0, stem)


def read_id_mask(path: str) -> np.ndarray:
    """(H, W) uint8 object ids of an annotation PNG, or DataError naming the file."""
    try:
        with Image.open(path) as im:
            if im.mode not in ("P", "L", "1"):
                raise DataError(
                    f"annotation {path!r} is a {im.mode} image; it must be a palette (P) or grayscale "
                    "PNG whose pixel values are object ids (0 = background)"
                )
            return np.asarray(im.convert("L") if im.mode == "1" else im).astype(np.uint8)
    except DataError:
        raise
    except Exception as e:
        raise DataError(f"annotation {path!r} cannot be read: {type(e).__name__}: {e}") from None


def object_ids_in(id_mask: np.ndarray) -> List[int]:
    return [int(v) for v in np.unique(id_mask) if v not in (0, VOID_ID)]


@dataclass
class VideoEntry:
    name: str
    frame_paths: List[str]  # annotated frames only, in order
    mask_paths: List[str]


def list_videos(root: str, jpeg_dir: str = "JPEGImages", ann_dir: str = "Annotations",
                videos: Optional[Sequence[str]] = None) -> List[VideoEntry]:
    """Index a VOS folder; ``videos`` restricts it to some names (or a .txt of names)."""
    image_root, mask_root = os.path.join(root, jpeg_dir), os.path.join(root, ann_dir)
    for folder in (image_root, mask_root):
        if not os.path.isdir(folder):
            raise DataError(f"{folder!r} is not a folder; a VOS data set needs {jpeg_dir}/ and {ann_dir}/ under {root!r}")
    if isinstance(videos, str):
        with open(videos) as f:
            videos = [line.strip() for line in f if line.strip()]
    names = sorted(videos) if videos is not None else sorted(
        d for d in os.listdir(image_root) if os.path.isdir(os.path.join(image_root, d))
    )
    if not names:
        raise DataError(f"no video folders in {image_root!r}")
    entries = []
    for name in names:
        vdir, adir = os.path.join(image_root, name), os.path.join(mask_root, name)
        if not os.path.isdir(vdir):
            raise DataError(f"video {name!r} has no frame folder {vdir!r}")
        frames = sorted((f for f in os.listdir(vdir) if f.lower().endswith(JPEG_EXTENSIONS)), key=sort_key)
        pngs = set(os.listdir(adir)) if os.path.isdir(adir) else set()
        pairs = [(f, os.path.splitext(f)[0] + ".png") for f in frames]
        pairs = [(f, m) for f, m in pairs if m in pngs]
        if not pairs:
            raise DataError(f"video {name!r} has no annotated frame: no {adir}/<frame>.png matches a JPEG in {vdir!r}")
        entries.append(VideoEntry(name, [os.path.join(vdir, f) for f, _ in pairs],
                                  [os.path.join(adir, m) for _, m in pairs]))
    return entries


class VOSFolder:
    """Training clips from a VOS folder. See :meth:`sample_clip`."""

    def __init__(self, root: str, videos=None, jpeg_dir: str = "JPEGImages", ann_dir: str = "Annotations"):
        self.root = root
        self.videos = list_videos(root, jpeg_dir, ann_dir, videos)

    def __len__(self) -> int:
        return len(self.videos)

    def sample_clip(self, rng: np.random.Generator, num_frames: int, max_stride: int, max_objects: int) -> Clip:
        """A clip of up to ``num_frames`` annotated frames (random stride 1..max_stride) with up
        to ``max_objects`` objects visible on its first frame."""
        video = self.videos[int(rng.integers(len(self.videos)))]
        for _ in range(10):
            picks = choose_frames(rng, len(video.frame_paths), num_frames, max_stride)
            first = read_id_mask(video.mask_paths[picks[0]])
            ids = object_ids_in(first)
            if ids:
                break
        else:
            raise DataError(
                f"video {video.name!r}: no object found on the first frame of 10 sampled clips; "
                "are its annotations empty (all 0)?"
            )
        ids = choose_objects(rng, ids, max_objects)
        return self.load_clip(video, picks, ids)

    @staticmethod
    def load_clip(video: VideoEntry, picks: List[int], ids: List[int]) -> Clip:
        frames, masks = [], []
        for i in picks:
            rgb = read_rgb(video.frame_paths[i])
            id_mask = read_id_mask(video.mask_paths[i])
            if id_mask.shape != rgb.shape[:2]:
                raise DataError(
                    f"video {video.name!r}: annotation {video.mask_paths[i]!r} is {id_mask.shape[1]}x{id_mask.shape[0]} "
                    f"but its frame is {rgb.shape[1]}x{rgb.shape[0]}"
                )
            frames.append(rgb)
            masks.append(np.stack([id_mask == k for k in ids]))
        return Clip(frames_to_tensor(frames), torch.from_numpy(np.stack(masks)), ids, video.name, picks)
