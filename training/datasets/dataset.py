"""Mix the data sources into one stream of augmented clips, indexed by step.

Item ``k`` is a pure function of (seed, k): which source, video, frames, objects and
augmentations, and the ``seed`` the model uses for its prompts and dropout. A run
resumed at step s therefore sees exactly the clips the uninterrupted run saw, and a
sample gives the same clip whichever process loads it.
"""

from typing import Dict, Iterator, List, Sequence

import numpy as np
import torch
from torch.utils.data import Dataset, Sampler

from training.datasets.clip import Clip, DataError
from training.datasets.sa1b import SA1BFolder
from training.datasets.sav import SAVFolder
from training.datasets.vos_folder import VOSFolder

SOURCE_TYPES = {"vos": VOSFolder, "sav": SAVFolder, "sa1b": SA1BFolder}


def build_source(cfg):
    kind = cfg.get("type", "vos")
    if kind not in SOURCE_TYPES:
        raise ValueError(f"data source type {kind!r} unknown; use one of {sorted(SOURCE_TYPES)}")
    args = {k: v for k, v in dict(cfg).items() if k not in ("type", "weight")}
    if args.get("root") in (None, "", "???"):
        raise ValueError(f"data source of type {kind!r} needs a root folder (data.sources.N.root=...)")
    return SOURCE_TYPES[kind](**args)


class ClipDataset(Dataset):
    """Augmented clips from weighted sources. ``dataset[k]`` -> {"clip": Clip, "seed": int}."""

    def __init__(self, sources: Sequence, weights: Sequence[float], transform, num_frames: int,
                 max_stride: int, max_objects: int, seed: int = 0, length: int = 2**62):
        if len(sources) != len(weights) or not sources:
            raise ValueError("give one weight per data source (and at least one source)")
        w = np.asarray(weights, dtype=float)
        if (w < 0).any() or w.sum() <= 0:
            raise ValueError(f"source weights must be >= 0 and not all 0, got {list(weights)}")
        self.sources, self.probs = list(sources), w / w.sum()
        self.transform, self.num_frames = transform, num_frames
        self.max_stride, self.max_objects, self.seed, self.length = max_stride, max_objects, seed, length

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> Dict:
        rng = np.random.default_rng([self.seed, int(index)])
        source = self.sources[int(rng.choice(len(self.sources), p=self.probs))]
        for _ in range(5):
            clip = source.sample_clip(rng, self.num_frames, self.max_stride, self.max_objects)
            clip = self.transform(clip, rng)
            # Augmentation can push an object out of the first frame; it can then not be prompted.
            visible = [k for k in range(clip.num_objects) if bool(clip.masks[0, k].any())]
            if visible:
                return {"clip": clip.select_objects(visible), "seed": int(rng.integers(2**31 - 1))}
        raise DataError(f"sample {index}: no object stayed visible on the first frame in 5 augmented draws")


def collate_clips(items: List[Dict]) -> List[Dict]:
    """Clips differ in frame and object counts; a batch stays a list."""
    return items


class StepSampler(Sampler):
    """Sample indices for each (step, accumulation round, rank), starting at ``start_step``.

    Step s uses the ``global_batch`` indices s*global_batch ... ; each of the
    ``world_size * accum`` micro-batches takes a contiguous share of them.
    """

    def __init__(self, global_batch: int, world_size: int, rank: int, accum: int, start_step: int, end_step: int):
        if global_batch % (world_size * accum):
            raise ValueError(
                f"data.batch_size={global_batch} must be a multiple of processes ({world_size}) x "
                f"gradient accumulation ({accum})"
            )
        self.global_batch, self.world_size, self.rank, self.accum = global_batch, world_size, rank, accum
        self.local = global_batch // (world_size * accum)
        self.start_step, self.end_step = start_step, end_step

    def __iter__(self) -> Iterator[int]:
        for step in range(self.start_step, self.end_step):
            for round_ in range(self.accum):
                first = step * self.global_batch + (round_ * self.world_size + self.rank) * self.local
                yield from range(first, first + self.local)

    def __len__(self) -> int:
        return (self.end_step - self.start_step) * self.accum * self.local


def clip_to_model_input(clip: Clip, mean: Sequence[float], std: Sequence[float], device) -> Dict[str, torch.Tensor]:
    """Normalised frames (T, 3, S, S) and float masks (T, K, S, S) on ``device``."""
    m = torch.tensor(mean).view(1, 3, 1, 1)
    s = torch.tensor(std).view(1, 3, 1, 1)
    return {"images": ((clip.frames - m) / s).to(device), "masks": clip.masks.to(device)}
