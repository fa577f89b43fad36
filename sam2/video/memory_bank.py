"""The memory bank: which earlier frames a frame attends to, and their memories as tensors.

SAM 2 conditions a frame on (a) the spatial memories of prompted frames and of the last
``num_maskmem - 1`` tracked frames, and (b) object pointers of prompted frames and of the
last ``max_obj_ptrs_in_encoder - 1`` frames. :class:`MemoryPolicy` makes that choice (no
tensor work, in :mod:`sam2.video.memory_policy`, shared with the onnxruntime tracker);
:func:`build_memory_context` turns the choices of several objects into one
batched :class:`~sam2.modeling.frame_types.MemoryContext`.

Batching objects: the tensors of two objects can share a batch when their selections have
the same *layout* — the same memory slots (temporal positions) and pointer distances, in
the same order — even if they come from different frames. Objects prompted on the same
frames always share one; objects with other prompts form their own groups
(:func:`group_by_layout`). No padding or attention masks are needed, so a batched result is
the per-object result.
"""

from dataclasses import dataclass
from typing import Iterable, Optional, Sequence

import torch

from sam2.modeling.frame_types import MemoryContext
from sam2.video.memory_policy import (  # noqa: F401  (re-exported: their historical home)
    FrameMemory,
    MemoryPolicy,
    MemorySelection,
    group_by_layout,
)


@dataclass
class MemoryEntry:
    """A plain :class:`FrameMemory` (training, and the official ``track_step`` dicts)."""

    obj_ptr: torch.Tensor
    memory: Optional[torch.Tensor] = None
    memory_pos: Optional[torch.Tensor] = None


def _stack(tensors: Iterable[torch.Tensor]) -> torch.Tensor:
    tensors = list(tensors)
    return tensors[0] if len(tensors) == 1 else torch.cat(tensors, dim=0)


def build_memory_context(model, selections: Sequence[MemorySelection], num_frames: int,
                         device: torch.device) -> MemoryContext:
    """One batched context for selections of equal layout (batch order = selection order)."""
    first = selections[0]
    if any(sel.layout != first.layout for sel in selections[1:]):
        raise ValueError("only selections with the same layout can share a batch")
    spatial = []
    for k, (slot, _) in enumerate(first.spatial):
        entries = [sel.spatial[k][1] for sel in selections]
        shared = entries[0].memory_pos
        if len(entries) == 1:
            pos = shared
        elif shared.size(0) == 1 and all(e.memory_pos is shared for e in entries):
            # The position encoding is shared by every frame and object: no copies.
            pos = shared.expand(len(entries), -1, -1, -1)
        else:
            pos = _stack(e.memory_pos for e in entries)
        pos = pos.to(device, non_blocking=True)
        # Stored memories may be bfloat16; attention reads them in the compute dtype.
        mem = _stack(e.memory for e in entries).to(device, dtype=pos.dtype, non_blocking=True)
        spatial.append((slot, mem, pos))
    pointers = []
    for k, (dist, _) in enumerate(first.pointers):
        ptr = _stack(sel.pointers[k][1].obj_ptr for sel in selections).to(device, non_blocking=True)
        pointers.append((dist, ptr))
    return model.memory_context(spatial, pointers, num_frames)
