"""A worker: one model on one device, tracking the videos it is handed one after another.

The same class runs in the job's own process (embedded, one device), in a process per device
(embedded, several GPUs) and inside a Ray actor; it never raises for a bad video, it returns
an :class:`Outcome` that says what went wrong and whether trying again could help.
"""

from __future__ import annotations

import os
import traceback
from dataclasses import asdict, dataclass, field

import torch

from sam2.batch.clip import ClipResult, PromptError, track_clip
from sam2.batch.manifest import VideoJob


@dataclass(frozen=True)
class ModelSpec:
    """What every worker builds: the library's model and runtime options, passed through."""

    config: str = "configs/sam2.1/sam2.1_hiera_t.yaml"
    checkpoint: str | None = None
    device: str = "auto"  # "auto", "cpu", "cuda", "cuda:1", ...
    precision: str = "fp32"  # fp32 | bf16 | int8 | auto (sam2/precision.py)
    vos_optimized: bool = False
    offload_video_to_cpu: bool = False
    offload_state_to_cpu: bool = False
    bounded_memory: bool = False
    threads: int | None = None  # torch intra-op threads (None: torch's default)

    def on_device(self, device: str) -> ModelSpec:
        return ModelSpec(**{**asdict(self), "device": device})

    @property
    def runtime(self) -> dict:
        """init_state's options."""
        return {"offload_video_to_cpu": self.offload_video_to_cpu,
                "offload_state_to_cpu": self.offload_state_to_cpu, "bounded_memory": self.bounded_memory}  # fmt: skip


@dataclass
class Outcome:
    """A video's result, or its error (first line of the exception and its type)."""

    job: VideoJob
    result: ClipResult | None = None
    error: str | None = None
    retryable: bool = True
    worker: dict = field(default_factory=dict)  # pid and device of the worker that ran it


class ClipWorker:
    def __init__(self, spec: ModelSpec):
        from sam2.build_sam import build_sam2_video_predictor, resolve_device

        if spec.threads:
            torch.set_num_threads(spec.threads)
        self.spec = spec
        self.device = str(resolve_device(spec.device))
        if spec.checkpoint is None:
            torch.manual_seed(0)  # random weights, but the same in every worker
        self.predictor = build_sam2_video_predictor(spec.config, ckpt_path=spec.checkpoint, device=self.device,
                                                    vos_optimized=spec.vos_optimized, precision=spec.precision)  # fmt: skip

    def describe(self) -> dict:
        return {"pid": os.getpid(), "device": self.device}

    def run(self, job: VideoJob) -> Outcome:
        try:
            result = track_clip(self.predictor, job, self.spec.runtime)
            return Outcome(job, result, worker=self.describe())
        except PromptError as e:
            return Outcome(job, error=f"PromptError: {e}", retryable=False, worker=self.describe())
        except Exception as e:  # any video may be broken: record it, keep the worker
            where = traceback.extract_tb(e.__traceback__)[-1]
            message = str(e).strip().splitlines()[0] if str(e).strip() else ""
            return Outcome(job, error=f"{type(e).__name__}: {message} ({os.path.basename(where.filename)}:"
                                      f"{where.lineno})", worker=self.describe())  # fmt: skip
        finally:
            if self.device.startswith("cuda"):
                torch.cuda.empty_cache()  # one video's peak should not stay reserved for the next
