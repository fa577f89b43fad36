"""What the work database costs a click and a tracking pass: the same server with and without it.

    git worktree add --detach /tmp/no-database 4f0dc13      # main before the database
    python tools/benchmark_storage.py --baseline-tree /tmp/no-database --postgresql

Variants, run in turn `--rounds` times (interleaved, so a drifting machine hits all alike):
the baseline tree (no database), this tree on SQLite (the default), and on a throwaway
PostgreSQL server with fsync on (`--postgresql`). Each run: one user clicks `--clicks` times
on frames whose features are cached (so a click is the cheap part of the model, and a
database's cost shows most), then 4 users click at once, then 4 objects are tracked over
50 frames. Prints click p50/p95 and tracking frames/s per variant, and the differences.
Micro model, random weights, CPU.

`--in-process` times the service layer alone (no HTTP): the same clicks and tracking pass on
`DemoService` inside one process per variant, so what changed in the transport between the
baseline tree and this one does not count as the database's cost.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from demo.testing.client import DemoClient  # noqa: E402
from demo.testing.local_server import LocalServer  # noqa: E402

CLIP = REPO.parent / "shared" / "data" / "uploads" / "quicktime_h264_640x360.mov"  # 50 frames
WARM_FRAMES = 8


def open_session(client: DemoClient) -> str:
    """startSession as any version of the server answers it (older ones have no routeKey)."""
    query = "mutation($i: StartSessionInput!) { startSession(input: $i) { sessionId } }"
    return client.graphql(query, {"i": {"path": "gallery/clip.mp4"}})["startSession"]["sessionId"]


def timed_clicks(client: DemoClient, sid: str, clicks: int, obj: int, seed: int) -> list[float]:
    times = []
    for i in range(clicks):
        frame = (i * 3 + seed) % WARM_FRAMES
        x = 0.2 + 0.6 * ((i * 37 + seed) % 100) / 100
        start = time.perf_counter()
        client.add_points(sid, frame, obj, [[x, 0.5]], [1])
        times.append(time.perf_counter() - start)
    return times


def run_variant(repo: Path, env: dict[str, str], clicks: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp)
        (data / "gallery").mkdir()
        (data / "gallery" / "clip.mp4").write_bytes(CLIP.read_bytes())
        with LocalServer(data, data / "server.log", repo=repo, TORCH_THREADS="1", **env) as server:
            client = DemoClient(server.url)
            sid = open_session(client)
            for frame in range(WARM_FRAMES):  # encode each frame once
                for obj in (1, 2, 3, 4):
                    client.add_points(sid, frame, obj, [[0.2 + 0.15 * obj, 0.5]], [1])
            single = timed_clicks(client, sid, clicks, 1, 0)

            together: list[float] = []
            users = [DemoClient(server.url, client_id=f"benchmark-user-{u}") for u in range(4)]
            sessions = [open_session(u) for u in users]
            for u, s in zip(users, sessions):
                for frame in range(WARM_FRAMES):
                    u.add_points(s, frame, 1, [[0.5, 0.5]], [1])

            def user(k: int) -> None:
                together.extend(timed_clicks(users[k], sessions[k], clicks // 2, 1, k))

            threads = [threading.Thread(target=user, args=(k,)) for k in range(4)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()

            start = time.perf_counter()
            response = client.propagate(sid, 0, direction="forward", max_frames=50)
            frames = response.content.count(b'"frame_index"')  # any stream ending, old or new
            fps = frames / (time.perf_counter() - start)
    return {
        "p50": statistics.median(single) * 1000,
        "p95": statistics.quantiles(single, n=20)[18] * 1000,
        "p50x4": statistics.median(together) * 1000,
        "p95x4": statistics.quantiles(together, n=20)[18] * 1000,
        "fps": fps,
    }


IN_PROCESS = r"""
import json, os, shutil, statistics, sys, tempfile, time
from pathlib import Path
data = Path(tempfile.mkdtemp()); (data / "gallery").mkdir()
shutil.copy(sys.argv[1], data / "gallery" / "clip.mp4")
os.environ.update(DATA_PATH=str(data), SAM2_DEMO_RANDOM_WEIGHTS="1", SAM2_DEMO_DEVICE="cpu", TORCH_THREADS="1",
                  SAM2_DEMO_CONFIG="configs/sam2.1/sam2.1_hiera_micro.yaml")
if len(sys.argv) > 3: os.environ["DATABASE_URL"] = sys.argv[3]
import logging; logging.disable(logging.WARNING)
sys.path.insert(0, os.getcwd())
from demo.backend.app import create_app
service = create_app().extensions["sam2_demo"]
sid = service.start_session("gallery/clip.mp4")
for frame in range(8):
    for obj in (1, 2, 3, 4):
        service.add_points(sid, frame, obj, [[0.2 + 0.15 * obj, 0.5]], [1], True)
clicks = []
for i in range(int(sys.argv[2])):
    start = time.perf_counter()
    service.add_points(sid, (i * 3) % 8, 1, [[0.2 + 0.6 * ((i * 37) % 100) / 100, 0.5]], [1], True)
    clicks.append(time.perf_counter() - start)
propagation = service.start_propagation(sid, 0, "forward", 50)
start = time.perf_counter()
frames = sum(1 for _ in propagation.frames())
fps = frames / (time.perf_counter() - start)
print(json.dumps({"p50": statistics.median(clicks) * 1000, "p95": statistics.quantiles(clicks, n=20)[18] * 1000,
                  "fps": fps}))
"""


def run_in_process(repo: Path, env: dict[str, str], clicks: int) -> dict[str, float]:
    argv = [sys.executable, "-c", IN_PROCESS, str(CLIP), str(clicks)]
    if "DATABASE_URL" in env:
        argv.append(env["DATABASE_URL"])
    out = subprocess.run(argv, cwd=repo, capture_output=True, text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--baseline-tree", type=Path, help="a checkout without the database")
    parser.add_argument("--postgresql", action="store_true", help="also on a throwaway PostgreSQL (fsync on)")
    parser.add_argument("--clicks", type=int, default=60)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--in-process", action="store_true", help="the service layer alone, no HTTP")
    args = parser.parse_args()
    postgres = None
    variants: list[tuple[str, Path, object]] = []
    if args.baseline_tree:
        variants.append(("no database", args.baseline_tree.resolve(), lambda: {}))
    variants.append(("SQLite", REPO, lambda: {}))
    if args.postgresql:
        from demo.testing.postgres import LocalPostgres

        postgres = LocalPostgres(durable=True)
        variants.append(("PostgreSQL", REPO, lambda: {"DATABASE_URL": postgres.create_database()}))
    results: dict[str, list[dict[str, float]]] = {name: [] for name, _, _ in variants}
    try:
        for r in range(args.rounds):
            for name, repo, env in variants:
                run = run_in_process if args.in_process else run_variant
                result = run(repo, env(), args.clicks)
                results[name].append(result)
                print(f"round {r + 1} {name:12s} " + "  ".join(f"{k} {v:7.1f}" for k, v in result.items()), flush=True)
    finally:
        if postgres is not None:
            postgres.stop()
    print("\nmedian of rounds (clicks in ms, tracking in frames/s)")
    base = None
    for name, runs in results.items():
        med = {k: statistics.median(run[k] for run in runs) for k in runs[0]}
        line = f"{name:12s} " + "  ".join(f"{k} {v:6.1f}" for k, v in med.items())
        if base is None:
            base = med
        else:
            line += f"   (click p50 {med['p50'] - base['p50']:+.1f} ms, tracking {med['fps'] / base['fps']:.2f}x)"
        print(line)


if __name__ == "__main__":
    main()
