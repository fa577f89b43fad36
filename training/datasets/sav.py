"""SA-V style videos: an mp4 (or a folder of JPEG frames) plus a masklet JSON per video.

``<root>/<video>.mp4`` (or ``<root>/<video>/00000.jpg ...``) and ``<root>/<video>_manual.json``
(``_auto.json`` also accepted) with ``"masklet"``: one list per annotated frame holding one
COCO RLE per object (masklet). Annotated frame j is video frame ``j * annotation_stride``
(SA-V annotates 24 fps videos at 6 fps: stride 4).
"""

import json
import os
from dataclasses import dataclass
from typing import Dict, List, Optional

import numpy as np
import torch

from training.datasets.clip import Clip, DataError, frames_to_tensor, read_rgb
from training.datasets.rle import decode_rle
from training.datasets.sampling import choose_frames, choose_objects
from training.datasets.vos_folder import JPEG_EXTENSIONS, sort_key

JSON_SUFFIXES = ("_manual.json", "_auto.json")


@dataclass
class MaskletVideo:
    name: str
    media: str  # mp4 path or frame folder
    annotation: str


def read_video_frames(path: str, indices: List[int]) -> Dict[int, np.ndarray]:
    """Frames ``indices`` of a video file (decoded in order) or JPEG folder -> {index: (H, W, 3) uint8}."""
    wanted = set(indices)
    if os.path.isdir(path):
        names = sorted((f for f in os.listdir(path) if f.lower().endswith(JPEG_EXTENSIONS)), key=sort_key)
        missing = [i for i in wanted if i >= len(names)]
        if missing:
            raise DataError(f"frame folder {path!r} has {len(names)} frames; frame {max(missing)} is annotated")
        return {i: read_rgb(os.path.join(path, names[i])) for i in wanted}
    try:
        import av

        out = {}
        with av.open(path) as container:
            for i, frame in enumerate(container.decode(video=0)):
                if i in wanted:
                    out[i] = frame.to_ndarray(format="rgb24")
                if len(out) == len(wanted):
                    break
    except Exception as e:
        raise DataError(f"video {path!r} cannot be decoded: {type(e).__name__}: {e}") from None
    if len(out) != len(wanted):
        raise DataError(f"video {path!r} ended before frame {max(wanted - set(out))}")
    return out


class SAVFolder:
    """Training clips from SA-V style masklets."""

    def __init__(self, root: str, annotation_stride: int = 4, videos: Optional[List[str]] = None):
        if not os.path.isdir(root):
            raise DataError(f"SA-V root {root!r} is not a folder")
        self.annotation_stride = annotation_stride
        self.videos: List[MaskletVideo] = []
        for name in sorted(os.listdir(root)):
            suffix = next((s for s in JSON_SUFFIXES if name.endswith(s)), None)
            if suffix is None:
                continue
            stem = name[: -len(suffix)]
            if videos is not None and stem not in videos:
                continue
            media = next((p for p in (os.path.join(root, stem + ".mp4"), os.path.join(root, stem)) if os.path.exists(p)), None)
            if media is None:
                raise DataError(f"masklet file {name!r} has no video {stem}.mp4 or frame folder {stem}/ beside it")
            self.videos.append(MaskletVideo(stem, media, os.path.join(root, name)))
        if not self.videos:
            raise DataError(f"no <video>_manual.json / _auto.json masklet files in {root!r}")

    def __len__(self) -> int:
        return len(self.videos)

    @staticmethod
    def read_masklets(path: str) -> List[List[dict]]:
        try:
            with open(path) as f:
                masklet = json.load(f)["masklet"]
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise DataError(f"masklet file {path!r} is not readable SA-V JSON with a 'masklet' list: {e}") from None
        if not masklet or not isinstance(masklet, list):
            raise DataError(f"masklet file {path!r} has no annotated frames")
        return masklet

    def sample_clip(self, rng: np.random.Generator, num_frames: int, max_stride: int, max_objects: int) -> Clip:
        video = self.videos[int(rng.integers(len(self.videos)))]
        masklet = self.read_masklets(video.annotation)
        for _ in range(10):
            picks = choose_frames(rng, len(masklet), num_frames, max_stride)
            first = [decode_rle(r) for r in masklet[picks[0]]]
            ids = [k for k, m in enumerate(first) if m.any()]
            if ids:
                break
        else:
            raise DataError(f"video {video.name!r}: every masklet is empty on the sampled first frames")
        ids = choose_objects(rng, ids, max_objects)
        frame_idx = [j * self.annotation_stride for j in picks]
        images = read_video_frames(video.media, frame_idx)
        frames, masks = [], []
        for j, t in zip(picks, frame_idx):
            rgb = images[t]
            objs = np.stack([decode_rle(masklet[j][k]) for k in ids])
            if objs.shape[1:] != rgb.shape[:2]:
                raise DataError(f"video {video.name!r} frame {t}: masks are {objs.shape[1:]} but the frame is {rgb.shape[:2]}")
            frames.append(rgb)
            masks.append(objs)
        return Clip(frames_to_tensor(frames), torch.from_numpy(np.stack(masks)), ids, video.name, frame_idx)
