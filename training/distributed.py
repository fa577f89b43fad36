"""torch.distributed set-up for runs started by torchrun (or a plain single process).

Gradients are averaged by one all-reduce per optimiser step over a flat buffer: the
same result as DistributedDataParallel, robust to parameters that a clip leaves unused
(mask-prompted frames skip the decoder), and accumulation needs no special casing.
"""

import os
from dataclasses import dataclass
from typing import Iterable

import torch
import torch.distributed as dist


@dataclass
class DistInfo:
    rank: int
    world_size: int
    local_rank: int
    device: torch.device

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def setup(device_setting: str = "auto") -> DistInfo:
    """Join the process group torchrun describes (env RANK/WORLD_SIZE/...), NCCL on CUDA, else gloo."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if device_setting == "auto":
        device = torch.device(f"cuda:{local_rank}") if torch.cuda.is_available() else torch.device("cpu")
    else:
        device = torch.device(device_setting)
        if device.type == "cuda" and device.index is None:
            device = torch.device(f"cuda:{local_rank}")
    if device.type == "cuda":
        torch.cuda.set_device(device)
    if world > 1 and not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
    return DistInfo(rank, world, local_rank, device)


def world_size() -> int:
    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


def broadcast_parameters(module: torch.nn.Module) -> None:
    """Give every process rank 0's weights."""
    if world_size() > 1:
        for t in list(module.parameters()) + list(module.buffers()):
            dist.broadcast(t.data, src=0)


def all_reduce_gradients(params: Iterable[torch.nn.Parameter]) -> None:
    """Sum gradients over processes (a missing gradient counts as zeros).

    A parameter no process used keeps ``grad = None``, as in a single process, so the
    optimiser skips it (a zero gradient would still move it through weight decay and
    Adam's momentum).
    """
    if world_size() == 1:
        return
    params = [p for p in params if p.requires_grad]
    used = torch.tensor([p.grad is not None for p in params], dtype=torch.float32, device=params[0].device)
    flat = torch.cat([(p.grad if p.grad is not None else torch.zeros_like(p)).reshape(-1) for p in params])
    dist.all_reduce(used)
    dist.all_reduce(flat)
    offset = 0
    for p, u in zip(params, used.tolist()):
        n = p.numel()
        p.grad = flat[offset:offset + n].view_as(p).clone() if u > 0 else None
        offset += n


def all_reduce_sum(t: torch.Tensor) -> torch.Tensor:
    if world_size() > 1:
        dist.all_reduce(t)
    return t


def cleanup() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()
