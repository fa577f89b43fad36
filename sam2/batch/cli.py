"""Command line of the batch job: ``python -m sam2.batch`` or ``sam2-batch``.

    sam2-batch MANIFEST.jsonl --out OUT [--config C] [--checkpoint P] [--png] [--ray [ADDRESS]]

Exit status: 0 when every line is done (now or by an earlier run), 1 when some video failed or
some line is invalid (see OUT/report.jsonl), 2 when the job could not start.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

from sam2.batch.job import JobOptions, run_job
from sam2.batch.worker import ModelSpec

CONFIG_NAMES = {  # short names for the official configs
    "tiny": "configs/sam2.1/sam2.1_hiera_t.yaml",
    "small": "configs/sam2.1/sam2.1_hiera_s.yaml",
    "base_plus": "configs/sam2.1/sam2.1_hiera_b+.yaml",
    "large": "configs/sam2.1/sam2.1_hiera_l.yaml",
    "micro": "configs/sam2.1/sam2.1_hiera_micro.yaml",
}


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="sam2-batch", description="Track objects through many videos listed in "
                                 "a JSON Lines manifest (docs/batch.md).")  # fmt: skip
    ap.add_argument("manifest", help="JSON Lines file: one video and its prompts per line")
    ap.add_argument(
        "--out", required=True, help="output folder (created; a re-run skips the videos it holds)"
    )
    ap.add_argument(
        "--config", default="tiny", help="tiny, small, base_plus, large, or a config name / YAML path"
    )
    ap.add_argument(
        "--checkpoint",
        help="model weights (default: none: seeded random weights, meaningless masks, for trying the pipeline)",
    )
    ap.add_argument("--png", action="store_true", help="also write a 1-bit PNG per object per frame")
    ap.add_argument(
        "--device", default="auto", help="embedded: auto (every GPU, else CPU), cpu, cuda, cuda:1, ..."
    )
    ap.add_argument("--precision", default="fp32", choices=["fp32", "bf16", "int8", "auto"])
    ap.add_argument("--vos-optimized", action="store_true", help="torch.compile the model (GPU, long jobs)")
    ap.add_argument("--offload-video-to-cpu", action="store_true")
    ap.add_argument("--offload-state-to-cpu", action="store_true")
    ap.add_argument("--bounded-memory", action="store_true", help="for very long videos (see init_state)")
    ap.add_argument("--threads", type=int, help="torch threads per worker")
    ap.add_argument("--retries", type=int, default=1, help="further attempts of a failed video (default 1)")
    ap.add_argument("--no-progress", action="store_true", help="no progress bar")
    ray = ap.add_argument_group("Ray (pip install 'sam2[batch]')")
    ray.add_argument(
        "--ray",
        nargs="?",
        const="",
        metavar="ADDRESS",
        help="run on a Ray cluster: its address, 'auto', or nothing for RAY_ADDRESS or a local one",
    )
    ap.add_argument(
        "--workers",
        type=int,
        help="Ray: actors (default: one per GPU, else one per --cpus-per-worker CPUs); "
        "embedded on the CPU: processes sharing the cores (default 1)",
    )
    ray.add_argument("--cpus-per-worker", type=float, default=1)
    ray.add_argument("--gpus-per-worker", type=float, help="default: 1 when the cluster has GPUs, else 0")
    return ap


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if not os.path.isfile(args.manifest):
        print(f"sam2-batch: manifest {args.manifest!r} does not exist", file=sys.stderr)
        return 2
    if args.retries < 0 or (args.workers is not None and args.workers < 1):
        print("sam2-batch: --retries must be >= 0 and --workers >= 1", file=sys.stderr)
        return 2
    spec = ModelSpec(
        config=CONFIG_NAMES.get(args.config, args.config), checkpoint=args.checkpoint, device=args.device,
        precision=args.precision, vos_optimized=args.vos_optimized, offload_video_to_cpu=args.offload_video_to_cpu,
        offload_state_to_cpu=args.offload_state_to_cpu, bounded_memory=args.bounded_memory, threads=args.threads,
    )  # fmt: skip
    try:
        pool = _pool(args, spec)
    except ImportError as e:
        print(f"sam2-batch: --ray needs Ray: pip install 'sam2[batch]' ({e})", file=sys.stderr)
        return 2
    except (OSError, RuntimeError, ValueError) as e:  # a checkpoint that does not load, an absent device
        print(f"sam2-batch: cannot start the workers: {e}", file=sys.stderr)
        return 2
    options = JobOptions(pngs=args.png, retries=args.retries, progress=not args.no_progress)
    try:
        summary = run_job(args.manifest, args.out, pool, options)
    except KeyboardInterrupt:
        print(f"sam2-batch: interrupted; run the same command again to finish ({args.out}/report.jsonl "
              "lists what this run settled)", file=sys.stderr)  # fmt: skip
        return 130
    print(json.dumps(summary), file=sys.stderr)
    return 0 if summary["failed"] == 0 and summary["invalid"] == 0 else 1


def _pool(args, spec: ModelSpec):
    if args.ray is None:
        from sam2.batch.pools import embedded_pool

        return embedded_pool(spec, cpu_workers=args.workers or 1)
    from sam2.batch.ray_pool import RayPool

    return RayPool(spec, address=args.ray or None, workers=args.workers, cpus_per_worker=args.cpus_per_worker,
                   gpus_per_worker=args.gpus_per_worker)  # fmt: skip
