"""Fine-tune (or train) SAM 2.1 on VOS videos and images.

    python -m training.train --config micro data.sources.0.root=PATH [key=value ...]
    torchrun --nproc_per_node 8 -m training.train --config sam2.1_hiera_b+_finetune data.sources.0.root=PATH
    python -m training.train --config micro ... --resume            # continue from latest.pt
    python -m training.train --config micro ... --resume-from run/checkpoints/checkpoint_0000500.pt

One optimiser step = ``data.batch_size`` clips over all processes and accumulation rounds.
Each clip's randomness (frames, augmentation, prompts, dropout) comes from its sample index,
so resuming and changing the process count do not change what is computed.
Outputs under ``train.out_dir``: checkpoints/ (latest.pt, checkpoint_<step>.pt), log.jsonl,
tensorboard/ (when installed).
"""

import argparse
import contextlib
import json
import os
import sys
import time
from typing import Dict, List

import torch
from omegaconf import OmegaConf

from sam2.build_sam import build_sam2
from training import distributed
from training.checkpointing import LATEST, checkpoint_dir, load_for_resume, save_checkpoint
from training.config import load_train_config
from training.datasets.clip import DataError
from training.datasets.dataset import (
    ClipDataset,
    StepSampler,
    build_source,
    clip_to_model_input,
    collate_clips,
)
from training.losses import LossWeights, clip_loss
from training.model import SAM2Train
from training.optim import build_optimizer, lr_factor, set_lr
from training.prompts import PromptConfig
from training.transforms import build_transforms


def build_model(cfg, device: torch.device) -> SAM2Train:
    torch.manual_seed(cfg.train.seed)  # same random init in every process
    sam = build_sam2(cfg.model.config, ckpt_path=cfg.model.init_checkpoint, device=device, mode="train",
                     hydra_overrides_extra=list(cfg.model.overrides), apply_postprocessing=False)
    distributed.broadcast_parameters(sam)
    return SAM2Train(sam, PromptConfig(**cfg.prompts), cfg.model.freeze_image_encoder,
                     cfg.model.checkpoint_image_encoder)


def build_data(cfg, image_size: int, info: distributed.DistInfo, start_step: int):
    sources = [build_source(s) for s in cfg.data.sources]
    dataset = ClipDataset(sources, [s.get("weight", 1.0) for s in cfg.data.sources],
                          build_transforms(cfg.data.augment, image_size), cfg.data.num_frames,
                          cfg.data.max_stride, cfg.data.max_objects, seed=cfg.train.seed)
    sampler = StepSampler(cfg.data.batch_size, info.world_size, info.rank, cfg.optim.accum, start_step, cfg.train.steps)
    return torch.utils.data.DataLoader(dataset, batch_size=sampler.local, sampler=sampler,
                                       num_workers=cfg.data.num_workers, collate_fn=collate_clips,
                                       persistent_workers=cfg.data.num_workers > 0)


class RunLog:
    """log.jsonl, TensorBoard scalars and the progress bar (main process only)."""

    def __init__(self, cfg, enabled: bool, start_step: int):
        self.enabled = enabled
        self.writer = self.bar = self.file = None
        if not enabled:
            return
        os.makedirs(cfg.train.out_dir, exist_ok=True)
        self.file = open(os.path.join(cfg.train.out_dir, "log.jsonl"), "a")
        if cfg.train.tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter

                self.writer = SummaryWriter(os.path.join(cfg.train.out_dir, "tensorboard"))
            except ImportError:
                print("tensorboard is not installed; logging to log.jsonl only", file=sys.stderr)
        try:
            from tqdm import tqdm

            self.bar = tqdm(total=cfg.train.steps, initial=start_step, unit="step", dynamic_ncols=True)
        except ImportError:
            pass
        self.log_every = cfg.train.log_every

    def step(self, step: int, values: Dict[str, float]) -> None:
        if not self.enabled:
            return
        self.file.write(json.dumps({"step": step, **values}) + "\n")
        self.file.flush()
        if self.writer is not None and (step % self.log_every == 0):
            for k, v in values.items():
                self.writer.add_scalar(f"train/{k}", v, step)
        if self.bar is not None:
            self.bar.update(1)
            self.bar.set_postfix(loss=f"{values['loss']:.3f}")

    def close(self) -> None:
        for thing in (self.bar, self.writer, self.file):
            if thing is not None:
                thing.close()


def train(cfg, resume: str = None) -> List[Dict]:
    """Run the configured training; returns the per-step log records of this process."""
    info = distributed.setup(cfg.train.device)
    if cfg.train.get("threads"):
        torch.set_num_threads(int(cfg.train.threads))
    model = build_model(cfg, info.device)
    optimizer = build_optimizer(model.sam, cfg.optim)
    start_step = load_for_resume(resume, model.sam, optimizer) if resume else 0
    loader = build_data(cfg, model.sam.image_size, info, start_step)
    weights = LossWeights(**cfg.loss)
    use_amp = info.device.type == "cuda" if cfg.train.amp == "auto" else bool(cfg.train.amp)
    params = [p for p in model.parameters() if p.requires_grad]
    log = RunLog(cfg, info.is_main, start_step)
    records = []
    batches = iter(loader)
    model.train()
    for step in range(start_step, cfg.train.steps):
        started = time.time()
        set_lr(optimizer, lr_factor(step, cfg.train.steps, cfg.optim.warmup_steps, cfg.optim.min_lr_ratio))
        optimizer.zero_grad(set_to_none=True)
        totals = torch.zeros(5, dtype=torch.float64)
        for _ in range(cfg.optim.accum):
            for item in next(batches):
                x = clip_to_model_input(item["clip"], cfg.data.mean, cfg.data.std, info.device)
                # Dropout and prompts follow the sample's seed, whichever process runs it.
                torch.manual_seed(item["seed"])
                gen = torch.Generator().manual_seed(item["seed"])
                autocast = torch.autocast("cuda", dtype=torch.bfloat16) if use_amp else contextlib.nullcontext()
                with autocast:
                    outputs = model(x["images"], x["masks"], gen)
                    terms = clip_loss(outputs, x["masks"], weights)
                # A clip whose frames are all mask-prompted has outputs = prompts: nothing to learn.
                if terms["total"].requires_grad:
                    (terms["total"] / cfg.data.batch_size).backward()
                totals += torch.tensor([float(terms[k].detach()) for k in ("total", "mask", "dice", "iou", "object_score")],
                                       dtype=torch.float64)
        distributed.all_reduce_gradients(params)
        grad_norm = torch.nn.utils.clip_grad_norm_(params, cfg.optim.grad_clip or float("inf"))
        optimizer.step()
        totals = distributed.all_reduce_sum(totals) / cfg.data.batch_size
        record = {"loss": totals[0].item(), "mask": totals[1].item(), "dice": totals[2].item(),
                  "iou": totals[3].item(), "object_score": totals[4].item(), "grad_norm": float(grad_norm),
                  "lr": optimizer.param_groups[0]["lr"], "seconds": time.time() - started}
        records.append({"step": step + 1, **record})
        log.step(step + 1, record)
        done = step + 1
        if info.is_main and (done % cfg.train.save_every == 0 or done == cfg.train.steps):
            save_checkpoint(cfg.train.out_dir, done, model.sam, optimizer,
                            keep_all=cfg.train.keep_checkpoints == "all")
    log.close()
    distributed.cleanup()
    return records


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", required=True, help="name in training/configs (e.g. micro) or a YAML path")
    parser.add_argument("--resume", action="store_true", help="continue from <out_dir>/checkpoints/latest.pt")
    parser.add_argument("--resume-from", metavar="CHECKPOINT", help="continue from this checkpoint file")
    parser.add_argument("overrides", nargs="*", help="key=value config overrides")
    args = parser.parse_intermixed_args(argv)  # options may sit between overrides
    try:
        cfg = load_train_config(args.config, args.overrides)
    except (ValueError, FileNotFoundError) as e:
        parser.exit(2, f"error: {e}\n")
    resume = args.resume_from
    if args.resume and resume is None:
        resume = os.path.join(checkpoint_dir(cfg.train.out_dir), LATEST)
    if int(os.environ.get("RANK", "0")) == 0:
        os.makedirs(cfg.train.out_dir, exist_ok=True)
        OmegaConf.save(cfg, os.path.join(cfg.train.out_dir, "config.yaml"))
    try:
        records = train(cfg, resume)
    except DataError as e:  # a data set problem: say which file and why, not a traceback
        parser.exit(2, f"error: {e}\n")
    if records and int(os.environ.get("RANK", "0")) == 0:
        print(f"done: {len(records)} steps, last loss {records[-1]['loss']:.4f}, "
              f"checkpoint {os.path.join(checkpoint_dir(cfg.train.out_dir), LATEST)}")


if __name__ == "__main__":
    main()
