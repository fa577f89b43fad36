"""Data sets that yield training clips: VOS folders, SA-V masklets, SA-1B images."""

from training.datasets.clip import Clip, DataError

__all__ = ["Clip", "DataError"]
