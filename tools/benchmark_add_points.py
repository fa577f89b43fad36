"""Benchmark of `addPoints` on an already-encoded frame: HTTP round trip vs the bare predictor call.

    python tools/benchmark_add_points.py                   # tiny config, CPU, spawned server
    python tools/benchmark_add_points.py --config micro --repeats 50

The first click on a frame runs the image encoder; every later click on that frame only runs
the prompt encoder and mask decoder. This times those later clicks, twice:
- through the server (GraphQL request, session lock, predictor, RLE encoding, JSON), and
- as a direct `add_new_points_or_box` call in this process (same config, same seed),
and prints p50/p95 of both and their ratio (the server's overhead). Goal: server p50 <= 100 ms
for tiny on CPU. Random weights unless CHECKPOINT_DIR holds the checkpoint (same speed either way).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from demo.backend.settings import Settings  # noqa: E402
from demo.testing.client import DemoClient  # noqa: E402
from demo.testing.local_server import CONFIG_ALIASES, LocalServer  # noqa: E402

DEFAULT_VIDEO = REPO.parent / "shared" / "data" / "gallery" / "bunny_1280x720_25fps.mp4"


def summary(seconds: list[float]) -> dict:
    ordered = sorted(seconds)

    def pick(q: float) -> float:
        return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]

    return {"p50_ms": round(1000 * pick(0.5), 1), "p95_ms": round(1000 * pick(0.95), 1), "n": len(ordered)}


def clicks(repeats: int, seed: int = 0):
    rng = random.Random(seed)
    for i in range(repeats):
        yield i, [[rng.uniform(0.2, 0.8), rng.uniform(0.2, 0.8)]]


def bench_server(url: str, video: str, repeats: int, frame: int) -> tuple[dict, float]:
    client = DemoClient(url)
    sid = client.start_session(video)
    t0 = time.perf_counter()
    client.add_points(sid, frame, 1, [[0.5, 0.5]], [1])  # encodes the frame
    first = time.perf_counter() - t0
    times = []
    for i, point in clicks(repeats):
        t0 = time.perf_counter()
        client.add_points(sid, frame, 1, point, [1], clear_old_points=i % 3 == 0)
        times.append(time.perf_counter() - t0)
    client.close_session(sid)
    return summary(times), first


def bench_direct(config: str, video_file: Path, repeats: int, frame: int, seed: int) -> dict:
    import numpy as np
    import torch

    from sam2.build_sam import build_sam2_video_predictor

    torch.set_num_threads(Settings.from_env().model.torch_threads)  # as the server does
    torch.manual_seed(seed)
    predictor = build_sam2_video_predictor(config, ckpt_path=None, device="cpu")
    with torch.inference_mode():
        state = predictor.init_state(str(video_file))
        h, w = state["video_height"], state["video_width"]
        predictor.add_new_points_or_box(
            state, frame, 1, points=np.array([[w / 2, h / 2]], np.float32), labels=np.array([1], np.int32)
        )
        times = []
        for i, point in clicks(repeats):
            xy = np.array([[point[0][0] * w, point[0][1] * h]], np.float32)
            t0 = time.perf_counter()
            _, _, masks = predictor.add_new_points_or_box(
                state, frame, 1, points=xy, labels=np.array([1], np.int32), clear_old_points=i % 3 == 0
            )
            (masks > 0).cpu()  # what the server also pays before encoding
            times.append(time.perf_counter() - t0)
    return summary(times)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--config", default="tiny", help="micro | tiny | small | a config path")
    parser.add_argument("--video", type=Path, default=DEFAULT_VIDEO, help="an .mp4 for the gallery")
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--frame", type=int, default=10, help="a frame the session has not encoded yet")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--skip-direct", action="store_true", help="only the server round trip")
    args = parser.parse_args()
    config = CONFIG_ALIASES.get(args.config, args.config)

    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        (data / "gallery").mkdir(parents=True)
        target = data / "gallery" / args.video.name
        target.write_bytes(args.video.read_bytes())
        env = {"SAM2_DEMO_CONFIG": config, "SAM2_DEMO_SEED": str(args.seed)}
        if os.environ.get("CHECKPOINT_DIR"):
            env["SAM2_DEMO_RANDOM_WEIGHTS"] = "0"
        with LocalServer(data, Path(tmp) / "server.log", **env) as server:
            served, first = bench_server(server.url, f"gallery/{args.video.name}", args.repeats, args.frame)
        direct = (
            None if args.skip_direct else bench_direct(config, target, args.repeats, args.frame, args.seed)
        )

    report = {
        "config": config,
        "device": "cpu",
        "torch_threads": __import__("demo.backend.settings", fromlist=["Settings"])
        .Settings.from_env()
        .model.torch_threads,
        "first_click_ms": round(1000 * first, 1),
        "server": served,
        "direct": direct,
    }
    line = f"addPoints on an encoded frame ({config}, CPU): server p50 {served['p50_ms']} ms, p95 {served['p95_ms']} ms"
    if direct:
        ratio = served["p50_ms"] / direct["p50_ms"] if direct["p50_ms"] else float("nan")
        line += f"; direct predictor p50 {direct['p50_ms']} ms; server/direct {ratio:.2f}x"
        report["server_over_direct"] = round(ratio, 2)
    print(line + f" (first click, with encoding: {report['first_click_ms']} ms)")
    print(json.dumps(report))


if __name__ == "__main__":
    main()
