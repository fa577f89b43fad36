"""SA-1B style images: ``<root>/<name>.jpg`` beside ``<root>/<name>.json`` with
``"annotations": [{"segmentation": <COCO RLE>, ...}]``. Each image is a one-frame clip."""

import json
import os
from typing import List

import numpy as np
import torch

from training.datasets.clip import Clip, DataError, frames_to_tensor, read_rgb
from training.datasets.rle import decode_rle
from training.datasets.sampling import choose_objects


class SA1BFolder:
    def __init__(self, root: str):
        if not os.path.isdir(root):
            raise DataError(f"SA-1B root {root!r} is not a folder")
        stems = sorted(os.path.splitext(f)[0] for f in os.listdir(root) if f.lower().endswith(".jpg"))
        self.items = [s for s in stems if os.path.isfile(os.path.join(root, s + ".json"))]
        self.root = root
        if not self.items:
            raise DataError(f"no <name>.jpg with a <name>.json beside it in {root!r}")

    def __len__(self) -> int:
        return len(self.items)

    def read_annotations(self, stem: str) -> List[dict]:
        path = os.path.join(self.root, stem + ".json")
        try:
            with open(path) as f:
                anns = json.load(f)["annotations"]
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise DataError(f"annotation file {path!r} is not SA-1B JSON with an 'annotations' list: {e}") from None
        if not anns:
            raise DataError(f"annotation file {path!r} has no masks")
        return anns

    def sample_clip(self, rng: np.random.Generator, num_frames: int, max_stride: int, max_objects: int) -> Clip:
        stem = self.items[int(rng.integers(len(self.items)))]
        anns = self.read_annotations(stem)
        rgb = read_rgb(os.path.join(self.root, stem + ".jpg"))
        ids = choose_objects(rng, list(range(len(anns))), max_objects)
        masks = []
        for k in ids:
            m = decode_rle(anns[k]["segmentation"])
            if m.shape != rgb.shape[:2]:
                raise DataError(f"image {stem!r}: mask {k} is {m.shape} but the image is {rgb.shape[:2]}")
            masks.append(m)
        return Clip(frames_to_tensor([rgb]), torch.from_numpy(np.stack(masks))[None], ids, stem, [0])
