#!/usr/bin/env python
"""Benchmark the automatic mask generator: seconds per image, ours, the reference, or both.

    python tools/benchmark_amg.py                        # ours: tiny, 1024 px image, 32 points a side, CPU
    python tools/benchmark_amg.py --reference-python /path/to/refvenv/bin/python     # side by side
    python tools/benchmark_amg.py --device cuda --points-per-side 64

Image: a frame of the 1280x720 gallery clip (../shared/data/gallery), resized so its long side
is --size pixels (default 1024), or --image. Weights: the golden fixtures' deterministic weights
(../shared/golden/weights.py) unless --checkpoint is given, so both implementations compute the
same masks. Generator arguments are the official defaults except those given here. Reports the
median of --runs runs after one warm-up, and the number of records (which should agree).

The reference run (official `sam2==1.1.0` in its own virtualenv, see tools/benchmark_video.py)
gets the patches of ../shared/golden/reference_patches.py. Its generator imports torchvision
(image transforms and `batched_nms`); when the reference venv has no torchvision, the
**reference side only** runs on ../shared/golden/amg/tv_standin.py: pure-torch stand-ins with
torchvision's CPU semantics, verified by the golden fixture (its NMS is a Python loop, so the
reference's NMS time may be somewhat higher than with real torchvision; NMS is a small share
of the total).
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

from bench_support import golden_checkpoint  # tools/, on sys.path when run as a script

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
SHARED = os.path.join(os.path.dirname(REPO), "shared")
GOLDEN = os.path.join(SHARED, "golden")
DEFAULT_CLIP = os.path.join(SHARED, "data", "gallery", "bunny_1280x720_25fps.mp4")


def prepare_image(args) -> str:
    """Write the benchmark image as PNG into the workdir (both processes read the same pixels)."""
    from PIL import Image

    path = os.path.join(args.workdir, "image.png")
    if args.image:
        img = Image.open(args.image).convert("RGB")
    else:
        import av

        with av.open(args.video) as container:
            img = next(container.decode(video=0)).to_image().convert("RGB")
    scale = args.size / max(img.size)
    img = img.resize((round(img.width * scale), round(img.height * scale)), Image.BILINEAR)
    img.save(path)
    return path


def use_reference() -> str:
    """Import path set-up for the official package; returns how torchvision is provided."""
    sys.path = [p for p in sys.path if os.path.abspath(p) != REPO]
    sys.path.insert(0, GOLDEN)
    sys.path.insert(0, os.path.join(GOLDEN, "amg"))
    try:
        import torchvision  # noqa: F401

        provider = "torchvision"
    except ImportError:
        import tv_standin  # reference side only: see the module docstring

        tv_standin.install()
        provider = "tv_standin (pure-torch stand-in)"
    import reference_patches

    reference_patches.apply()
    return provider


def run(args) -> dict:
    import numpy as np
    import torch
    from PIL import Image

    result = {"impl": args.impl, "device": args.device}
    if args.impl == "reference":
        result["torchvision"] = use_reference()
    else:
        sys.path.insert(0, REPO)
    if args.threads:
        torch.set_num_threads(args.threads)
    from sam2.automatic_mask_generator import SAM2AutomaticMaskGenerator
    from sam2.build_sam import build_sam2

    ckpt = args.checkpoint or golden_checkpoint(args.config, args.workdir)
    model = build_sam2(args.config, ckpt_path=ckpt, device=args.device)
    image = np.array(Image.open(args.image_path).convert("RGB"))
    params = dict(points_per_side=args.points_per_side, points_per_batch=args.points_per_batch)
    for name in ("pred_iou_thresh", "stability_score_thresh"):
        if getattr(args, name) is not None:
            params[name] = getattr(args, name)
    generator = SAM2AutomaticMaskGenerator(model, **params)
    sync = torch.cuda.synchronize if args.device.startswith("cuda") else (lambda: None)
    autocast = (torch.autocast("cuda", dtype=torch.bfloat16) if args.device.startswith("cuda")
                else torch.autocast("cpu", enabled=False))
    times = []
    with torch.inference_mode(), autocast:
        for _ in range(args.runs + 1):  # the first run warms up
            sync()
            t0 = time.perf_counter()
            records = generator.generate(image)
            sync()
            times.append(time.perf_counter() - t0)
    result.update(seconds_per_image=statistics.median(times[1:]), warmup_s=times[0], records=len(records),
                  image_hw=list(image.shape[:2]), params=params, runs=args.runs)
    return result


def spawn(python: str, args, impl: str) -> dict:
    cmd = [python, os.path.abspath(__file__), "--impl", impl, "--json", "--config", args.config,
           "--device", args.device, "--image-path", args.image_path, "--workdir", args.workdir,
           "--threads", str(args.threads), "--runs", str(args.runs),
           "--points-per-side", str(args.points_per_side), "--points-per-batch", str(args.points_per_batch)]
    for flag, value in (("--checkpoint", args.checkpoint), ("--pred-iou-thresh", args.pred_iou_thresh),
                        ("--stability-score-thresh", args.stability_score_thresh)):
        if value is not None:
            cmd += [flag, str(value)]
    out = subprocess.run(cmd, capture_output=True, text=True, cwd=args.workdir)
    if out.returncode != 0:
        raise SystemExit(f"{impl} run failed:\n{out.stdout[-2000:]}\n{out.stderr[-4000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def show(results) -> None:
    names = [r["impl"] for r in results]
    print(f"{'metric':22s}" + "".join(f"{n:>12s}" for n in names) + ("   ours/ref" if len(results) == 2 else ""))
    for key in ("seconds_per_image", "warmup_s", "records"):
        vals = [r[key] for r in results]
        line = f"{key:22s}" + "".join(f"{v:12.3f}" if isinstance(v, float) else f"{v:12d}" for v in vals)
        if len(results) == 2 and key != "records" and vals[1]:
            line += f"   {vals[0] / vals[1]:8.2f}x"
        print(line)
    r = results[0]
    h, w = r["image_hw"]
    print(f"(image {w}x{h}, {r['params']}, device {r['device']}, median of {r['runs']} runs)")
    for res in results:
        if "torchvision" in res:
            print(f"(reference torchvision: {res['torchvision']})")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", default="configs/sam2.1/sam2.1_hiera_t.yaml")
    ap.add_argument("--checkpoint", help="official checkpoint; default: golden deterministic weights")
    ap.add_argument("--image", help="image file; default: the first frame of --video")
    ap.add_argument("--video", default=DEFAULT_CLIP)
    ap.add_argument("--size", type=int, default=1024, help="long side of the image in pixels")
    ap.add_argument("--image-path", help=argparse.SUPPRESS)  # prepared image (between processes)
    ap.add_argument("--points-per-side", type=int, default=32)
    ap.add_argument("--points-per-batch", type=int, default=64)
    ap.add_argument("--pred-iou-thresh", type=float)
    ap.add_argument("--stability-score-thresh", type=float)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--runs", type=int, default=2)
    ap.add_argument("--impl", choices=["ours", "reference"], default="ours")
    ap.add_argument("--reference-python", help="python of a venv with sam2==1.1.0: run both and compare")
    ap.add_argument("--workdir", help="scratch folder (image, weights)")
    ap.add_argument("--json", action="store_true", help="print one JSON line (used between processes)")
    args = ap.parse_args(argv)
    args.config = os.path.abspath(os.path.join(REPO, "sam2", args.config)) if not os.path.exists(args.config) \
        else os.path.abspath(args.config)
    if args.workdir is None:
        args.workdir = tempfile.mkdtemp(prefix="sam2bench_amg_")
    os.makedirs(args.workdir, exist_ok=True)
    if args.image_path is None:
        args.image_path = prepare_image(args)
    if args.reference_python:
        show([spawn(sys.executable, args, "ours"), spawn(args.reference_python, args, "reference")])
        return
    result = run(args)
    if args.json:
        print(json.dumps(result))
    else:
        show([result])


if __name__ == "__main__":
    main()
