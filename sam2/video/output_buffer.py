"""Reusable output tensors for the masks the video predictor yields frame after frame.

Masks at video resolution are large (16 objects of 1280x720 are 59 MB of float32). On the
CPU a fresh tensor that size comes from the system as new pages each frame, and touching
them costs more than the bilinear upsampling that fills them (about 13 of 21 ms on a 2-core
machine). The predictor therefore writes a frame into a tensor it handed out before, but
only once nobody else holds it: the caller's tensor, its views and arrays made from it all
keep the storage referenced, so a tensor that is still in use is never overwritten.
"""

from typing import List, Tuple

import torch


def _storage_users(tensor: torch.Tensor) -> int:
    """How many holders reference the tensor's storage (tensors, views, storage objects)."""
    return torch._C._storage_Use_Count(tensor.untyped_storage()._cdata)


_CAN_COUNT = hasattr(torch._C, "_storage_Use_Count")


class ReusableOutput:
    """Hands out output tensors, reusing one whose previous user has let go of it.

    Two are kept: a loop ``for idx, ids, masks in propagate_in_video(...)`` still holds the
    last frame's masks while the next frame is computed, so the one before is the free one.
    Only on the CPU: accelerator allocators already recycle device memory.
    """

    POOL_SIZE = 2

    def __init__(self) -> None:
        # Our private views of the tensors handed out, each with its storage's user count
        # when only that view holds it.
        self._pool: List[Tuple[torch.Tensor, int]] = []

    def empty(self, shape: Tuple[int, ...], dtype: torch.dtype, device: torch.device) -> torch.Tensor:
        """An uninitialised tensor of ``shape`` that no one else holds."""
        shape = tuple(shape)
        self._pool = [(own, alone) for own, alone in self._pool
                      if tuple(own.shape) == shape and own.dtype == dtype and own.device == torch.device(device)]
        for own, alone in self._pool:
            if _storage_users(own) == alone:
                return own.view(shape)  # a separate tensor object over the same storage
        out = torch.empty(shape, dtype=dtype, device=device)
        if not _CAN_COUNT or out.device.type != "cpu":
            return out
        own = out.view(shape)
        del out
        self._pool = self._pool[-(self.POOL_SIZE - 1):] + [(own, _storage_users(own))]
        return own.view(shape)

    def release(self) -> None:
        """Forget the tensors (their memory goes back once their users let go)."""
        self._pool = []
