"""`tools/loadtest.py --workers N`: simulated users through HAProxy to N workers on one
PostgreSQL database, one worker SIGKILLed mid-run.

Starts a throwaway PostgreSQL, N workers (micro model unless --config, random weights, CPU, one
torch thread each) and HAProxy configured by docker/haproxy.cfg. Each user opens a session and
clicks (every answer's X-Served-By noted); after `--kill-after` seconds the first worker is
killed. Reports errors, sessions served by more than one worker (a session of the killed worker
may move once, to one other worker), the split of new sessions, click p50/p95, how long HAProxy
took to mark the dead worker down, and prompts acknowledged but not found in the database.
"""

from __future__ import annotations

import random
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from demo.testing.client import DemoClient
from demo.testing.haproxy import LocalHAProxy
from demo.testing.local_server import CONFIG_ALIASES, LocalServer, free_port
from demo.testing.postgres import LocalPostgres

WORK = "query($s: String!) { work(sessionId: $s) { prompts { frameIndex objectId points } } }"


class User:
    def __init__(self, url: str, seed: int):
        self.client = DemoClient(url, timeout=120)
        self.rng = random.Random(seed)
        self.sid = ""
        self.served_by: list[str] = []
        self.latencies: list[float] = []
        self.errors: list[str] = []
        self.acknowledged: list[tuple[int, int, float]] = []

    def run(self, video: str, num_frames: int, clicks: int, think: float) -> None:
        try:
            self.sid = self.client.start_session(video)
            self.served_by.append(self.client.served_by)
        except Exception as exc:  # noqa: BLE001 - a load test reports every failure
            self.errors.append(f"startSession: {exc}")
            return
        frame = 0
        for i in range(clicks):
            if i % 4 == 0:
                frame = self.rng.randrange(num_frames)
            x = round(self.rng.uniform(0.1, 0.9), 4)
            t0 = time.perf_counter()
            try:
                self.client.add_points(self.sid, frame, 1 + i % 3, [[x, 0.5]], [1], clear_old_points=False)
            except Exception as exc:  # noqa: BLE001
                self.errors.append(f"addPoints: {exc}")
                continue
            self.latencies.append(time.perf_counter() - t0)
            self.served_by.append(self.client.served_by)
            self.acknowledged.append((frame, 1 + i % 3, x))
            time.sleep(self.rng.uniform(0, 2 * think))

    def lost_prompts(self) -> int:
        prompts = self.client.graphql(WORK, {"s": self.sid})["work"]["prompts"]
        stored = {(p["frameIndex"], p["objectId"], round(pt[0], 4)) for p in prompts for pt in p["points"]}
        return sum(1 for a in self.acknowledged if a not in stored)


def moves(served_by: list[str]) -> int:
    """How many times a session changed worker."""
    return sum(1 for a, b in zip(served_by, served_by[1:]) if a != b)


def run_scale(args, gallery: Path, percentile) -> dict:
    with tempfile.TemporaryDirectory() as tmp, LocalPostgres(durable=True) as pg:
        data = Path(tmp) / "data"
        (data / "gallery").mkdir(parents=True)
        name = Path(args.video).name
        (data / "gallery" / name).write_bytes((gallery / name).read_bytes())
        env = {
            "DATABASE_URL": pg.create_database(),
            "SAM2_DEMO_CONFIG": CONFIG_ALIASES.get(args.config, args.config),
            "TORCH_THREADS": "1",
            "MAX_SESSIONS": str(args.sessions + 2),
        }
        LocalServer(data, Path(tmp) / "first.log", **env).stop()  # posters and schema, once
        names = [f"w{i + 1}" for i in range(args.workers)]
        agent_ports = {n: free_port() for n in names}
        with ThreadPoolExecutor(len(names)) as pool:
            workers = dict(zip(names, pool.map(
                lambda n: LocalServer(data, Path(tmp) / f"{n}.log", WORKER_NAME=n, HOST="127.0.0.1",
                                      LOAD_AGENT_PORT=str(agent_ports[n]), **env), names
            ), strict=True))  # fmt: skip
        proxy = LocalHAProxy({n: w.port for n, w in workers.items()}, Path(tmp) / "haproxy.log",
                             agent_ports=agent_ports)  # fmt: skip
        try:
            info = DemoClient(proxy.url).graphql("{ videos { edges { node { path numFrames } } } }")
            frames = {e["node"]["path"]: e["node"]["numFrames"] for e in info["videos"]["edges"]}
            users = [User(proxy.url, seed) for seed in range(args.sessions)]
            threads = [
                threading.Thread(target=u.run, args=(args.video, frames[args.video], args.clicks, args.think))
                for u in users
            ]
            for t in threads:
                t.start()
                time.sleep(0.05)
            marked_down = None
            if args.kill_after is not None:
                time.sleep(args.kill_after)
                workers[names[0]].kill()
                killed = time.monotonic()
                while marked_down is None and time.monotonic() - killed < 30:
                    if proxy.server_states()[names[0]].startswith("DOWN"):
                        marked_down = round(time.monotonic() - killed, 2)
                    time.sleep(0.05)
            for t in threads:
                t.join(timeout=1800)
            lost = sum(u.lost_prompts() for u in users if u.sid)
        finally:
            proxy.stop()
            for w in workers.values():
                w.stop()
    latencies = [s for u in users for s in u.latencies]
    homes = [u.served_by[0] for u in users if u.served_by]
    killed_home = [u for u in users if u.served_by and u.served_by[0] == names[0]]
    return {
        "workers": args.workers,
        "sessions": args.sessions,
        "clicks": len(latencies),
        "errors": sum(len(u.errors) for u in users),
        "error_samples": [e for u in users for e in u.errors][:5],
        "split": {n: homes.count(n) for n in names},
        "sessions_on_one_worker": sum(1 for u in users if moves(u.served_by) == 0),
        "sessions_moved_once": sum(1 for u in users if moves(u.served_by) == 1),
        "sessions_moved_more": sum(1 for u in users if moves(u.served_by) > 1),
        "sessions_of_killed_worker": len(killed_home) if args.kill_after is not None else 0,
        "others_errors": sum(len(u.errors) for u in users if u not in killed_home),
        "marked_down_s": marked_down,
        "lost_prompts": lost,
        "p50_ms": round(1000 * percentile(latencies, 50), 1),
        "p95_ms": round(1000 * percentile(latencies, 95), 1),
    }


def print_scale(report: dict) -> None:
    print(
        f"{report['sessions']} users through HAProxy to {report['workers']} workers: "
        f"errors {report['errors']} (users of the surviving workers: {report['others_errors']}); "
        f"new sessions split {report['split']}; sessions on one worker {report['sessions_on_one_worker']}, "
        f"moved once {report['sessions_moved_once']} (of {report['sessions_of_killed_worker']} on the killed "
        f"worker), moved more {report['sessions_moved_more']}; killed worker marked down after "
        f"{report['marked_down_s']} s; lost prompts {report['lost_prompts']}; "
        f"clicks p50 {report['p50_ms']} ms, p95 {report['p95_ms']} ms"
    )
