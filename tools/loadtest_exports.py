"""`tools/loadtest.py --exports`: what a heavy session's mask exports cost, and what they cost
another user's clicks.

Builds the heavy session of issue #20: 16 objects clicked on frame 0 of the 1280x720 bunny clip
and tracked over all its frames (random weights give noisy masks, the worst case for RLE and
PNG). Then measures, on the server's worker process:
  - the first zip export (PNG per object per frame + masks.json): seconds and peak RSS growth,
    then the same zip again (cached);
  - the first COCO export after one more click (so nothing is cached), then again (cached);
  - another user's clicks, unloaded, then while 4 exports of the heavy session run at once
    (after a click, so they are new work): 4 COCO, 4 zip, then 2 zip + 2 COCO.
Only talks to the given (local) server; every loop is bounded.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import requests

from demo.testing.client import DemoClient, iter_parts

HEAVY_VIDEO = "gallery/bunny_1280x720_25fps.mp4"
# 4 exports at once, each round after a click (new masks): the same export 4 times (the issue's
# case), then both formats twice (two different exports to build at once).
ROUNDS = {"coco": ["coco"] * 4, "zip": ["zip"] * 4, "mixed": ["zip", "coco", "zip", "coco"]}


def worker_pid(master_pid: int) -> int:
    """gunicorn's (single) worker: the master's child."""
    children = Path(f"/proc/{master_pid}/task/{master_pid}/children").read_text().split()
    return int(children[0]) if children else master_pid


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


class PeakRss:
    """Samples a process's RSS every 20 ms while in the `with` block."""

    def __init__(self, pid: int | None):
        self.pid, self.before, self.peak = pid, float("nan"), float("nan")
        self._stop = threading.Event()

    def __enter__(self) -> PeakRss:
        if self.pid:
            self.before = self.peak = rss_mb(self.pid)
            self._thread = threading.Thread(target=self._sample, daemon=True)
            self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._stop.wait(0.02):
            self.peak = max(self.peak, rss_mb(self.pid))

    def __exit__(self, *exc) -> None:
        self._stop.set()
        if self.pid:
            self._thread.join()

    @property
    def growth_mb(self) -> float:
        return round(self.peak - self.before, 1)


def build_heavy_session(client: DemoClient, objects: int) -> tuple[str, float]:
    sid = client.start_session(HEAVY_VIDEO)
    t0 = time.perf_counter()
    for obj in range(1, objects + 1):
        client.add_points(sid, 0, obj, [[(obj % 4 + 0.5) / 4, ((obj // 4) % 4 + 0.5) / 4]], [1])
    frames = sum(1 for part in iter_parts(client.propagate(sid, 0)) if "results" in part.body)
    if frames == 0:
        raise SystemExit("the heavy session's propagation gave no frames")
    return sid, time.perf_counter() - t0


def export(url: str, sid: str, fmt: str) -> tuple[int, float, int]:
    """(HTTP status, seconds, bytes) of one export, read to the end."""
    t0 = time.perf_counter()
    with requests.get(f"{url}/export_masks", params={"session_id": sid, "format": fmt}, stream=True,
                      timeout=600) as response:  # fmt: skip
        size = sum(len(chunk) for chunk in response.iter_content(1 << 16))
        return response.status_code, time.perf_counter() - t0, size


def clicks_while(client: DemoClient, sid: str, busy: threading.Event | None, count: int) -> list[float]:
    """Click latencies (s) of another user: `count` clicks, or as many as fit while `busy` is set."""
    latencies: list[float] = []
    i = 0
    while (busy.is_set() if busy is not None else i < count) and i < 10_000:
        point = [[0.2 + 0.6 * ((i * 7) % 10) / 10, 0.2 + 0.6 * ((i * 3) % 10) / 10]]
        t0 = time.perf_counter()
        client.add_points(sid, (i // 4) % 10, 1 + i % 2, point, [1], clear_old_points=i % 4 == 0)
        latencies.append(time.perf_counter() - t0)
        time.sleep(0.1)
        i += 1
    return latencies


def parallel_exports(
    url: str, sid: str, fmts: list[str], other: DemoClient, other_sid: str, percentile
) -> dict:
    results: list[tuple[int, float, int]] = []
    busy = threading.Event()
    busy.set()

    def one(fmt: str) -> None:
        results.append(export(url, sid, fmt))

    threads = [threading.Thread(target=one, args=(fmt,)) for fmt in fmts]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    watcher = threading.Thread(target=lambda: ([t.join() for t in threads], busy.clear()))
    watcher.start()
    latencies = clicks_while(other, other_sid, busy, 0)
    watcher.join()
    return {
        "formats": fmts,
        "statuses": sorted(r[0] for r in results),
        "seconds": sorted(round(r[1], 1) for r in results),
        "wall_s": round(time.perf_counter() - t0, 1),
        "clicks": len(latencies),
        "click_p50_ms": round(1000 * percentile(latencies, 50), 1),
        "click_p95_ms": round(1000 * percentile(latencies, 95), 1),
    }


def run_exports(url: str, master_pid: int | None, objects: int, percentile) -> dict:
    pid = worker_pid(master_pid) if master_pid else None
    heavy, other = DemoClient(url, timeout=600), DemoClient(url)
    sid, build_s = build_heavy_session(heavy, objects)
    report: dict = {
        "objects": objects,
        "build_heavy_session_s": round(build_s, 1),
        "load_before": os.getloadavg(),
    }

    with PeakRss(pid) as rss:
        status, seconds, size = export(url, sid, "zip")
    report["zip"] = {"status": status, "seconds": round(seconds, 1), "mb": round(size / 2**20, 1),
                     "peak_rss_growth_mb": rss.growth_mb}  # fmt: skip
    report["zip_again_s"] = round(export(url, sid, "zip")[1], 2)

    bump = [[0.5, 0.5]]
    heavy.add_points(sid, 0, 1, bump, [1], clear_old_points=False)  # new masks: nothing cached
    with PeakRss(pid) as rss:
        status, seconds, size = export(url, sid, "coco")
    report["coco"] = {"status": status, "seconds": round(seconds, 1), "mb": round(size / 2**20, 1),
                      "peak_rss_growth_mb": rss.growth_mb}  # fmt: skip
    report["coco_again_s"] = round(export(url, sid, "coco")[1], 2)

    other_sid = other.start_session(HEAVY_VIDEO)
    lat = clicks_while(other, other_sid, None, 40)
    report["clicks_unloaded"] = {"clicks": len(lat), "p50_ms": round(1000 * percentile(lat, 50), 1),
                                 "p95_ms": round(1000 * percentile(lat, 95), 1)}  # fmt: skip
    for name, fmts in ROUNDS.items():
        heavy.add_points(sid, 0, 1, bump, [1], clear_old_points=False)
        report[f"parallel_{name}"] = parallel_exports(url, sid, fmts, other, other_sid, percentile)
    other.close_session(other_sid)
    heavy.close_session(sid)
    report["load_after"] = os.getloadavg()  # a shared machine: other jobs' load skews every figure
    return report


def print_exports(report: dict) -> None:
    z, c = report["zip"], report["coco"]
    print(f"heavy session: {report['objects']} objects tracked in {report['build_heavy_session_s']} s; "
          f"load average {report['load_before'][0]:.1f} before the exports, {report['load_after'][0]:.1f} after")  # fmt: skip
    print(f"zip export: {z['seconds']} s, {z['mb']} MB, peak RSS +{z['peak_rss_growth_mb']} MB "
          f"(HTTP {z['status']}); cached: {report['zip_again_s']} s")  # fmt: skip
    print(f"COCO export: {c['seconds']} s, {c['mb']} MB, peak RSS +{c['peak_rss_growth_mb']} MB "
          f"(HTTP {c['status']}); cached: {report['coco_again_s']} s")  # fmt: skip
    u = report["clicks_unloaded"]
    print(
        f"another user's clicks, unloaded: p50 {u['p50_ms']} ms, p95 {u['p95_ms']} ms ({u['clicks']} clicks)"
    )
    for name in ROUNDS:
        p = report[f"parallel_{name}"]
        print(f"  while 4 {name} exports run: p50 {p['click_p50_ms']} ms, p95 {p['click_p95_ms']} ms "
              f"({p['clicks']} clicks); exports {p['seconds']} s, HTTP {p['statuses']}")  # fmt: skip
