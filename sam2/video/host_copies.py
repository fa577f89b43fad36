"""Copies of device tensors kept in host memory, for caches that should not hold device memory.

The feature caches of a video (image features per frame, memory-conditioned features per
object and frame) would otherwise grow device memory by megabytes a frame. On CUDA a copy
goes to pinned host memory on a side stream, so the compute stream never waits for it; the
device tensor is kept alive for that stream (``record_stream``) until the copy is done, and
bringing a copy back queues the host-to-device copy on the compute stream after it. Exact:
the bytes are moved, not converted.
"""

from typing import Optional

import torch


class HostCopy:
    """One tensor's copy in host memory; ``to_device`` gives it back on the compute device."""

    __slots__ = ("host", "device", "ready")

    def __init__(self, host: torch.Tensor, device: torch.device, ready: Optional["torch.cuda.Event"]):
        self.host = host
        self.device = device
        self.ready = ready

    @property
    def nbytes(self) -> int:
        return self.host.numel() * self.host.element_size()

    def to_device(self) -> torch.Tensor:
        if self.ready is not None:
            torch.cuda.current_stream(self.device).wait_event(self.ready)
        return self.host.to(self.device, non_blocking=True)


class HostStore:
    """Makes :class:`HostCopy` objects of tensors computed on ``device``.

    On a CPU device the "copy" is a clone (the caches' tests run the same bookkeeping there).
    """

    def __init__(self, device: torch.device):
        self.device = torch.device(device)
        self._stream = torch.cuda.Stream(self.device) if self.device.type == "cuda" else None

    def keep(self, t: torch.Tensor) -> HostCopy:
        if self._stream is None:
            return HostCopy(t.detach().to("cpu", copy=True), self.device, None)
        self._stream.wait_stream(torch.cuda.current_stream(self.device))  # t is computed
        with torch.cuda.stream(self._stream):
            host = torch.empty(t.shape, dtype=t.dtype, device="cpu", pin_memory=True)
            host.copy_(t, non_blocking=True)
            t.record_stream(self._stream)  # its memory is not reused before the copy is done
            ready = torch.cuda.Event()
            ready.record(self._stream)
        return HostCopy(host, self.device, ready)
