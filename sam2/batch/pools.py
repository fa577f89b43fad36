"""Worker pools on one machine: where the job's videos run when there is no Ray cluster.

A pool has ``slots`` workers; the job (sam2/batch/job.py) hands it a video only when a slot is
free and waits for outcomes one at a time, so at most ``slots`` videos are ever in flight. The
Ray pool (sam2/batch/ray_pool.py) has the same three methods.
"""

from __future__ import annotations

import multiprocessing
import os
from collections import deque
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import asdict
from typing import Protocol

import torch

from sam2.batch.manifest import VideoJob
from sam2.batch.worker import ClipWorker, ModelSpec, Outcome


class WorkerPool(Protocol):
    slots: int

    def submit(self, job: VideoJob) -> None: ...  # called only while fewer than `slots` are in flight

    def next_outcome(self) -> Outcome: ...  # blocks until one submitted video is settled

    def close(self) -> None: ...


def local_devices(device: str = "auto") -> list[str]:
    """One entry per device a worker should own: every CUDA device for "auto"/"cuda" on a
    machine with GPUs, else the one device named (or the CPU)."""
    if device in ("auto", "cuda") and torch.cuda.is_available():
        return [f"cuda:{i}" for i in range(torch.cuda.device_count())]
    return [device]


def embedded_pool(spec: ModelSpec, cpu_workers: int = 1) -> WorkerPool:
    """One worker per device: in this process when there is one device, else a process each.

    On the CPU, ``cpu_workers`` > 1 runs that many processes with the cores shared out: videos
    in parallel scale better than one video on many threads (no barrier between threads; on a
    busy machine torch's threads wait for each other, see docs/batch.md).
    """
    devices = local_devices(spec.device)
    if len(devices) == 1 and cpu_workers > 1 and not devices[0].startswith("cuda"):
        threads = spec.threads or max(1, (os.cpu_count() or 1) // cpu_workers)
        return ProcessPerDevicePool([ModelSpec(**{**asdict(spec), "threads": threads})] * cpu_workers)
    if len(devices) == 1:
        return InProcessPool(spec.on_device(devices[0]))
    return ProcessPerDevicePool([spec.on_device(d) for d in devices])


class InProcessPool:
    """The model lives in the job's process; a video runs when its outcome is asked for."""

    slots = 1

    def __init__(self, spec: ModelSpec):
        self.worker = ClipWorker(spec)
        self._queue: deque[VideoJob] = deque()

    def submit(self, job: VideoJob) -> None:
        self._queue.append(job)

    def next_outcome(self) -> Outcome:
        return self.worker.run(self._queue.popleft())

    def close(self) -> None:
        self._queue.clear()


_process_worker: ClipWorker | None = None  # the model of a pool process (built once, by _start)


def _start(spec: ModelSpec) -> None:
    global _process_worker
    _process_worker = ClipWorker(spec)


def _run(job: VideoJob) -> Outcome:
    assert _process_worker is not None, "pool process started without its model"
    return _process_worker.run(job)


class ProcessPerDevicePool:
    """A process per device (spawned: CUDA cannot be forked), each building its model once."""

    def __init__(self, specs: list[ModelSpec]):
        self.specs = specs
        self.slots = len(specs)
        self._context = multiprocessing.get_context("spawn")
        self._executors = [self._executor(s) for s in specs]
        self._running: dict[Future, tuple[int, VideoJob]] = {}

    def _executor(self, spec: ModelSpec) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(1, mp_context=self._context, initializer=_start, initargs=(spec,))

    def submit(self, job: VideoJob) -> None:
        busy = {slot for slot, _ in self._running.values()}
        slot = next(i for i in range(self.slots) if i not in busy)
        try:
            future = self._executors[slot].submit(_run, job)
        except BrokenProcessPool:  # its process died while idle
            self._replace(slot)
            future = self._executors[slot].submit(_run, job)
        self._running[future] = (slot, job)

    def _replace(self, slot: int) -> None:
        self._executors[slot].shutdown(wait=False, cancel_futures=True)
        self._executors[slot] = self._executor(self.specs[slot])

    def next_outcome(self) -> Outcome:
        done, _ = wait(list(self._running), return_when=FIRST_COMPLETED)
        future = done.pop()
        slot, job = self._running.pop(future)
        try:
            return future.result()
        except BrokenProcessPool:  # the process died (killed, out of memory): a fresh one takes the slot
            self._replace(slot)
            return Outcome(
                job, error=f"worker process for {self.specs[slot].device} died while tracking this video"
            )

    def close(self) -> None:
        for executor in self._executors:
            executor.shutdown(wait=False, cancel_futures=True)
