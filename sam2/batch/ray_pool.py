"""Workers as Ray actors: one model per GPU (or per few CPUs) anywhere on a Ray cluster.

Each actor builds its model once and tracks the videos it is handed; the job gives a video to
whichever actor is free, so long and short clips mix without a plan made in advance. Results
come back to the job's process, which alone writes the outputs: workers need to read the
videos (a shared path or a URL), never to write anywhere.

An actor that dies (its node lost, its process killed, out of memory) is restarted by Ray
(``max_restarts=-1``); the video it was tracking comes back as a failed attempt, and the job
tries it again (once) on whichever actor is free next. The restarted actor is given work again
only once it answers, so no video is sent to an actor that is still coming back.
"""

from __future__ import annotations

import math
import time
from collections import deque

from sam2.batch.manifest import VideoJob
from sam2.batch.worker import ClipWorker, ModelSpec, Outcome

GIVE_UP_AFTER_S = 600  # an actor that does not come back within this long is left out


class _Actor:
    """The Ray actor's class (wrapped by ``ray.remote`` when the pool starts)."""

    def __init__(self, spec: ModelSpec):
        self.worker = ClipWorker(spec)

    def run(self, job: VideoJob) -> Outcome:
        return self.worker.run(job)

    def describe(self) -> dict:
        return self.worker.describe()


class RayPool:
    """``workers`` actors (default: one per GPU of the cluster, else one per ``cpus_per_worker``
    CPUs), each holding ``gpus_per_worker`` GPUs (default 1 when the cluster has GPUs)."""

    def __init__(self, spec: ModelSpec, address: str | None = None, workers: int | None = None,
                 cpus_per_worker: float = 1, gpus_per_worker: float | None = None):  # fmt: skip
        import ray

        if not ray.is_initialized():
            ray.init(address=address, log_to_driver=False)
        resources = ray.cluster_resources()
        gpus = resources.get("GPU", 0)
        if gpus_per_worker is None:
            gpus_per_worker = 1 if gpus else 0
        if workers is None:
            workers = (
                int(gpus // gpus_per_worker)
                if gpus_per_worker
                else int(resources.get("CPU", 1) // cpus_per_worker)
            )
        self.slots = max(1, workers)
        spec = spec.on_device("cuda" if gpus_per_worker else "cpu")
        if spec.threads is None:
            spec = ModelSpec(**{**vars(spec), "threads": max(1, math.floor(cpus_per_worker))})
        actor = ray.remote(_Actor).options(
            num_cpus=cpus_per_worker, num_gpus=gpus_per_worker, max_restarts=-1, max_task_retries=0
        )
        self.actors = [actor.remote(spec) for _ in range(self.slots)]
        try:  # one model built: a checkpoint that does not load fails the job now, not video by video
            ray.get(self.actors[0].describe.remote())
        except ray.exceptions.RayActorError as e:
            for a in self.actors:
                ray.kill(a)
            raise RuntimeError(f"the Ray workers could not build the model: {e}") from None
        self._ray = ray
        self._idle: deque = deque(self.actors)
        self._queue: deque[VideoJob] = deque()  # videos waiting for an idle actor
        self._running: dict = {}  # ObjectRef of run() -> (actor, job)
        self._probes: dict = {}  # ObjectRef of describe() -> (actor, unreachable since): restarting actors

    def submit(self, job: VideoJob) -> None:
        self._queue.append(job)
        self._dispatch()

    def _dispatch(self) -> None:
        while self._queue and self._idle:
            actor, job = self._idle.popleft(), self._queue.popleft()
            self._running[actor.run.remote(job)] = (actor, job)

    def next_outcome(self) -> Outcome:
        while True:
            if not self._running and not self._probes:
                raise RuntimeError(
                    "every Ray worker is gone: the cluster lost them for good (see the Ray logs)"
                )
            ready, _ = self._ray.wait([*self._running, *self._probes], num_returns=1)
            if ready[0] in self._probes:
                self._settle_probe(ready[0])
                continue
            actor, job = self._running.pop(ready[0])
            try:
                outcome = self._ray.get(ready[0])
            except self._ray.exceptions.RayActorError as e:
                # Ray restarts the actor; it gets work again once it answers (a task sent to a
                # restarting actor fails at once, which would burn the next video's attempt).
                self._probe(actor, time.monotonic())
                first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
                return Outcome(job, error=f"Ray worker died while tracking this video: {first}")
            self._idle.append(actor)
            self._dispatch()
            return outcome

    def _probe(self, actor, since: float) -> None:
        self._probes[actor.describe.remote()] = (actor, since)

    def _settle_probe(self, ref) -> None:
        actor, since = self._probes.pop(ref)
        try:
            self._ray.get(ref)
        except self._ray.exceptions.RayActorError:
            if time.monotonic() - since > GIVE_UP_AFTER_S:
                return  # gone for good: its slot stays empty, the others carry on
            time.sleep(0.2)  # still restarting (loading its model): ask again shortly
            self._probe(actor, since)
            return
        self._idle.append(actor)
        self._dispatch()

    def in_flight(self) -> list:
        """(actor, job) of every video being tracked now."""
        return list(self._running.values())

    def close(self) -> None:
        for actor in self.actors:
            self._ray.kill(actor)
        self.actors, self._running, self._probes = [], {}, {}
        self._idle.clear()
        self._queue.clear()
