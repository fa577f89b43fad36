"""Storage of tracked-frame outputs that left the window tracking attends to.

* On an accelerator, :func:`offload_tracked_output` moves the memory and the mask logits of
  such a frame to (pinned) host memory, exactly, without waiting for the device: device
  memory stays flat however long the video. The object pointer stays (it is read for up
  to ``max_obj_ptrs_in_encoder`` frames and is 1 KB).
* With ``bounded_memory=True`` (very long videos), :func:`compact_tracked_output` keeps
  only what is cheap: the object pointer and the mask as bits (8 pixels a byte, 8 KB at
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
        if logits.device.type == "cpu" and logits.is_pinned() and torch.cuda.is_available():
            # Stored with a non-blocking copy from the device (offload_state_to_cpu): its bytes
            # may still be on the way, and they are read on the host here.
            torch.cuda.current_stream().synchronize()
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


def _to_pinned_host(t: torch.Tensor) -> torch.Tensor:
    host = torch.empty(t.shape, dtype=t.dtype, device="cpu", pin_memory=torch.cuda.is_available())
    # Ordered on the device's stream: later reads copy it back on the same stream.
    return host.copy_(t, non_blocking=True)


def offload_tracked_output(out) -> None:
    """Move a TrackedOutput's memory and mask logits to host memory (in place, exact)."""
    if out.memory is not None and out.memory.device.type != "cpu":
        out.memory = _to_pinned_host(out.memory)
    if isinstance(out.mask_logits, torch.Tensor) and out.mask_logits.device.type != "cpu":
        out.mask_logits = _to_pinned_host(out.mask_logits)


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
