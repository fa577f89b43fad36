"""Save and resume training.

A checkpoint is ``{"model": sam_state_dict, "optimizer": ..., "train_state": {...}}``: the
``"model"`` entry is the official format, so ``build_sam2(config, ckpt_path)`` and the
demo load the file as they load an official checkpoint. Everything in it is plain tensors,
numbers and strings, so it loads with ``torch.load(weights_only=True)``.
"""

import os
from typing import Dict, Optional

import torch

LATEST = "latest.pt"


def checkpoint_dir(out_dir: str) -> str:
    return os.path.join(out_dir, "checkpoints")


def save_checkpoint(out_dir: str, step: int, model: torch.nn.Module, optimizer: torch.optim.Optimizer,
                    extra: Optional[Dict] = None, keep_all: bool = True) -> str:
    """Write the state after ``step`` optimiser steps; returns the path of latest.pt."""
    folder = checkpoint_dir(out_dir)
    os.makedirs(folder, exist_ok=True)
    content = {
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "train_state": {"step": int(step), "torch_rng": torch.get_rng_state(), **(extra or {})},
    }
    latest = os.path.join(folder, LATEST)
    tmp = latest + ".tmp"
    torch.save(content, tmp)  # write then rename: a crash never leaves half a file as latest.pt
    os.replace(tmp, latest)
    if keep_all:
        torch.save(content, os.path.join(folder, f"checkpoint_{step:07d}.pt"))
    return latest


def load_for_resume(path: str, model: torch.nn.Module, optimizer: torch.optim.Optimizer) -> int:
    """Restore model, optimiser and RNG from ``path``; returns the number of steps done."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f"cannot resume: checkpoint {path!r} does not exist")
    content = torch.load(path, map_location="cpu", weights_only=True)
    if "optimizer" not in content or "train_state" not in content:
        raise ValueError(
            f"{path!r} holds model weights only (no optimiser or step); to start from it use "
            "model.init_checkpoint=... instead of --resume"
        )
    model.load_state_dict(content["model"], strict=True)
    optimizer.load_state_dict(content["optimizer"])
    torch.set_rng_state(content["train_state"]["torch_rng"])
    return int(content["train_state"]["step"])
