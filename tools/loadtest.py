"""Load test of the demo backend: N users clicking while another user propagates.

    python tools/loadtest.py --sessions 8                  # spawns a local server (micro config)
    python tools/loadtest.py --sessions 8 --config tiny    # the tiny model (random weights)
    python tools/loadtest.py --url http://127.0.0.1:7262 --video gallery/<name>.mp4
    python tools/loadtest.py --hostile                     # the same, unloaded and then under attack
    python tools/loadtest.py --workers 2 --clicks 80 --kill-after 4  # HAProxy, 2 workers, PostgreSQL; kill one
    python tools/loadtest.py --exports                     # a heavy session's exports (loadtest_exports.py)

With `--hostile` the run is done twice on one server: first as is, then with 200 slow-header and
200 slow-body sockets trickling a byte every 2 s (reopened when the server cuts them off), 4
propagation streams opened and never read, and a prober timing `/healthy` every 0.5 s. The two
click p50/p95 are printed side by side, with the tracking rate, the /healthy latencies and when
the never-read streams were cut off.

Each clicking user opens a session, then clicks `--clicks` times: a few clicks per frame on a
handful of frames (the first click on a frame also encodes it), with a short think time. One
more user propagates over the whole video in a loop meanwhile. Prints p50/p95/max latency of
the clicks, the error count and the propagation throughput. Only talks to the given (local)
server; every loop is bounded in count.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from demo.testing.client import DemoClient, iter_parts  # noqa: E402
from demo.testing.local_server import CONFIG_ALIASES, LocalServer  # noqa: E402
from tools.hostile_clients import (  # noqa: E402
    SLOW_BODY,
    SLOW_HEAD,
    HostileReport,
    SlowSockets,
    probe_healthy,
    stalled_streams,
)
from tools.loadtest_exports import HEAVY_VIDEO, print_exports, run_exports  # noqa: E402
from tools.loadtest_scale import print_scale, run_scale  # noqa: E402

DEFAULT_GALLERY = REPO.parent / "shared" / "data" / "gallery"


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


class Results:
    def __init__(self):
        self.lock = threading.Lock()
        self.latencies: list[float] = []
        self.errors: list[str] = []
        self.propagated_frames = 0
        self.propagation_seconds = 0.0

    def click(self, seconds: float) -> None:
        with self.lock:
            self.latencies.append(seconds)

    def error(self, message: str) -> None:
        with self.lock:
            self.errors.append(message)


def clicking_user(
    url: str, video: str, clicks: int, think: float, seed: int, results: Results, num_frames: int
):
    rng = random.Random(seed)
    client = DemoClient(url)
    try:
        sid = client.start_session(video)
    except Exception as exc:  # noqa: BLE001 - a load test reports every failure
        results.error(f"startSession: {exc}")
        return
    try:
        frame = rng.randrange(num_frames)
        for i in range(clicks):
            if i % 4 == 0:
                frame = rng.randrange(num_frames)  # a new frame: this click also encodes it
            point = [[rng.uniform(0.1, 0.9), rng.uniform(0.1, 0.9)]]
            t0 = time.perf_counter()
            try:
                client.add_points(sid, frame, 1 + i % 3, point, [1], clear_old_points=i % 4 == 0)
                results.click(time.perf_counter() - t0)
            except Exception as exc:  # noqa: BLE001
                results.error(f"addPoints: {exc}")
            time.sleep(rng.uniform(0, 2 * think))
    finally:
        try:
            client.close_session(sid)
        except Exception as exc:  # noqa: BLE001
            results.error(f"closeSession: {exc}")


def propagating_user(url: str, video: str, stop: threading.Event, results: Results, max_rounds: int):
    client = DemoClient(url)
    sid = client.start_session(video)
    client.add_points(sid, 0, 1, [[0.5, 0.5]], [1])
    try:
        for _ in range(max_rounds):
            if stop.is_set():
                break
            t0 = time.perf_counter()
            response = client.propagate(sid, 0)
            if response.status_code != 200:
                results.error(f"propagate: HTTP {response.status_code} {response.text[:200]}")
                time.sleep(0.5)
                continue
            frames = 0
            for part in iter_parts(response):
                if "error" in part.body:
                    results.error(f"propagate: {part.body['error']['message']}")
                    break
                frames += 1
                if stop.is_set():
                    client.cancel(sid)
            with results.lock:
                results.propagated_frames += frames
                results.propagation_seconds += time.perf_counter() - t0
    finally:
        client.close_session(sid)


def run(url: str, video: str, sessions: int, clicks: int, think: float) -> dict:
    info = DemoClient(url).graphql(
        "{ videos { edges { node { path numFrames } } } serverInfo { modelConfig device randomWeights } }"
    )
    frames = {e["node"]["path"]: e["node"]["numFrames"] for e in info["videos"]["edges"]}
    if video not in frames:
        raise SystemExit(f"video {video!r} is not on the server; it has: {', '.join(frames)}")
    results, stop = Results(), threading.Event()
    propagator = threading.Thread(
        target=propagating_user, args=(url, video, stop, results, 1000), daemon=True
    )
    propagator.start()
    time.sleep(1.0)  # let the propagation get going first
    users = [
        threading.Thread(
            target=clicking_user, args=(url, video, clicks, think, seed, results, frames[video]), daemon=True
        )
        for seed in range(sessions)
    ]
    t0 = time.perf_counter()
    for user in users:
        user.start()
    for user in users:
        user.join(timeout=1800)
    wall = time.perf_counter() - t0
    stop.set()
    propagator.join(timeout=300)
    lat = results.latencies
    return {
        "model": info["serverInfo"],
        "video": video,
        "sessions": sessions,
        "clicks": len(lat),
        "errors": len(results.errors),
        "error_samples": results.errors[:5],
        "p50_ms": round(1000 * percentile(lat, 50), 1),
        "p95_ms": round(1000 * percentile(lat, 95), 1),
        "max_ms": round(1000 * max(lat), 1) if lat else None,
        "mean_ms": round(1000 * statistics.fmean(lat), 1) if lat else None,
        "wall_s": round(wall, 1),
        "propagated_frames": results.propagated_frames,
        "propagation_fps": round(results.propagated_frames / results.propagation_seconds, 2)
        if results.propagation_seconds
        else None,
    }


def run_hostile(url: str, video: str, args) -> dict:
    """Three runs of the normal load on one server: as is; beside slow sockets; beside streams
    that are never read (which also cost the CPU their tracking takes)."""
    baseline = run(url, video, args.sessions, args.clicks, args.think)

    report, stop = HostileReport(), threading.Event()
    crowds = [
        SlowSockets(url, SLOW_HEAD, args.slow_headers, 2.0, report),
        SlowSockets(url, SLOW_BODY, args.slow_bodies, 2.0, report),
    ]
    threads = [threading.Thread(target=c.run, args=(stop,), daemon=True) for c in crowds]
    threads.append(threading.Thread(target=probe_healthy, args=(url, stop, report), daemon=True))
    for t in threads:
        t.start()
    time.sleep(3.0)  # let the slow sockets connect and start trickling
    slow = run(url, video, args.sessions, args.clicks, args.think)
    stop.set()
    for t in threads:
        t.join(timeout=60)
    healthy = list(report.healthy_ms)

    stalled_report, stop = HostileReport(), threading.Event()
    staller = threading.Thread(
        target=stalled_streams,
        args=(url, args.stalled_video, args.stalled_streams, 16, stalled_report, stop),
        daemon=True,
    )
    staller.start()
    beside_stalled = run(url, video, args.sessions, args.clicks, args.think)
    staller.join(timeout=300)  # until the server has cut every never-read stream off
    stop.set()
    staller.join(timeout=10)

    def ratio(loaded: dict) -> float | None:
        return round(loaded["p95_ms"] / baseline["p95_ms"], 2) if baseline["p95_ms"] else None

    return {
        "unloaded": baseline,
        "slow_sockets_run": slow,
        "stalled_streams_run": beside_stalled,
        "p95_ratio_slow_sockets": ratio(slow),
        "p95_ratio_stalled_streams": ratio(beside_stalled),
        "slow_sockets": args.slow_headers + args.slow_bodies,
        "slow_sockets_cut_off": report.cut_off,
        "connect_errors": report.connect_errors,
        "healthy_p50_ms": round(percentile(healthy, 50), 1),
        "healthy_p95_ms": round(percentile(healthy, 95), 1),
        "healthy_max_ms": round(max(healthy), 1) if healthy else None,
        "healthy_errors": report.healthy_errors,
        "stalled_streams_seen": stalled_report.stalled_max,
        "stalled_seen_at_s": stalled_report.stalled_seen_at_s,
        "stalled_all_cut_off_at_s": stalled_report.stalled_freed_after_s,
    }


def print_hostile(report: dict) -> None:
    def line(name: str, r: dict, ratio: float | None = None) -> str:
        times = f" (p95 x{ratio} of unloaded)" if ratio is not None else ""
        return (
            f"{name}: clicks p50 {r['p50_ms']} ms, p95 {r['p95_ms']} ms{times}, errors {r['errors']}; "
            f"tracking {r['propagation_fps']} frames/s ({r['propagated_frames']} frames)"
        )

    print(line("unloaded", report["unloaded"]))
    print(line(f"beside {report['slow_sockets']} slow sockets", report["slow_sockets_run"],
               report["p95_ratio_slow_sockets"]))  # fmt: skip
    print(
        f"  /healthy meanwhile: p50 {report['healthy_p50_ms']} ms, p95 {report['healthy_p95_ms']} ms, "
        f"max {report['healthy_max_ms']} ms, errors {report['healthy_errors']}; slow sockets cut off "
        f"(408) and reopened {report['slow_sockets_cut_off']} times"
    )
    print(line(f"beside {report['stalled_streams_seen']} never-read streams", report["stalled_streams_run"],
               report["p95_ratio_stalled_streams"]))  # fmt: skip
    print(
        f"  never-read streams stuck {report['stalled_seen_at_s']} s after they opened; all cut off "
        f"(slots given back) at {report['stalled_all_cut_off_at_s']} s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--url", help="a running server; by default one is spawned on a free local port")
    parser.add_argument("--sessions", type=int, default=8, help="clicking users (default 8)")
    parser.add_argument("--clicks", type=int, default=20, help="clicks per user (default 20)")
    parser.add_argument("--think", type=float, default=0.1, help="mean think time between clicks, s")
    parser.add_argument("--video", default="gallery/pedestrians_768x576_24fps.mp4")
    parser.add_argument(
        "--config", default="micro", help="spawned server: micro | tiny | small | a config path"
    )
    parser.add_argument("--gallery", type=Path, default=DEFAULT_GALLERY, help="spawned server: gallery clips")
    parser.add_argument("--hostile", action="store_true", help="run unloaded, then alongside hostile clients")
    parser.add_argument("--slow-headers", type=int, default=200, help="--hostile: slow-header sockets")
    parser.add_argument("--slow-bodies", type=int, default=200, help="--hostile: slow-body sockets")
    parser.add_argument("--stalled-streams", type=int, default=4, help="--hostile: streams never read")
    parser.add_argument(
        "--stalled-video", default="gallery/bunny_1280x720_25fps.mp4", help="--hostile: video of those streams"
    )
    parser.add_argument("--workers", type=int, help="N workers behind HAProxy on PostgreSQL (see loadtest_scale.py)")
    parser.add_argument("--kill-after", type=float, help="--workers: SIGKILL the first worker after this many s")
    parser.add_argument("--exports", action="store_true", help="a heavy session's exports, and clicks meanwhile")
    parser.add_argument("--export-objects", type=int, default=16, help="--exports: objects in the heavy session")
    parser.add_argument("--server-pid", type=int, help="--exports with --url: the gunicorn master, for RSS")
    args = parser.parse_args()
    if args.sessions < 1 or args.clicks < 1:
        parser.error("--sessions and --clicks must be >= 1")
    if args.workers:
        report = run_scale(args, args.gallery, percentile)
        print_scale(report)
        print(json.dumps(report))
        return

    if args.exports:
        if args.url:
            report = run_exports(args.url, args.server_pid, args.export_objects, percentile)
        else:
            with tempfile.TemporaryDirectory() as tmp:
                data = Path(tmp) / "data"
                (data / "gallery").mkdir(parents=True)
                name = Path(HEAVY_VIDEO).name
                (data / "gallery" / name).write_bytes((args.gallery / name).read_bytes())
                config = CONFIG_ALIASES.get(args.config, args.config)
                with LocalServer(data, Path(tmp) / "server.log", SAM2_DEMO_CONFIG=config) as server:
                    report = run_exports(server.url, server.process.pid, args.export_objects, percentile)
        print_exports(report)
        print(json.dumps(report))
        return

    def measure(url: str) -> dict:
        if args.hostile:
            return run_hostile(url, args.video, args)
        return run(url, args.video, args.sessions, args.clicks, args.think)

    if args.url:
        report = measure(args.url)
    else:
        with tempfile.TemporaryDirectory() as tmp:
            data = Path(tmp) / "data"
            (data / "gallery").mkdir(parents=True)
            for video in {args.video, args.stalled_video} if args.hostile else {args.video}:
                name = Path(video).name
                (data / "gallery" / name).write_bytes((args.gallery / name).read_bytes())
            config = CONFIG_ALIASES.get(args.config, args.config)
            extra = args.stalled_streams if args.hostile else 0
            with LocalServer(
                data,
                Path(tmp) / "server.log",
                SAM2_DEMO_CONFIG=config,
                MAX_SESSIONS=str(args.sessions + 2 + extra),
            ) as server:  # MAX_PROPAGATIONS as by default (4): never-read streams take every slot
                report = measure(server.url)
    if args.hostile:
        print_hostile(report)
        print(json.dumps(report))
        return
    print(
        f"{report['sessions']} users x {args.clicks} clicks while one propagates "
        f"({report['model']['modelConfig']}, {report['model']['device']}): "
        f"p50 {report['p50_ms']} ms, p95 {report['p95_ms']} ms, max {report['max_ms']} ms, "
        f"errors {report['errors']}; propagation {report['propagation_fps']} frames/s"
    )
    print(json.dumps(report))


if __name__ == "__main__":
    main()
