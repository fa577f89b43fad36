#!/usr/bin/env python
"""Benchmark the video predictor: ours, the official reference, or both side by side.

Measures, for one config, N objects and one video (CPU or CUDA):
  init (s), resident memory after init and at the end (MB), first click, a refine click
  on the same frame, propagation s/frame (first pass), a click on an already-tracked frame,
  and propagation s/frame again after it (the re-track pass).

    python tools/benchmark_video.py                       # ours, tiny, 8 frames 1280x720, 1 object
    python tools/benchmark_video.py --objects 3 --frames 8
    python tools/benchmark_video.py --reference-python /path/to/refvenv/bin/python   # side by side
    python tools/benchmark_video.py --baseline-tree ../old-checkout   # against an older commit of ours
    python tools/benchmark_video.py --precisions fp32,bf16,int8       # each precision of ours, and its
                                                                     # masks' agreement with our fp32
    python tools/benchmark_video.py --runtime onnxruntime --precision fp32 --objects 1,3 --threads 2
                      # our tracker on onnxruntime (fp32 and int8 graphs, --onnx-precisions) beside
                      # our torch tracker; add --reference-python for the reference too

Ours runs at --precision (default auto: bf16 where the CPU has native bf16, else fp32; see
sam2/precision.py). --reference-autocast also runs the reference under
torch.autocast(<device>, bfloat16). Whenever several runs are made, each one's first-pass masks
are compared with our fp32 run's (made for the purpose if not asked for): pixel agreement and
per-object IoU, mean and worst frame. --first-pass-only skips the clicks and the re-track pass
(for quality runs over a whole clip).

The reference run uses the official package (`sam2==1.1.0` from PyPI) in its own virtualenv:

    python -m venv refvenv
    refvenv/bin/pip install torch==2.13.0 numpy pillow hydra-core iopath tqdm scipy
    SAM2_BUILD_CUDA=0 refvenv/bin/pip install --no-deps --no-build-isolation sam2==1.1.0

On CPU the reference needs the patches of ../shared/golden/reference_patches.py (memories
read back from bfloat16 in float32, a CPU connected-components for hole filling, config
file paths); this script applies them when it runs the reference. Weights: the golden
fixtures' deterministic weights (../shared/golden/weights.py) unless --checkpoint is given,
so both implementations compute the same thing. Frames: the first --frames frames of the
1280x720 gallery clip (../shared/data/gallery), written as JPEGs, unless --video is given.

With --runtime onnxruntime the weights are exported once (python -m sam2.export onnx, plus
the int8/fp16 variants) into the scratch folder; the onnxruntime runs import no torch, so
their resident memory is what a torch-free install uses. Their masks are compared with our
torch fp32 run's, and the variants' also with the onnxruntime fp32 run's.
"""

import argparse
import json
import os
import resource
import shlex
import statistics
import subprocess
import sys
import tempfile
import time

from bench_support import golden_checkpoint, rss_mb  # tools/, on sys.path when run as a script

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
SHARED = os.path.join(os.path.dirname(REPO), "shared")
DEFAULT_CLIP = os.path.join(SHARED, "data", "gallery", "bunny_1280x720_25fps.mp4")



def extract_frames(clip: str, count: int, out_dir: str) -> str:
    import av

    with av.open(clip) as container:
        for i, frame in enumerate(container.decode(video=0)):
            if i >= count:
                break
            frame.to_image().save(os.path.join(out_dir, f"{i:05d}.jpg"), quality=95)
    return out_dir


def click_points(width: int, height: int, n_objects: int):
    """Object k: a positive click on a horizontal line through the middle of the frame."""
    return [[(k + 1) * width / (n_objects + 1), height / 2] for k in range(n_objects)]


def _stub_torchvision_if_missing() -> None:
    """The reference imports torchvision for its image transforms only; the video path never
    uses them. torchvision wheels need a matching torch build, so without one a stand-in
    module lets the reference import (any use of it would fail loudly)."""
    try:
        import torchvision.transforms  # noqa: F401
    except ImportError:
        import types

        def unavailable(*args, **kwargs):
            raise RuntimeError("torchvision is not installed in the reference venv")

        tv = types.ModuleType("torchvision")
        tr = types.ModuleType("torchvision.transforms")
        tr.Normalize = tr.Resize = tr.ToTensor = unavailable
        tv.transforms = tr
        sys.modules.update({"torchvision": tv, "torchvision.transforms": tr})


def run(args) -> dict:
    if args.impl == "onnx":
        return run_onnx(args)
    import torch

    if args.impl == "reference":
        sys.path = [p for p in sys.path if os.path.abspath(p) != REPO]
        sys.path.insert(0, os.path.join(SHARED, "golden"))
        _stub_torchvision_if_missing()
        import reference_patches
        import sam2.utils.misc as reference_misc

        native_components = reference_misc.get_connected_components
        reference_patches.apply()
        if args.device.startswith("cuda"):
            # The patches' CPU labelling is for CPU runs; on CUDA the reference uses its own
            # kernel (sam2._C, when built), as its users do.
            reference_misc.get_connected_components = native_components
    else:
        sys.path.insert(0, args.repo or REPO)
    if args.threads:
        torch.set_num_threads(args.threads)

    from sam2.build_sam import build_sam2_video_predictor

    ckpt = args.checkpoint or golden_checkpoint(args.config, args.workdir)
    extra = {"vos_optimized": True} if args.vos_optimized else {}
    if args.impl == "ours":
        # Ours runs its model calls in the precision it is built with (bf16 autocast inside).
        extra["precision"] = args.precision
        if args.host_caches:
            extra["hydra_overrides_extra"] = ["++model.feature_cache_on_host=true"]
    predictor = build_sam2_video_predictor(args.config, ckpt_path=ckpt, device=args.device, **extra)
    sync = torch.cuda.synchronize if args.device.startswith("cuda") else (lambda: None)
    # The reference has no precision setting: its users wrap it in autocast (its demo does on CUDA).
    bf16 = args.impl == "reference" and (args.device.startswith("cuda") or args.reference_autocast)
    autocast = torch.autocast(args.device.split(":")[0], dtype=torch.bfloat16, enabled=bf16)
    precision = getattr(predictor, "precision", "bf16" if bf16 else "fp32")
    result = {"impl": args.label or args.impl, "config": args.config, "objects": args.objects, "device": args.device,
              "vos_optimized": args.vos_optimized, "precision": precision}
    if args.device.startswith("cuda"):
        result["gpu"] = torch.cuda.get_device_name()
        if args.impl == "reference":  # without its kernel the reference skips hole filling
            import importlib.util

            result["reference_kernel"] = importlib.util.find_spec("sam2._C") is not None

    with torch.inference_mode(), autocast:
        return measure(args, predictor, result, sync, torch.Tensor)


def run_onnx(args) -> dict:
    """Our tracker on onnxruntime, from the export folder the parent process made (no torch here)."""
    sys.path.insert(0, args.repo or REPO)
    from sam2.onnx import build_sam2_video_predictor_onnx

    predictor = build_sam2_video_predictor_onnx(args.onnx_dir, threads=args.threads)
    precision = predictor.model.manifest.precision
    result = {"impl": args.label or f"onnxruntime {precision}", "config": args.config, "objects": args.objects,
              "device": args.device, "vos_optimized": False, "precision": precision,
              "providers": predictor.model.providers}
    return measure(args, predictor, result, lambda: None, None)


def measure(args, predictor, result: dict, sync, tensor_type) -> dict:
    """The timed session: init, clicks, first pass, a click on a tracked frame, re-track pass."""
    import numpy as np

    def timed(fn):
        sync()
        t0 = time.perf_counter()
        out = fn()
        sync()
        return out, time.perf_counter() - t0

    if args.warmup:
        # Untimed full run first: kernels autotuned, graphs compiled, caches of the allocator warm.
        t0 = time.perf_counter()
        state = predictor.init_state(args.video_dir)
        for k, (x, y) in enumerate(click_points(state["video_width"], state["video_height"], args.objects)):
            predictor.add_new_points_or_box(state, 0, k + 1, points=[[x, y]], labels=[1])
        for _ in predictor.propagate_in_video(state):
            pass
        sync()
        result["warmup_s"] = time.perf_counter() - t0
        if hasattr(predictor, "close_state"):  # ours; the reference has no such call
            predictor.close_state(state)
        del state
        if args.device.startswith("cuda"):
            import torch

            torch.cuda.reset_peak_memory_stats()
    base_rss = rss_mb()
    state, result["init_s"] = timed(lambda: predictor.init_state(args.video_dir))
    result["rss_after_init_mb"] = round(rss_mb(), 1)
    result["rss_init_growth_mb"] = round(result["rss_after_init_mb"] - base_rss, 1)
    n = state["num_frames"]
    w, h = state["video_width"], state["video_height"]
    points = click_points(w, h, args.objects)
    clicks = []
    for k, (x, y) in enumerate(points):
        _, t = timed(lambda k=k, x=x, y=y: predictor.add_new_points_or_box(
            state, 0, k + 1, points=[[x, y]], labels=[1]))
        clicks.append(t)
    result["first_click_s"] = clicks[0]
    _, result["refine_click_s"] = timed(lambda: predictor.add_new_points_or_box(
        state, 0, 1, points=[[points[0][0] + 5, points[0][1] + 5]], labels=[0], clear_old_points=False))

    def propagate(keep=None):
        times, t0 = [], time.perf_counter()
        cpu0 = time.thread_time()
        for _, _, masks in predictor.propagate_in_video(state):
            sync()
            times.append(time.perf_counter() - t0)
            if keep is not None:  # copied now (ours reuses its output tensor), outside the timing
                binary = masks[:, 0] > 0
                binary = binary.cpu().numpy() if hasattr(binary, "cpu") else binary
                keep.append(np.packbits(binary, axis=-1))
            t0 = time.perf_counter()
        # CPU time of the tracking thread itself (with --threads 1 it includes the model's
        # compute): what work sits on the tracker's path, little affected by a busy machine.
        main_cpu.append(time.thread_time() - cpu0)
        return times

    main_cpu = []
    # Wall time the tracker spends getting frames (waiting, decoding, normalising), whatever
    # the implementation calls its frame getter: comparable between ours and the reference.
    frame_seconds = [0.0]
    images = state["images"]
    frames_type = type(images) if tensor_type is None or not isinstance(images, tensor_type) else None
    for name in ("model_input", "__getitem__"):
        getter = getattr(frames_type, name, None) if frames_type is not None else None
        if getter is None:
            continue

        def timed_getter(self, *a, _getter=getter, **kw):
            t0 = time.perf_counter()
            try:
                return _getter(self, *a, **kw)
            finally:
                frame_seconds[0] += time.perf_counter() - t0

        setattr(frames_type, name, timed_getter)
        break
    frames = getattr(state, "frames", None)  # ours: counts the time spent waiting for frames
    waited = getattr(frames, "wait_seconds", None)
    kept = [] if args.save_masks else None
    first = propagate(kept)
    if args.save_masks:
        np.savez_compressed(args.save_masks, width=w, masks=np.stack(kept))
    # frame 0 holds the prompts and costs nothing to "track": report the tracked frames
    result["first_pass_s_per_frame"] = statistics.mean(first[1:]) if len(first) > 1 else float("nan")
    result["first_pass_frames_per_s"] = 1.0 / result["first_pass_s_per_frame"]
    result["first_pass_tracker_cpu_s_per_frame"] = main_cpu[0] / max(1, len(first) - 1)
    result["first_pass_frame_time_share"] = frame_seconds[0] / sum(first) if first else None
    # Share of the first pass the tracker spent blocked on frames not prepared in time.
    result["first_pass_frame_wait_share"] = (
        (frames.wait_seconds - waited) / sum(first) if waited is not None and first else None)
    if args.first_pass_only:
        result["frames"] = n
        result["rss_end_mb"] = round(rss_mb(), 1)
        result["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
        return result
    mid = n // 2
    _, result["click_on_tracked_frame_s"] = timed(lambda: predictor.add_new_points_or_box(
        state, mid, 1, points=[points[0]], labels=[1], clear_old_points=False))
    second = propagate()
    result["retrack_pass_s_per_frame"] = statistics.mean(second[1:]) if len(second) > 1 else float("nan")
    result["rss_end_mb"] = round(rss_mb(), 1)
    result["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    if args.device.startswith("cuda"):
        import torch

        result["peak_gpu_mb"] = round(torch.cuda.max_memory_allocated() / 2**20, 1)
    result["frames"] = n
    return result


def spawn(python: str, args, impl: str, repo: str = None, label: str = None, precision: str = None,
          reference_autocast: bool = False, masks: str = None, onnx_dir: str = None) -> dict:
    cmd = [python, os.path.abspath(__file__), "--impl", impl, "--json", "--config", args.config,
           "--objects", str(args.objects), "--device", args.device, "--video-dir", args.video_dir,
           "--workdir", args.workdir, "--threads", str(args.threads), "--precision", precision or args.precision]
    if reference_autocast:
        cmd.append("--reference-autocast")
    if onnx_dir:
        cmd += ["--onnx-dir", onnx_dir]
    if masks:
        cmd += ["--save-masks", masks]
    if args.first_pass_only:
        cmd.append("--first-pass-only")
    if label:
        cmd += ["--label", label]
    if args.vos_optimized:
        cmd.append("--vos-optimized")
    if args.host_caches:
        cmd.append("--host-caches")
    if args.warmup:
        cmd.append("--warmup")
    if args.checkpoint:
        cmd += ["--checkpoint", args.checkpoint]
    if repo:
        cmd += ["--repo", repo] + ([] if label else ["--label", "baseline"])
    print("running:", shlex.join(cmd[1:]), file=sys.stderr, flush=True)
    out = subprocess.run(cmd, capture_output=True, text=True, cwd=args.workdir)
    if out.returncode != 0:
        raise SystemExit(f"{impl} run failed:\n{out.stdout[-2000:]}\n{out.stderr[-4000:]}")
    result = json.loads(out.stdout.strip().splitlines()[-1])
    if masks:
        result["masks_file"] = masks
    return result


def read_masks(path: str):
    """The first-pass masks a run saved: per frame (num_objects, H, W) bool."""
    import numpy as np

    with np.load(path) as data:
        width = int(data["width"])
        return [np.unpackbits(m, axis=-1, count=width).astype(bool) for m in data["masks"]]


def add_agreement(results, baseline) -> None:
    """Each run's first-pass masks against ``baseline``'s (our fp32): result["agreement"]."""
    sys.path.insert(0, REPO)
    from sam2.utils.mask_agreement import mask_agreement

    reference = read_masks(baseline["masks_file"])
    for r in results:
        if "masks_file" in r:
            r["agreement"] = mask_agreement(reference, read_masks(r["masks_file"])).as_dict()


def show_agreement(results, baseline_name: str) -> None:
    rows = [r for r in results if "agreement" in r]
    if not rows:
        return
    print(f"\nfirst-pass masks against {baseline_name} ({rows[0]['agreement']['frames']} frames, "
          f"{rows[0]['objects']} object(s)):")
    print(f"{'run':22s}{'pixels mean':>12s}{'pixels min':>12s}{'IoU mean':>10s}{'IoU min':>10s}")
    for r in rows:
        a = r["agreement"]
        print(f"{r['impl']:22s}{100 * a['pixel_agreement_mean']:11.3f}%{100 * a['pixel_agreement_min']:11.3f}%"
              f"{a['iou_mean']:10.4f}{a['iou_min']:10.4f}")


def show(results) -> None:
    rows = ["warmup_s", "init_s", "rss_after_init_mb", "rss_end_mb", "peak_rss_mb", "peak_gpu_mb", "first_click_s", "refine_click_s",
            "first_pass_s_per_frame", "first_pass_frames_per_s", "first_pass_tracker_cpu_s_per_frame",
            "click_on_tracked_frame_s", "retrack_pass_s_per_frame"]
    rows = [k for k in rows if all(k in r for r in results)]
    names = [r["impl"] for r in results]
    ratios = [f"{'/' + n:>16s}" for n in names[1:]]  # first column's value / this one's
    print(f"{'metric':28s}" + "".join(f"{n:>16s}" for n in names) + "".join(ratios))
    for key in rows:
        vals = [r[key] for r in results]
        line = f"{key:28s}" + "".join(f"{v:16.3f}" for v in vals)
        for v in vals[1:]:
            line += f"{vals[0] / v:15.2f}x" if v else f"{'-':>16s}"
        print(line)
    for r in results:
        share = r.get("first_pass_frame_wait_share")
        if share is not None:
            print(f"{r['impl']}: the tracker waited for frames {100 * share:.1f}% of the first pass")
        share = r.get("first_pass_frame_time_share")
        if share is not None:
            print(f"{r['impl']}: getting frames (wait, decode, normalise) took {100 * share:.1f}% of the first pass")
    for r in results:
        if "reference_kernel" in r:
            built = "built" if r["reference_kernel"] else "NOT built: it skips hole filling"
            print(f"{r['impl']}: CUDA connected-components kernel (sam2._C) {built}")
    r = results[0]
    compiled = ", vos_optimized" if r.get("vos_optimized") else ""
    print(f"({r['config']}, {r['objects']} object(s), {r['frames']} frames, device {r.get('gpu', r['device'])}{compiled})")


def prepare_onnx(args) -> dict:
    """Export the benchmark's weights once per scratch folder: {precision: export folder}."""
    sys.path.insert(0, REPO)
    from sam2.onnx.export import export_onnx
    from sam2.onnx.variants import make_variant

    folders = {}
    fp32 = os.path.join(args.workdir, "onnx_fp32")
    if not os.path.exists(os.path.join(fp32, "manifest.json")):
        t0 = time.perf_counter()
        export_onnx(args.config, args.checkpoint or golden_checkpoint(args.config, args.workdir), fp32)
        print(f"exported the ONNX graphs in {time.perf_counter() - t0:.1f} s", flush=True)
    folders["fp32"] = fp32
    for precision in args.onnx_precisions.split(","):
        if precision and precision != "fp32":
            folder = os.path.join(args.workdir, f"onnx_{precision}")
            if not os.path.exists(os.path.join(folder, "manifest.json")):
                t0 = time.perf_counter()
                make_variant(fp32, folder, precision)
                print(f"made the {precision} variant in {time.perf_counter() - t0:.1f} s", flush=True)
            folders[precision] = folder
    return folders


def compare(args, extra) -> list:
    """Every run asked for, side by side, for args.objects objects; first-pass masks against our fp32."""
    def masks(i):
        return os.path.join(args.workdir, f"masks_{args.objects}obj_{i}.npz")

    results = [spawn(sys.executable, args, "ours", label=f"ours {args.precision}", masks=masks(0))]
    onnx_runs = []
    if args.runtime == "onnxruntime":
        for precision, folder in prepare_onnx(args).items():
            onnx_runs.append(spawn(sys.executable, args, "onnx", label=f"onnxruntime {precision}",
                                   masks=masks(len(results)), onnx_dir=folder))
            results.append(onnx_runs[-1])
    for p in extra:
        results.append(spawn(sys.executable, args, "ours", precision=p, label=f"ours {p}", masks=masks(len(results))))
    if args.baseline_tree:
        results.append(spawn(sys.executable, args, "ours", repo=os.path.abspath(args.baseline_tree)))
    if args.reference_python:
        results.append(spawn(args.reference_python, args, "reference", masks=masks(len(results))))
        if args.reference_autocast:
            results.append(spawn(args.reference_python, args, "reference", label="reference bf16",
                                 reference_autocast=True, masks=masks(len(results))))
    for r in results:  # name the precision "auto" resolved to
        if r["impl"] == "ours auto":
            r["impl"] = f"ours auto={r['precision']}"
    fp32 = next((r for r in results if r["impl"].startswith("ours") and r["precision"] == "fp32"
                 and "masks_file" in r), None)
    if fp32 is None:  # the masks to compare with
        fp32 = spawn(sys.executable, args, "ours", precision="fp32", label="ours fp32", masks=masks(len(results)))
        results.append(fp32)
    add_agreement(results, fp32)
    show(results)
    show_agreement(results, "our fp32")
    if len(onnx_runs) > 1:  # the variants against the onnxruntime fp32 graphs
        variants = [dict(r) for r in onnx_runs[1:]]
        add_agreement(variants, onnx_runs[0])
        show_agreement(variants, "onnxruntime fp32")
        for r, v in zip(onnx_runs[1:], variants):
            r["agreement_vs_onnx_fp32"] = v["agreement"]
    return results


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", default="configs/sam2.1/sam2.1_hiera_t.yaml")
    ap.add_argument("--checkpoint", help="official checkpoint; default: golden deterministic weights")
    ap.add_argument("--video", default=DEFAULT_CLIP, help="video file to take frames from")
    ap.add_argument("--video-dir", help="JPEG frame folder to use as is")
    ap.add_argument("--frames", type=int, default=8)
    ap.add_argument("--objects", default="1", help="objects to click; a list (1,3) runs each count in turn")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--vos-optimized", action="store_true", help="compiled predictor (both implementations)")
    ap.add_argument("--host-caches", action="store_true",
                    help="ours: feature_cache_on_host=True (caches in host memory; the reference has none)")
    ap.add_argument("--warmup", action="store_true", help="one untimed full run first (default on CUDA)")
    ap.add_argument("--precision", default="auto", choices=["auto", "fp32", "bf16", "int8"],
                    help="ours: the model's compute precision (default auto)")
    ap.add_argument("--precisions", default="",
                    help="comma-separated further precisions of ours to run (timing, and masks against our fp32)")
    ap.add_argument("--reference-autocast", action="store_true",
                    help="with --reference-python: also run the reference under bf16 autocast")
    ap.add_argument("--first-pass-only", action="store_true", help="skip the clicks and the re-track pass")
    ap.add_argument("--save-masks", help=argparse.SUPPRESS)  # .npz of the first pass's binary masks
    ap.add_argument("--out", help="write every run's results (JSON) here")
    ap.add_argument("--runtime", choices=["torch", "onnxruntime"], default="torch",
                    help="onnxruntime: also run our tracker on exported ONNX graphs, beside our torch tracker")
    ap.add_argument("--onnx-precisions", default="fp32,int8",
                    help="with --runtime onnxruntime: the graph variants to run (fp32, int8, fp16)")
    ap.add_argument("--onnx-dir", help=argparse.SUPPRESS)  # the export folder a spawned onnx run reads
    ap.add_argument("--impl", choices=["ours", "reference", "onnx"], default="ours")
    ap.add_argument("--reference-python", help="python of a venv with sam2==1.1.0: run both and compare")
    ap.add_argument("--baseline-tree", help="a checkout of another commit of this project: run it too and compare")
    ap.add_argument("--repo", help=argparse.SUPPRESS)  # which checkout a spawned run imports
    ap.add_argument("--label", help=argparse.SUPPRESS)  # its name in the table
    ap.add_argument("--workdir", help="scratch folder (frames, weights)")
    ap.add_argument("--json", action="store_true", help="print one JSON line (used between processes)")
    args = ap.parse_args(argv)
    args.warmup = args.warmup or args.device.startswith("cuda") or args.vos_optimized
    args.config = os.path.abspath(os.path.join(REPO, "sam2", args.config)) if not os.path.exists(args.config) \
        else os.path.abspath(args.config)
    if args.workdir is None:
        args.workdir = tempfile.mkdtemp(prefix="sam2bench_")
    os.makedirs(args.workdir, exist_ok=True)
    if args.video_dir is None:
        args.video_dir = extract_frames(args.video, args.frames, tempfile.mkdtemp(dir=args.workdir))
    counts = [int(n) for n in str(args.objects).split(",")]
    extra = [p for p in args.precisions.split(",") if p and p != args.precision]
    if args.reference_python or args.baseline_tree or extra or len(counts) > 1 or args.runtime == "onnxruntime":
        every = []
        print("load average (1, 5, 15 min) at the start: %.2f %.2f %.2f" % os.getloadavg(), flush=True)
        for count in counts:
            args.objects = count
            every += compare(args, extra)
            print("load average (1, 5, 15 min) now: %.2f %.2f %.2f\n" % os.getloadavg(), flush=True)
        if args.out:
            with open(args.out, "w") as f:
                json.dump(every, f, indent=1)
        return
    args.objects = counts[0]
    result = run(args)
    if args.json:
        print(json.dumps(result))
    else:
        show([result])


if __name__ == "__main__":
    main()
