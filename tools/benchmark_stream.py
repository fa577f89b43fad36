#!/usr/bin/env python
"""Benchmark live tracking: a clip played as a camera at a given frame rate into init_stream.

A capture thread plays the clip (looping) at each offered rate and never waits; the tracker
takes the newest waiting frame (sam2.video.live.NewestFrameSlot: older ones are dropped), so
no queue builds up. For each rate it reports processed fps, the share of frames dropped, and
the delay from capture to mask (p50 / p95), for the first and the last third of the run (the
delay must not grow with time). --flat-frames N then pushes N frames as fast as the tracker
takes them and reports resident memory along the way (it must stay flat).

--server-frames N does the same through the demo: it starts the real server (gunicorn, our
worker, random micro weights on CPU, on a free port), opens a live camera over the WebSocket at
/live, prompts one or two objects, pushes N frames as fast as the server answers them (two in
flight, as the page does) and samples the worker process's resident memory (VmRSS) as it goes.

    python tools/benchmark_stream.py                                  # micro, 5/15/30 fps, 20 s each
    python tools/benchmark_stream.py --model tiny --seconds 30 --size 640x360
    python tools/benchmark_stream.py --rates '' --flat-frames 20000   # memory only
    python tools/benchmark_stream.py --rates '' --server-frames 20000 --size 320x240  # through the server

Weights: --checkpoint if given, else the golden fixtures' deterministic weights (what the
masks look like does not matter for timing). One object, clicked in the frame's centre on
the first frame.
"""

import argparse
import json
import os
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from typing import List, Optional, Tuple

import numpy as np
from bench_support import golden_checkpoint, rss_mb  # tools/, on sys.path when run as a script

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, REPO)  # this checkout's sam2, whatever is installed
DEFAULT_CLIP = os.path.join(os.path.dirname(REPO), "shared", "data", "gallery", "bunny_1280x720_25fps.mp4")
CONFIGS = {
    "micro": "configs/sam2.1/sam2.1_hiera_micro.yaml",
    "tiny": "configs/sam2.1/sam2.1_hiera_t.yaml",
    "small": "configs/sam2.1/sam2.1_hiera_s.yaml",
    "base_plus": "configs/sam2.1/sam2.1_hiera_b+.yaml",
    "large": "configs/sam2.1/sam2.1_hiera_l.yaml",
}


def load_clip(path: str, size: Optional[Tuple[int, int]], limit: int) -> List[np.ndarray]:
    """Up to ``limit`` RGB frames of the clip, resized to ``size`` (W, H) if given."""
    import av

    frames = []
    with av.open(path) as container:
        for frame in container.decode(video=0):
            if size is not None:
                frame = frame.reformat(width=size[0], height=size[1])
            frames.append(frame.to_ndarray(format="rgb24"))
            if len(frames) >= limit:
                break
    return frames


@dataclass
class RateResult:
    offered_fps: float
    seconds: float
    offered: int = 0
    processed: int = 0
    dropped: int = 0
    delays_ms: List[Tuple[float, float]] = field(default_factory=list)  # (capture time, delay)

    def summary(self) -> dict:
        delays = [d for _, d in self.delays_ms]
        third = max(1, len(self.delays_ms) // 3)
        early = [d for _, d in self.delays_ms[:third]]
        late = [d for _, d in self.delays_ms[-third:]]
        return {
            "offered_fps": self.offered_fps,
            "processed_fps": round(self.processed / self.seconds, 2),
            "drop_rate": round(self.dropped / max(1, self.offered), 3),
            "delay_p50_ms": round(_pct(delays, 50), 1),
            "delay_p95_ms": round(_pct(delays, 95), 1),
            "delay_p50_first_third_ms": round(_pct(early, 50), 1),
            "delay_p50_last_third_ms": round(_pct(late, 50), 1),
        }


def _pct(values: List[float], q: float) -> float:
    if not values:
        return float("nan")
    return float(np.percentile(values, q))


def run_rate(predictor, frames: List[np.ndarray], fps: float, seconds: float) -> RateResult:
    """Play ``frames`` at ``fps`` for ``seconds`` into a fresh stream; track the newest frame."""
    from sam2.video.live import NewestFrameSlot

    h, w = frames[0].shape[:2]
    state = predictor.init_stream(frames[0], keep_last_frames=8)
    predictor.add_new_points_or_box(state, 0, 1, points=[[w / 2, h / 2]], labels=[1])
    predictor.track_new_frame(state, frames[1 % len(frames)])  # warm-up: memories encoded
    result = RateResult(fps, seconds)
    slot: NewestFrameSlot = NewestFrameSlot()
    start = time.perf_counter()
    end = start + seconds

    def capture() -> None:
        k = 0
        while True:
            due = start + k / fps
            now = time.perf_counter()
            if due >= end:
                break
            if due > now:
                time.sleep(due - now)
            result.offered += 1
            if slot.put((time.perf_counter(), frames[k % len(frames)])) is not None:
                result.dropped += 1
            k += 1
        if slot.close() is not None:
            result.dropped += 1

    camera = threading.Thread(target=capture, daemon=True)
    camera.start()
    while True:
        item = slot.take()
        if item is None:
            break
        captured, rgb = item
        _, _, masks = predictor.track_new_frame(state, rgb)
        (masks > 0).cpu().numpy()  # the mask as the caller would use it
        done = time.perf_counter()
        result.processed += 1
        result.delays_ms.append((captured - start, (done - captured) * 1000))
    camera.join()
    predictor.close_state(state)
    return result


def run_flat(predictor, frames: List[np.ndarray], count: int, samples: int = 20) -> dict:
    """Push ``count`` frames back to back; resident memory sampled ``samples`` times.

    Growth is measured once the stream's window is full (what it holds stops growing by then,
    after keep_last_frames + reach frames) and allocator warm-up is over: from a tenth of the
    run, or frame 200, whichever is later.
    """
    h, w = frames[0].shape[:2]
    state = predictor.init_stream(frames[0])
    predictor.add_new_points_or_box(state, 0, 1, points=[[w / 2, h / 2]], labels=[1])
    every = max(1, count // samples)
    settled_after = max(200, count // 10)
    rss: List[Tuple[int, float]] = []
    t0 = time.perf_counter()
    for i in range(1, count + 1):
        predictor.track_new_frame(state, frames[i % len(frames)])
        if i % every == 0:
            rss.append((i, round(rss_mb(), 1)))
    seconds = time.perf_counter() - t0
    steady = [mb for i, mb in rss if i >= settled_after] or [mb for _, mb in rss]
    return {
        "frames": count,
        "fps": round(count / seconds, 2),
        "rss_mb_samples": [mb for _, mb in rss],
        "steady_from_frame": settled_after,
        "rss_growth_pct": round(100 * (max(steady) - min(steady)) / min(steady), 2),
        "held_tracked_outputs": state.stream_window.held_outputs(state),
    }


def process_rss_mb(pid: int) -> float:
    """Resident set size of process ``pid`` in MB (Linux /proc)."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


def gunicorn_worker(master: int, timeout: float = 30.0) -> int:
    """The pid of the (one) worker gunicorn's master ``master`` forked."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with open(f"/proc/{master}/task/{master}/children") as f:
            children = [int(p) for p in f.read().split()]
        if children:
            return children[0]
        time.sleep(0.2)
    raise RuntimeError("gunicorn started no worker")


def memory_growth(samples: List[Tuple[int, float]], settled_after: int) -> dict:
    """First sample at or after ``settled_after`` frames against the last one and the largest."""
    steady = [(i, mb) for i, mb in samples if i >= settled_after] or samples
    first, last = steady[0][1], steady[-1][1]
    peak = max(mb for _, mb in steady)
    return {
        "steady_from_frame": steady[0][0],
        "rss_first_mb": first,
        "rss_last_mb": last,
        "rss_max_mb": peak,
        "growth_last_pct": round(100 * (last - first) / first, 2),
        "growth_max_pct": round(100 * (peak - first) / first, 2),
    }


def run_server_flat(
    frames: List[np.ndarray],
    count: int,
    objects: int = 2,
    samples: int = 40,
    env: Optional[dict] = None,
    progress: bool = False,
) -> dict:
    """Push frames through a real demo server's /live until ``count`` are tracked; sample its
    worker's memory every ``count / samples`` tracked frames.

    The client keeps two frames in flight (the next is sent when an answer comes), so the server
    works back to back; a frame that arrives while another waits replaces it (dropped, counted).
    Frames are JPEGs made once. ``env``: extra server settings; ``progress``: print each sample.
    """
    from pathlib import Path

    from demo.testing.live_client import LiveClient, jpeg
    from demo.testing.local_server import LocalServer

    h, w = frames[0].shape[:2]
    data = [jpeg(rgb) for rgb in frames]
    every = max(1, count // samples)
    settled_after = max(200, count // 10)
    settings = {"LIVE_MAX_FPS": "100000", "LIVE_MAX_SECONDS": "86400", **(env or {})}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "gallery").mkdir()
        with LocalServer(root, root / "server.log", **settings) as server:
            worker = gunicorn_worker(server.process.pid)
            rss: List[Tuple[int, float]] = [(0, round(process_rss_mb(worker), 1))]
            camera = LiveClient(server.url)
            camera.start(w, h)
            camera.send_frame(0, data[0])
            camera.receive_until("masks")
            camera.send_json({"type": "addPoints", "frame": 0, "objectId": 1,
                              "points": [[0.5, 0.5]], "labels": [1]})  # fmt: skip
            camera.receive_until("prompted")
            if objects > 1:
                camera.send_json(
                    {"type": "addBox", "frame": 0, "objectId": 2, "box": [0.05, 0.05, 0.45, 0.45]}
                )
                camera.receive_until("prompted")
            answered = dropped = 0
            in_flight = 0
            sent = 0
            t0 = time.perf_counter()
            while answered < count:
                while in_flight < 2:
                    sent += 1
                    camera.send_frame(sent, data[sent % len(data)])
                    in_flight += 1
                message = camera.receive(120)
                if message["type"] == "error":
                    raise RuntimeError(f"the server said {message}")
                if message["type"] != "masks":
                    continue
                assert len(message["objects"]) == objects, message
                answered += 1
                dropped += message["droppedCount"]
                in_flight -= 1 + message["droppedCount"]
                if answered % every == 0:
                    rss.append((answered, round(process_rss_mb(worker), 1)))
                    if progress:
                        print(
                            f"    {answered} tracked ({dropped} dropped), {time.perf_counter() - t0:.0f} s: "
                            f"{rss[-1][1]} MB, load average {os.getloadavg()[0]:.2f}",
                            flush=True,
                        )
            seconds = time.perf_counter() - t0
            camera.send_json({"type": "stop"})
            end = camera.drain(30)[-1]
            camera.close()
    return {
        "frames": count,
        "frame": f"{w}x{h}",
        "objects": objects,
        "answered": answered,
        "sent": sent,
        "dropped": dropped + end.get("droppedCount", 0),
        "fps": round(answered / seconds, 2),
        "seconds": round(seconds, 1),
        "rss_mb_samples": rss,
        **memory_growth(rss, settled_after),
        "load_average": os.getloadavg(),
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", default="micro", choices=sorted(CONFIGS))
    parser.add_argument("--checkpoint", help="default: the golden deterministic weights")
    parser.add_argument("--clip", default=DEFAULT_CLIP)
    parser.add_argument("--size", help="WxH the clip is resized to (default: its own size)")
    parser.add_argument(
        "--rates", default="5,15,30", help="offered frame rates, comma-separated ('' for none)"
    )
    parser.add_argument("--seconds", type=float, default=20.0, help="per rate")
    parser.add_argument("--flat-frames", type=int, default=0, help="frames pushed for the memory check")
    parser.add_argument(
        "--server-frames",
        type=int,
        default=0,
        help="frames pushed through a real demo server's /live for the memory check (micro)",
    )
    parser.add_argument("--objects", type=int, default=2, choices=(1, 2), help="objects (--server-frames)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    parser.add_argument("--json", help="also write the results here")
    args = parser.parse_args()

    import torch

    from sam2.build_sam import build_sam2_video_predictor

    if args.threads:
        torch.set_num_threads(args.threads)
    size = tuple(int(v) for v in args.size.lower().split("x")) if args.size else None
    frames = load_clip(args.clip, size, limit=250)
    config = CONFIGS[args.model]
    rates = [float(r) for r in args.rates.split(",") if r.strip()]
    predictor = None
    if rates or args.flat_frames:  # --server-frames alone needs no model here
        with tempfile.TemporaryDirectory() as tmp:
            ckpt = args.checkpoint or golden_checkpoint(config, tmp)
            predictor = build_sam2_video_predictor(config, ckpt, device=args.device, precision="fp32")
    h, w = frames[0].shape[:2]
    report = {
        "model": args.model,
        "frame": f"{w}x{h}",
        "device": args.device,
        "threads": torch.get_num_threads(),
        "rates": [],
    }
    print(f"{args.model}, {w}x{h}, {args.device}, {torch.get_num_threads()} threads", flush=True)
    for fps in rates:
        summary = run_rate(predictor, frames, fps, args.seconds).summary()
        report["rates"].append(summary)
        print(
            f"  1 object, offered {fps:5.1f} fps: processed {summary['processed_fps']:6.2f} fps, "
            f"dropped {100 * summary['drop_rate']:5.1f}%, delay p50 {summary['delay_p50_ms']:7.1f} ms "
            f"p95 {summary['delay_p95_ms']:7.1f} ms (p50 first third {summary['delay_p50_first_third_ms']:.1f}, "
            f"last third {summary['delay_p50_last_third_ms']:.1f})",
            flush=True,
        )
    if args.flat_frames:
        flat = run_flat(predictor, frames, args.flat_frames)
        report["flat"] = flat
        print(
            f"  {flat['frames']} frames back to back: {flat['fps']} fps, resident memory "
            f"{min(flat['rss_mb_samples'])}..{max(flat['rss_mb_samples'])} MB "
            f"(growth from frame {flat['steady_from_frame']} on: {flat['rss_growth_pct']}%), "
            f"tracked outputs held {flat['held_tracked_outputs']}",
            flush=True,
        )
    if args.server_frames:
        print(
            f"  through the server: {args.server_frames} frames, {args.objects} object(s), "
            f"load average {os.getloadavg()[0]:.2f}",
            flush=True,
        )
        server = run_server_flat(
            frames[:100], args.server_frames, args.objects, env={"SAM2_DEMO_CONFIG": config}, progress=True
        )
        report["server"] = server
        print(
            f"  {server['answered']} answered ({server['dropped']} dropped) at {server['fps']} fps in "
            f"{server['seconds']} s; worker resident memory from frame {server['steady_from_frame']}: "
            f"{server['rss_first_mb']} MB, last {server['rss_last_mb']} MB ({server['growth_last_pct']:+}%), "
            f"max {server['rss_max_mb']} MB ({server['growth_max_pct']:+}%); load average at the end "
            + ", ".join(f"{v:.2f}" for v in server["load_average"]),
            flush=True,
        )
        print(
            "  samples (frame, MB): " + " ".join(f"{i}:{mb}" for i, mb in server["rss_mb_samples"]),
            flush=True,
        )
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
