"""The batch job: manifest in, one settled report line per video out, whatever pool runs them.

The loop keeps every worker busy and no more: it reads the manifest lazily, hands the pool a
video whenever a slot is free, and settles each outcome as it arrives (outputs written, report
line added). So memory holds the pool's videos in flight and nothing that grows with the
manifest, besides the set of ids seen (~100 bytes a line). A video whose outputs exist is
skipped (a re-run completes only what is missing); a failed video is tried once more, then
recorded with its error, and the job goes on.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from tqdm import tqdm

from sam2.batch.manifest import ManifestError, VideoJob, count_lines, read_manifest
from sam2.batch.outputs import OutputDir, RunReport
from sam2.batch.pools import WorkerPool
from sam2.batch.worker import Outcome


@dataclass(frozen=True)
class JobOptions:
    pngs: bool = False  # also write a PNG per object per frame
    retries: int = 1  # further attempts after a failure (not after a prompt that does not fit)
    progress: bool = True  # a progress bar with ETA on stderr


def run_job(manifest: str, out: str, pool: WorkerPool, options: JobOptions = JobOptions(),
            on_outcome: Callable[[Outcome], None] | None = None) -> dict:  # fmt: skip
    """Run every video of ``manifest`` on ``pool``; returns the summary (also <out>/summary.json).

    ``on_outcome`` sees every outcome (failed attempts too) after it is settled. The job closes
    the pool when it ends.
    """
    outputs = OutputDir(out)
    outputs.clean_leftovers()
    report = RunReport(out)
    bar = tqdm(total=count_lines(manifest), disable=not options.progress, unit="video", dynamic_ncols=True)
    run = _Attempts(_runnable(read_manifest(manifest), outputs, report, bar), pool.slots)
    try:
        while run.hand_out(pool):
            outcome = pool.next_outcome()
            if outcome.result is not None:
                try:
                    outcome.result.timings.write = outputs.write(outcome.result, options.pngs)
                except OSError as e:  # disk full, permissions: this video is not done
                    outcome = Outcome(outcome.job, error=f"writing the outputs failed: {e}", retryable=False)
            entry = run.settle(outcome, options.retries)
            if entry is not None:
                report.add(entry)
                bar.update(1)
            if on_outcome is not None:
                on_outcome(outcome)
    finally:
        bar.close()
        pool.close()
    return report.close({"out": out, "manifest": manifest, "workers": pool.slots})


class _Attempts:
    """Which videos are in flight or waiting to be tried again, and how often each was tried.

    Holds only those (at most the pool's slots), never the manifest.
    """

    def __init__(self, pending: Iterator[VideoJob], slots: int):
        self.pending, self.slots = pending, slots
        self.tries: dict[int, int] = {}  # manifest line -> attempts so far
        self.again: deque[VideoJob] = deque()

    def hand_out(self, pool: WorkerPool) -> bool:
        """Fill the free slots (videos to try again first); False once nothing is left at all."""
        while len(self.tries) - len(self.again) < self.slots:
            job = self.again.popleft() if self.again else next(self.pending, None)
            if job is None:
                break
            self.tries[job.line] = self.tries.get(job.line, 0) + 1
            pool.submit(job)
        return bool(self.tries)

    def settle(self, outcome: Outcome, retries: int) -> dict | None:
        """The report entry of a video that is finished with, or None when it goes round again."""
        line = outcome.job.line
        if outcome.result is not None:
            return _done_entry(outcome, self.tries.pop(line))
        if outcome.retryable and self.tries[line] <= retries:
            self.again.append(outcome.job)
            return None
        return _failed_entry(outcome, self.tries.pop(line))


def _runnable(items: Iterator[VideoJob | ManifestError], outputs: OutputDir, report: RunReport,
              bar: tqdm) -> Iterator[VideoJob]:  # fmt: skip
    """The manifest's videos still to do; bad lines and finished videos are reported on the way."""
    for item in items:
        if isinstance(item, ManifestError):
            report.add({"line": item.line, "status": "invalid", "error": str(item)})
            bar.update(1)
        elif outputs.is_done(item.video_id):
            report.add({"line": item.line, "id": item.video_id, "video": item.video, "status": "skipped"})
            bar.total -= 1  # finished earlier: the ETA is about what is left
            bar.refresh()
        else:
            yield item


def _done_entry(outcome: Outcome, attempts: int) -> dict:
    r = outcome.result
    return {"line": outcome.job.line, "id": r.video_id, "video": r.video, "status": "done", "attempts": attempts,
            "frames": r.num_frames, "objects": len(r.object_ids), "seconds": round(r.seconds, 3),
            "peak_memory_bytes": r.peak_memory_bytes, "timings": r.timings.as_dict(), "worker": outcome.worker}  # fmt: skip


def _failed_entry(outcome: Outcome, attempts: int) -> dict:
    job = outcome.job
    return {"line": job.line, "id": job.video_id, "video": job.video, "status": "failed", "attempts": attempts,
            "error": outcome.error, "worker": outcome.worker}  # fmt: skip
