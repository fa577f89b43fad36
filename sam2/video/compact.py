"""Compact storage of tracked-frame outputs for very long videos (``bounded_memory=True``).

Outside the window of frames that tracking can still attend to, a tracked frame keeps
only what is cheap: its object pointer and its mask as bits (8 pixels a byte, 8 KB at
256x256 instead of 256 KB of float32 logits, plus no 0.5 MB bfloat16 memory).
"""

import numpy as np
import torch

# A packed mask reads back as logits of +10 (inside) / -10 (outside), the same scale
# the model uses when a mask prompt is taken as an output.
PACKED_LOGIT = 10.0


class PackedMask:
    """A binary mask (N, 1, H, W) from logits > 0, packed into bits."""

    def __init__(self, logits: torch.Tensor):
        self.shape = tuple(logits.shape)
        self.bits = np.packbits((logits > 0).cpu().numpy().ravel())

    def logits(self, device) -> torch.Tensor:
        n = int(np.prod(self.shape))
        on = np.unpackbits(self.bits)[:n].reshape(self.shape).astype(bool)
        out = torch.full(self.shape, -PACKED_LOGIT, dtype=torch.float32)
        out[torch.from_numpy(on)] = PACKED_LOGIT
        return out.to(device)

    @property
    def nbytes(self) -> int:
        return self.bits.nbytes


def compact_tracked_output(out) -> None:
    """Drop the spatial memory of a tracked frame (a TrackedOutput) and pack its mask, in place."""
    out.memory = None
    out.memory_pos = None
    if isinstance(out.mask_logits, torch.Tensor):
        out.mask_logits = PackedMask(out.mask_logits)


def stored_mask_logits(out, device) -> torch.Tensor:
    """The low-res mask logits of a stored output, whether packed or not."""
    masks = out.mask_logits
    if isinstance(masks, PackedMask):
        return masks.logits(device)
    return masks.to(device, non_blocking=True)
