#!/usr/bin/env python
"""Throughput of sam2.batch: the same job embedded (one worker) and on Ray (N actors), side by side.

    python tools/benchmark_batch.py [--clips 20] [--seconds 2] [--fps 24] [--objects 3] [--ray-workers 2]

Makes the clips (H.264, 768x576 pedestrians from ../shared/data, played back and forth), a
manifest with --objects boxes per clip, and the golden micro weights; runs the job embedded,
then on a local Ray cluster; prints wall times, clips and frames a second, and where the
workers' time went (open, decode waits, model, RLE encode, write), summed from report.jsonl.
Needs Ray for the second half (pip install 'sam2[batch]'); --no-ray runs only the first.
"""

import argparse
import json
import os
import sys
import tempfile
import time

import numpy as np
import torch
from PIL import Image

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

from bench_support import golden_checkpoint  # noqa: E402

from sam2.batch import JobOptions, ModelSpec, run_job  # noqa: E402
from sam2.batch.pools import embedded_pool  # noqa: E402

MICRO = "configs/sam2.1/sam2.1_hiera_micro.yaml"
FRAMES = os.path.join(os.path.dirname(REPO), "shared", "data", "frames", "pedestrians_10")
STAGES = ("open", "prompts", "track", "decode_wait", "model", "encode", "write")


def make_clips(folder: str, clips: int, frames: int, fps: int) -> list[str]:
    import av

    names = sorted(os.listdir(FRAMES))
    images = [np.asarray(Image.open(os.path.join(FRAMES, n)).convert("RGB")) for n in names]
    cycle = images + images[-2:0:-1]  # back and forth: no jump
    paths = []
    for c in range(clips):
        path = os.path.join(folder, f"clip{c:03d}.mp4")
        with av.open(path, "w") as out:
            stream = out.add_stream("libx264", rate=fps)
            stream.height, stream.width = images[0].shape[:2]
            stream.pix_fmt = "yuv420p"
            for i in range(frames):
                frame = av.VideoFrame.from_ndarray(cycle[(i + c) % len(cycle)], format="rgb24")
                out.mux(stream.encode(frame))
            out.mux(stream.encode(None))
        paths.append(path)
    return paths


def manifest(path: str, clips: list[str], objects: int) -> str:
    boxes = [[100, 150, 300, 500], [350, 100, 500, 450], [520, 200, 740, 560], [10, 10, 200, 200]]
    with open(path, "w") as f:
        for clip in clips:
            objs = [
                {"id": k + 1, "prompts": [{"frame": 0, "box": boxes[k % len(boxes)]}]} for k in range(objects)
            ]
            f.write(json.dumps({"video": clip, "objects": objs}) + "\n")
    return path


def breakdown(out: str) -> dict:
    totals = dict.fromkeys(STAGES, 0.0)
    frames = 0
    with open(os.path.join(out, "report.jsonl")) as f:
        for line in f:
            entry = json.loads(line)
            frames += entry.get("frames", 0)
            for k in STAGES:
                totals[k] += entry.get("timings", {}).get(k, 0.0)
    return {"frames": frames, **{k: round(v, 2) for k, v in totals.items()}}


def run(label: str, pool_factory, man: str, out: str) -> dict:
    t = time.perf_counter()
    pool = pool_factory()
    ready = time.perf_counter() - t
    t = time.perf_counter()
    summary = run_job(man, out, pool, JobOptions(progress=False))
    wall = time.perf_counter() - t
    parts = breakdown(out)
    row = {"mode": label, "startup_s": round(ready, 2), "job_s": round(wall, 2), "done": summary["done"],
           "clips_per_s": round(summary["done"] / wall, 3), "frames_per_s": round(parts["frames"] / wall, 2),
           "worker_seconds": parts}  # fmt: skip
    row["load_average"] = round(os.getloadavg()[0], 1)  # other work on the machine meanwhile
    print(json.dumps(row), flush=True)
    return row


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clips", type=int, default=20)
    ap.add_argument("--seconds", type=float, default=2.0)
    ap.add_argument("--fps", type=int, default=24)
    ap.add_argument("--objects", type=int, default=3)
    ap.add_argument("--ray-workers", type=int, default=2)
    ap.add_argument(
        "--threads", type=int, help="torch threads of the embedded worker (default: torch's, all cores)"
    )
    ap.add_argument("--embedded-workers", type=int, default=1, help="embedded CPU worker processes")
    ap.add_argument("--no-ray", action="store_true")
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="bench-batch-")
    clips = make_clips(work, args.clips, round(args.seconds * args.fps), args.fps)
    man = manifest(os.path.join(work, "manifest.jsonl"), clips, args.objects)
    ckpt = golden_checkpoint(MICRO, work)
    spec = ModelSpec(config=MICRO, checkpoint=ckpt, device="cpu")
    embedded = ModelSpec(config=MICRO, checkpoint=ckpt, device="cpu", threads=args.threads)
    print(f"{args.clips} clips x {args.seconds:g} s at {args.fps} fps, {args.objects} objects, micro, "
          f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}; work folder {work}", flush=True)  # fmt: skip
    n = args.embedded_workers
    threads = args.threads or (torch.get_num_threads() if n == 1 else max(1, os.cpu_count() // n))
    label = f"embedded ({n} worker{'s' if n > 1 else ''}, {threads} threads each)"
    run(label, lambda: embedded_pool(embedded, cpu_workers=n), man, os.path.join(work, "out-embedded"))
    if not args.no_ray:
        import ray

        os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [REPO, os.environ.get("PYTHONPATH")]))
        t = time.perf_counter()
        ray.init(num_cpus=args.ray_workers, include_dashboard=False, log_to_driver=False)
        print(json.dumps({"ray_init_s": round(time.perf_counter() - t, 2)}), flush=True)
        from sam2.batch.ray_pool import RayPool

        def ray_pool():
            pool = RayPool(spec, workers=args.ray_workers, cpus_per_worker=1)
            ray.get([a.describe.remote() for a in pool.actors])  # models built: startup, not job time
            return pool

        run(f"ray ({args.ray_workers} actors x 1 CPU)", ray_pool, man, os.path.join(work, "out-ray"))
        ray.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
