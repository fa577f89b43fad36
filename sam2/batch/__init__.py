"""Batch tracking: many videos from a JSON Lines manifest, on this machine or on a Ray cluster.

``python -m sam2.batch MANIFEST --out OUT`` (docs/batch.md). The pieces, each with one job:
manifest.py (lines -> typed jobs), clip.py (one video tracked), worker.py (a model on a device),
pools.py / ray_pool.py (where workers run), outputs.py (atomic files, report), job.py (the loop).
"""

try:
    import torch  # noqa: F401  (the workers' models)
    import tqdm  # noqa: F401  (the progress bar)
except ImportError:
    from sam2._torch_check import torch_missing

    raise torch_missing("sam2.batch (sam2-batch)") from None

from sam2.batch.job import JobOptions, run_job
from sam2.batch.manifest import ManifestError, VideoJob, parse_line, read_manifest
from sam2.batch.worker import ModelSpec

__all__ = ["JobOptions", "ManifestError", "ModelSpec", "VideoJob", "parse_line", "read_manifest", "run_job"]
