#!/usr/bin/env python
"""Benchmark the image predictor: image-encoder seconds per frame and predict() latency.

    python tools/benchmark_image.py                                  # tiny, 1024 px, CPU
    python tools/benchmark_image.py --config configs/sam2.1/sam2.1_hiera_l.yaml --device cuda

Reports the median of --runs runs (after one warm-up). Weights: --checkpoint, else the
golden fixtures' deterministic weights when ../shared is present, else seeded random
weights (speed does not depend on the values). The model runs at --precision (default auto:
bf16 on a GPU or a CPU with native bf16, else fp32; sam2/precision.py), as the demo does.
"""

import argparse
import os
import statistics
import sys
import time

import numpy as np
import torch

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)
GOLDEN = os.path.join(os.path.dirname(REPO), "shared", "golden")

from sam2.build_sam import build_sam2  # noqa: E402
from sam2.sam2_image_predictor import SAM2ImagePredictor  # noqa: E402


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", default="configs/sam2.1/sam2.1_hiera_t.yaml")
    ap.add_argument("--checkpoint")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--height", type=int, default=720)
    ap.add_argument("--width", type=int, default=1280)
    ap.add_argument("--precision", default="auto", choices=["auto", "fp32", "bf16", "int8"])
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = build_sam2(args.config, ckpt_path=args.checkpoint, device=args.device)
    if args.checkpoint is None and os.path.isdir(GOLDEN):
        sys.path.insert(0, GOLDEN)
        from weights import make_state_dict

        model.load_state_dict(make_state_dict(model.state_dict()))
    # Set after the golden weights are in: int8 packs the linears' weights.
    predictor = SAM2ImagePredictor(model, precision=args.precision)
    image = np.random.default_rng(0).integers(0, 256, (args.height, args.width, 3), dtype=np.uint8)
    cuda = args.device.startswith("cuda")
    sync = torch.cuda.synchronize if cuda else (lambda: None)

    def timed(fn):
        times = []
        for i in range(args.runs + 1):
            sync()
            t0 = time.perf_counter()
            fn()
            sync()
            if i:  # the first run warms up caches and kernels
                times.append(time.perf_counter() - t0)
        return statistics.median(times)

    with torch.inference_mode():
        encoder = timed(lambda: predictor.set_image(image))
        point = np.array([[args.width / 2, args.height / 2]])
        click = timed(lambda: predictor.predict(point_coords=point, point_labels=np.array([1])))
        box = timed(lambda: predictor.predict(box=np.array([100, 100, 600, 500]), multimask_output=False))
    print(f"config {args.config}, image_size {model.image_size}, device {args.device}, "
          f"precision {model.precision}, threads {torch.get_num_threads()}, median of {args.runs}")
    print(f"image encoder (set_image)   {encoder:8.3f} s/frame")
    print(f"predict, one click          {click * 1000:8.1f} ms")
    print(f"predict, box                {box * 1000:8.1f} ms")


if __name__ == "__main__":
    main()
