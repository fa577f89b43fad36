"""Normalisation of uint8 frames into model inputs, on whatever device the model runs.

The reference normalises on the host: ``pixels / 255`` in float64, cast to float32, then
``(x - mean) / std`` in float32. A uint8 channel has only 256 values, so that arithmetic is
done once per channel into a (3, 256) table and a frame is normalised by a gather on the
device: results are bit-identical to the host arithmetic whatever the device (float64 is
slow or missing on some accelerators), and only uint8 frames cross the bus.
"""

from typing import Dict

import torch

IMG_MEAN = (0.485, 0.456, 0.406)
IMG_STD = (0.229, 0.224, 0.225)


def normalization_table() -> torch.Tensor:
    """(3, 256) float32: entry [c, v] is channel c's model input for pixel value v."""
    levels = torch.arange(256, dtype=torch.float64) / 255.0
    mean = torch.tensor(IMG_MEAN, dtype=torch.float32)[:, None]
    std = torch.tensor(IMG_STD, dtype=torch.float32)[:, None]
    return (levels.to(torch.float32)[None, :] - mean) / std


class FrameNormalizer:
    """uint8 (S, S, 3) frames -> normalised (1, 3, S, S) float32, with one table per device."""

    def __init__(self):
        self._table = normalization_table()
        self._on_device: Dict[torch.device, torch.Tensor] = {}

    def _device_table(self, device: torch.device) -> torch.Tensor:
        table = self._on_device.get(device)
        if table is None:
            table = self._on_device[device] = self._table.to(device)
        return table

    def __call__(self, frame: torch.Tensor) -> torch.Tensor:
        """frame: (S, S, 3) uint8 on any device; the result is on the same device."""
        table = self._device_table(frame.device)
        # Flat index into the table: channel c's values live at c * 256 + v.
        offsets = torch.arange(0, 3 * 256, 256, device=frame.device).view(3, 1, 1)
        index = frame.permute(2, 0, 1).long() + offsets
        return torch.take(table, index).unsqueeze(0)
