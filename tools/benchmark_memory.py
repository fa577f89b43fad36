#!/usr/bin/env python
"""Resident memory of the video predictor on a long video.

Makes (once, cached in --workdir) a synthetic 10-minute 1280x720 25 fps H.264 clip, then
opens it with the video predictor, clicks an object and tracks --track frames, printing
resident memory (RSS) after each stage and the growth per tracked frame, with and without
``bounded_memory``.

    python tools/benchmark_memory.py                     # tiny config, 10 min, track 30 frames
    python tools/benchmark_memory.py --config configs/sam2.1/sam2.1_hiera_micro.yaml --track 200

The official predictor decodes the whole video into float32 tensors at model resolution
when it opens it (12 MB per frame at 1024 px: about 180 GB for this clip), so it is not run.
"""

import argparse
import os
import sys
import tempfile
import time

import numpy as np
from bench_support import rss_mb  # tools/, on sys.path when run as a script

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)



def make_long_clip(path: str, seconds: int, fps: int = 25, width: int = 1280, height: int = 720) -> None:
    """A textured background with a disc moving across it, encoded quickly."""
    import av

    rng = np.random.default_rng(0)
    background = (rng.integers(60, 200, (height // 8, width // 8, 3), dtype=np.uint8)
                  .repeat(8, axis=0).repeat(8, axis=1))
    yy, xx = np.mgrid[0:height, 0:width]
    tmp = path + ".part"
    with av.open(tmp, "w", format="mp4") as out:
        stream = out.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {"preset": "ultrafast", "crf": "30"}
        for i in range(seconds * fps):
            t = i / (seconds * fps)
            cx, cy = int(100 + t * (width - 200)), int(height / 2 + 150 * np.sin(i / 20))
            frame = background.copy()
            disc = (yy - cy) ** 2 + (xx - cx) ** 2 < 60**2
            frame[disc] = (230, 60, 40)
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    os.replace(tmp, path)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", default="configs/sam2.1/sam2.1_hiera_t.yaml")
    ap.add_argument("--minutes", type=float, default=10)
    ap.add_argument("--track", type=int, default=40, help="frames to track")
    ap.add_argument("--feature-cache-mb", type=int, default=256,
                    help="image-feature cache of the state (a bounded constant; small here so the "
                         "per-frame growth shows what tracking itself stores)")
    ap.add_argument("--bounded", action="store_true", help="init_state(bounded_memory=True)")
    ap.add_argument("--objects", type=int, default=1, help="objects clicked on the first frame")
    ap.add_argument("--device", default="cpu", help="cpu or cuda (on cuda, device memory is reported too)")
    ap.add_argument("--workdir", default=os.path.join(tempfile.gettempdir(), "sam2_memory_bench"))
    args = ap.parse_args(argv)
    os.makedirs(args.workdir, exist_ok=True)
    clip = os.path.join(args.workdir, f"long_{args.minutes:g}min_1280x720.mp4")
    if not os.path.exists(clip):
        t0 = time.time()
        make_long_clip(clip, int(args.minutes * 60))
        print(f"made {clip} in {time.time() - t0:.0f} s ({os.path.getsize(clip) / 1e6:.0f} MB)")

    import torch

    from sam2.build_sam import build_sam2_video_predictor

    torch.manual_seed(0)
    start = rss_mb()
    predictor = build_sam2_video_predictor(
        args.config, device=args.device,
        hydra_overrides_extra=[f"++model.feature_cache_bytes={args.feature_cache_mb * 1024 * 1024}",
                               "++model.frame_cache_frames=8"],
    )
    after_model = rss_mb()
    with torch.inference_mode():
        t0 = time.time()
        state = predictor.init_state(clip, bounded_memory=args.bounded)
        opened = time.time() - t0
        after_open = rss_mb()
        w, h = state["video_width"], state["video_height"]
        for k in range(args.objects):
            predictor.add_new_points_or_box(state, 0, k + 1, points=[[100 + 40 * k, h / 2]], labels=[1])
        after_click = rss_mb()
        # After this many frames every bounded cache is full; growth from then on is what
        # tracking stores per frame.
        steady = predictor.conditioned_cache_entries + 10
        marks = {}
        gpu_marks = {}
        on_cuda = args.device.startswith("cuda")
        for i, _ in enumerate(predictor.propagate_in_video(state, max_frame_num_to_track=args.track)):
            if i in (20, steady, args.track):
                marks[i] = rss_mb()
            if on_cuda and (i % 100 == 0 or i == args.track):
                gpu_marks[i] = torch.cuda.memory_allocated() / 2**20
    print(f"config {args.config}, {state['num_frames']} frames {w}x{h}, bounded_memory={args.bounded}, "
          f"feature cache {args.feature_cache_mb} MB")
    print(f"python + torch          {start:8.0f} MB")
    print(f"model built             {after_model:8.0f} MB")
    print(f"video opened            {after_open:8.0f} MB   (open took {opened:.1f} s)")
    print(f"after first click       {after_click:8.0f} MB")
    if 20 in marks and args.track in marks and args.track > 20:
        per_frame = (marks[args.track] - marks[20]) / (args.track - 20)
        print(f"after tracking {args.track:4d} fr  {marks[args.track]:8.0f} MB   "
              f"(+{per_frame:.2f} MB per tracked frame from frame 20 on: outputs plus the "
              f"conditioned-feature cache, which fills up to {predictor.conditioned_cache_entries} entries)")
    if gpu_marks:
        print("device memory allocated (MB) by tracked frame: "
              + ", ".join(f"{i}: {mb:.0f}" for i, mb in sorted(gpu_marks.items())))
        after = {i: mb for i, mb in gpu_marks.items() if i >= 200}
        if len(after) > 1:
            print(f"growth after frame 200: {max(after.values()) - min(after.values()):.1f} MB")
    if steady in marks and args.track in marks and args.track > steady:
        per_frame = (marks[args.track] - marks[steady]) / (args.track - steady)
        print(f"steady state (frames {steady}-{args.track}, caches full): {per_frame:.3f} MB per tracked frame, "
              f"{per_frame / args.objects:.3f} MB per tracked frame per object ({args.objects} objects)")


if __name__ == "__main__":
    main()
