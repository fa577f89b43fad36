"""sam2.batch on one machine without Ray: same masks as one process, resumable, fault tolerant.

Real H.264 clips made at test time, the micro model on the golden weights, no mocks.
"""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

from sam2.batch import JobOptions, ModelSpec, run_job
from sam2.batch.pools import InProcessPool, ProcessPerDevicePool
from sam2.utils.rle import rle_to_mask

from .batch_support import (
    MICRO_CONFIG,
    WORKER_THREADS,
    mixed_lines,
    read_report,
    write_manifest,
    written_annotations,
)

REPO = Path(__file__).resolve().parents[2]
# The CLI in a fresh interpreter where `import ray` fails: embedded mode must not need Ray.
WITHOUT_RAY = (
    "import sys; sys.modules['ray'] = None; from sam2.batch.cli import main; sys.exit(main(sys.argv[1:]))"
)


def cli(*args, wait=True):
    cmd = [sys.executable, "-c", WITHOUT_RAY, *map(str, args), "--threads", str(WORKER_THREADS)]
    env = dict(os.environ, PYTHONPATH=str(REPO))
    if not wait:
        return subprocess.Popen(
            cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
    return subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=600)


def pool(checkpoint) -> InProcessPool:
    return InProcessPool(
        ModelSpec(config=MICRO_CONFIG, checkpoint=checkpoint, device="cpu", threads=WORKER_THREADS)
    )


def test_embedded_without_ray_equals_one_process_per_clip(tmp_path, golden_checkpoint, clip_dir, reference):
    manifest = write_manifest(tmp_path / "manifest.jsonl", mixed_lines(clip_dir))
    out = tmp_path / "out"
    run = cli(manifest, "--out", out, "--config", MICRO_CONFIG, "--checkpoint", golden_checkpoint, "--device",
              "cpu", "--png")  # fmt: skip
    assert run.returncode == 0, run.stderr[-3000:]
    assert "video/s" in run.stderr or "s/video" in run.stderr  # the progress bar
    report = read_report(out)
    assert {e["status"] for e in report.values()} == {"done"} and len(report) == 6
    for line in mixed_lines(clip_dir):
        stem = Path(line["video"]).stem
        video_id = line.get("id", stem)
        got = written_annotations(out / "masks" / f"{video_id}.json")
        assert got == reference[stem], f"{video_id}: masks differ from single-process propagate_in_video"
        entry = report[video_id]
        assert entry["frames"] == len({f for f, _, _ in got}) and entry["objects"] == len(
            {o for _, o, _ in got}
        )
        assert entry["seconds"] > 0 and entry["peak_memory_bytes"] > 0 and entry["attempts"] == 1
        assert set(entry["timings"]) >= {"open", "decode_wait", "model", "encode", "write"}
    # The document is the demo's export format; the PNGs are the same masks.
    doc = json.loads((out / "masks" / "walk.json").read_text())
    assert (doc["video"], doc["width"], doc["height"], doc["num_frames"], doc["fps"]) == (
        str(clip_dir / "walk.mp4"), 192, 108, 5, 10.0)  # fmt: skip
    for ann in doc["annotations"][:4]:
        png = np.asarray(
            Image.open(
                out / "masks" / "walk" / f"object_{ann['object_id']}" / f"{ann['frame_index']:05d}.png"
            )
        )
        assert (png.astype(bool) == rle_to_mask(ann["segmentation"])).all()
        assert ann["area"] == int(png.astype(bool).sum())
    assert json.loads((out / "summary.json").read_text())["done"] == 6


def test_interrupted_job_rerun_completes_only_what_was_missing(tmp_path, golden_checkpoint, clip_dir):
    lines = mixed_lines(clip_dir)[:4]
    manifest = write_manifest(tmp_path / "manifest.jsonl", lines)
    out = tmp_path / "out"
    args = [manifest, "--out", out, "--config", MICRO_CONFIG, "--checkpoint", golden_checkpoint, "--device", "cpu",
            "--no-progress"]  # fmt: skip
    first = cli(*args, wait=False)
    deadline = time.monotonic() + 300
    while not list((out / "masks").glob("*.json")) and time.monotonic() < deadline and first.poll() is None:
        time.sleep(0.05)
    first.send_signal(signal.SIGKILL)  # no chance to tidy up
    first.wait()
    finished = {p.stem: p.stat().st_mtime_ns for p in (out / "masks").glob("*.json")}
    assert 1 <= len(finished) < 4, "the first run should have been stopped part way"
    (out / "masks" / ".tmp-99999-short.json").write_text(
        '{"video": "half-writ'
    )  # what a crash mid-write leaves

    second = cli(*args)
    assert second.returncode == 0, second.stderr[-3000:]
    report = read_report(out)
    assert {k for k, e in report.items() if e["status"] == "skipped"} == set(finished)
    assert {k for k, e in report.items() if e["status"] == "done"} == {
        "walk",
        "backwards",
        "short",
        "middle",
    } - set(finished)
    assert {
        p.stem: p.stat().st_mtime_ns for p in (out / "masks").glob("*.json") if p.stem in finished
    } == finished
    assert not [p for p in (out / "masks").iterdir() if p.name.startswith(".tmp-")]

    third = cli(*args)  # nothing left to do
    assert third.returncode == 0
    assert {e["status"] for e in read_report(out).values()} == {"skipped"}


def test_corrupt_clip_and_bad_lines_are_reported_and_the_rest_finish(tmp_path, golden_checkpoint, clip_dir):
    corrupt = tmp_path / "corrupt.mp4"
    corrupt.write_bytes((clip_dir / "walk.mp4").read_bytes()[:300])  # the header and nothing else
    missing_frame = {"video": str(clip_dir / "short.mp4"), "id": "too-far",
                     "objects": [{"id": 1, "prompts": [{"frame": 40, "points": [[5, 5]], "labels": [1]}]}]}  # fmt: skip
    good = mixed_lines(clip_dir)[2:4]
    manifest = write_manifest(tmp_path / "manifest.jsonl", [
        good[0],
        '{"video": "a.mp4", "objects": [',  # not JSON
        {"video": str(corrupt), "objects": [{"id": 1, "prompts": [{"frame": 0, "box": [1, 1, 9, 9]}]}]},
        {"video": "b.mp4", "objects": [{"id": 1, "prompts": [{"frame": 0, "labels": [1]}]}]},  # no points
        missing_frame,
        good[1],
    ])  # fmt: skip
    outcomes = []
    summary = run_job(str(manifest), str(tmp_path / "out"), pool(golden_checkpoint), JobOptions(progress=False),
                      on_outcome=outcomes.append)  # fmt: skip
    assert (summary["done"], summary["failed"], summary["invalid"]) == (2, 2, 2)
    report = read_report(tmp_path / "out")
    assert report["short"]["status"] == report["middle"]["status"] == "done"
    assert report["line 2"]["status"] == "invalid" and "line 2: not valid JSON" in report["line 2"]["error"]
    assert report["line 4"]["error"] == (
        "line 4: objects[0].prompts[0].points must be a non-empty list of [x, y] pixel coordinates"
    )
    broken = report["corrupt"]
    assert broken["status"] == "failed" and broken["attempts"] == 2  # tried once more, then recorded
    assert "VideoLoadError" in broken["error"] and "corrupt.mp4" in broken["error"]
    # A prompt that does not fit the video cannot succeed on a second try.
    assert report["too-far"]["attempts"] == 1 and "frame 40 is out of range" in report["too-far"]["error"]
    assert sum(o.job.video_id == "corrupt" for o in outcomes) == 2
    assert sorted(p.name for p in (tmp_path / "out" / "masks").iterdir()) == ["middle.json", "short.json"]


def test_a_process_per_device_gives_the_same_masks_and_replaces_a_dead_process(
    tmp_path, golden_checkpoint, clip_dir, reference
):
    """The several-GPU layout, on two CPU 'devices': a process each, videos to whichever is free."""
    spec = ModelSpec(config=MICRO_CONFIG, checkpoint=golden_checkpoint, device="cpu", threads=WORKER_THREADS)
    killed = []

    def kill_the_first_worker(outcome):
        if not killed and outcome.worker:
            os.kill(outcome.worker["pid"], signal.SIGKILL)  # its next video must go to a fresh process
            killed.append(outcome.worker["pid"])

    lines = mixed_lines(clip_dir)
    manifest = write_manifest(tmp_path / "manifest.jsonl", lines)
    summary = run_job(str(manifest), str(tmp_path / "out"), ProcessPerDevicePool([spec, spec]),
                      JobOptions(progress=False), on_outcome=kill_the_first_worker)  # fmt: skip
    assert (summary["done"], summary["workers"]) == (6, 2)
    pids = {e["worker"]["pid"] for e in read_report(tmp_path / "out").values()}
    assert (
        len(pids) >= 3 and os.getpid() not in pids
    )  # two processes, and the one that replaced the killed one
    for line in lines:
        stem = Path(line["video"]).stem
        assert (
            written_annotations(tmp_path / "out" / "masks" / f"{line.get('id', stem)}.json")
            == reference[stem]
        )


def test_the_job_does_not_start_on_a_bad_checkpoint_or_a_missing_manifest(tmp_path, clip_dir):
    manifest = write_manifest(tmp_path / "manifest.jsonl", mixed_lines(clip_dir)[:1])
    bad = tmp_path / "weights.pt"
    bad.write_bytes(b"not a checkpoint")
    run = cli(
        manifest, "--out", tmp_path / "out", "--config", MICRO_CONFIG, "--checkpoint", bad, "--device", "cpu"
    )
    assert run.returncode == 2 and "cannot start the workers" in run.stderr and "Traceback" not in run.stderr
    run = cli(tmp_path / "nowhere.jsonl", "--out", tmp_path / "out")
    assert run.returncode == 2 and "does not exist" in run.stderr


def test_a_video_given_by_url_is_fetched_and_tracked(tmp_path, golden_checkpoint, clip_dir, reference):
    import functools
    import http.server
    import threading

    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(clip_dir))
    handler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        line = mixed_lines(clip_dir)[2]  # short.mp4
        url = f"http://127.0.0.1:{server.server_port}/short.mp4?token=abc"
        manifest = write_manifest(tmp_path / "manifest.jsonl", [{**line, "video": url}])
        summary = run_job(
            str(manifest), str(tmp_path / "out"), pool(golden_checkpoint), JobOptions(progress=False)
        )
    finally:
        server.shutdown()
    assert summary["done"] == 1
    assert written_annotations(tmp_path / "out" / "masks" / "short.json") == reference["short"]
    assert read_report(tmp_path / "out")["short"]["timings"]["fetch"] > 0
