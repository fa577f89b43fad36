"""Does the server give memory back after sessions close? Open, click, close, many times.

    python tools/memory_cycles.py --cycles 200            # spawns a local server (micro config)

Prints the server worker's resident memory (RSS) after the first 10 cycles and every 50 after,
with no session open at those points (each cycle closes its session; a short pause lets the
server's memory releaser run), and the ratio last / first-10 (the goal: at most 1.3).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from demo.testing.client import DemoClient  # noqa: E402
from demo.testing.local_server import LocalServer  # noqa: E402

CLIP = REPO.parent / "shared" / "data" / "gallery" / "bunny_1280x720_25fps.mp4"


def worker_rss_mb(master_pid: int) -> float:
    """RSS of gunicorn's worker process (the master's child)."""
    children = Path(f"/proc/{master_pid}/task/{master_pid}/children").read_text().split()
    pid = int(children[0]) if children else master_pid
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cycles", type=int, default=200)
    parser.add_argument("--clicks", type=int, default=3, help="clicks per cycle, each on a new frame")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp)
        (data / "gallery").mkdir()
        (data / "gallery" / "clip.mp4").write_bytes(CLIP.read_bytes())
        with LocalServer(data, data / "server.log") as server:
            client = DemoClient(server.url)
            readings: list[tuple[int, float]] = []
            for cycle in range(1, args.cycles + 1):
                sid = client.start_session("gallery/clip.mp4")
                for k in range(args.clicks):
                    client.add_points(sid, (cycle * 7 + k * 13) % 100, 1 + k, [[0.5, 0.5]], [1])
                client.close_session(sid)
                if cycle == 10 or cycle % 50 == 0 or cycle == args.cycles:
                    time.sleep(3)  # the releaser runs 2 s after the last session ended
                    readings.append((cycle, worker_rss_mb(server.process.pid)))
                    print(f"after {cycle:4d} cycles: RSS {readings[-1][1]:7.1f} MB", flush=True)
            first = readings[0][1]
            print(f"ratio last / after 10: {readings[-1][1] / first:.2f} (goal <= 1.3)")


if __name__ == "__main__":
    main()
