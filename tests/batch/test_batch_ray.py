"""sam2.batch on a local Ray cluster (2 CPUs, 2 actors): same masks as one process per clip, and a
worker killed mid-run does not lose a video. Skipped when Ray is not installed."""

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from sam2.batch import JobOptions, ModelSpec, run_job

from .batch_support import MICRO_CONFIG, mixed_lines, read_report, write_manifest, written_annotations

ray = pytest.importorskip("ray")

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def local_cluster():
    # Ray's workers are new processes: they must import this checkout's sam2.
    before = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), before]))
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()
    if before is None:
        os.environ.pop("PYTHONPATH")
    else:
        os.environ["PYTHONPATH"] = before


def ray_pool(checkpoint):
    from sam2.batch.ray_pool import RayPool

    return RayPool(ModelSpec(config=MICRO_CONFIG, checkpoint=checkpoint), workers=2, cpus_per_worker=1)


def test_ray_outputs_equal_one_process_per_clip(
    local_cluster, tmp_path, golden_checkpoint, clip_dir, reference
):
    manifest = write_manifest(tmp_path / "manifest.jsonl", mixed_lines(clip_dir))
    summary = run_job(
        str(manifest), str(tmp_path / "out"), ray_pool(golden_checkpoint), JobOptions(progress=False)
    )
    assert (summary["done"], summary["workers"]) == (6, 2)
    report = read_report(tmp_path / "out")
    assert len({e["worker"]["pid"] for e in report.values()}) == 2  # both actors took videos
    for line in mixed_lines(clip_dir):
        stem = Path(line["video"]).stem
        got = written_annotations(tmp_path / "out" / "masks" / f"{line.get('id', stem)}.json")
        assert got == reference[stem], f"{stem}: masks differ from single-process propagate_in_video"


def test_ray_worker_killed_mid_run_still_finishes_every_video(local_cluster, tmp_path, golden_checkpoint, clip_dir,
                                                              reference):  # fmt: skip
    manifest = write_manifest(tmp_path / "manifest.jsonl", mixed_lines(clip_dir))
    pool = ray_pool(golden_checkpoint)
    pids = {actor: ray.get(actor.describe.remote())["pid"] for actor in pool.actors}  # models built
    killed = []

    def kill_a_busy_worker(outcome):
        if killed:
            return
        for actor, job in pool.in_flight():
            os.kill(pids[actor], signal.SIGKILL)  # the actor's process, mid-video
            killed.append((job.video_id, pids[actor]))
            return

    summary = run_job(str(manifest), str(tmp_path / "out"), pool, JobOptions(progress=False),
                      on_outcome=kill_a_busy_worker)  # fmt: skip
    assert summary["done"] == 6 and summary["failed"] == 0
    report = read_report(tmp_path / "out")
    [(video_id, pid)] = killed
    assert report[video_id]["status"] == "done" and report[video_id]["attempts"] == 2
    assert report[video_id]["worker"]["pid"] != pid  # tracked again by another (or the restarted) actor
    for line in mixed_lines(clip_dir):  # the video tried again gives the same masks
        stem = Path(line["video"]).stem
        assert (
            written_annotations(tmp_path / "out" / "masks" / f"{line.get('id', stem)}.json")
            == reference[stem]
        )


def test_cli_on_the_running_cluster_reports_a_corrupt_clip_and_a_bad_line(local_cluster, tmp_path, golden_checkpoint,
                                                                          clip_dir):  # fmt: skip
    corrupt = tmp_path / "corrupt.mp4"
    corrupt.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(200))
    lines = [*mixed_lines(clip_dir)[2:4], {"video": str(corrupt), "everything": {"frame": 0}}, '{"video": 3}']
    manifest = write_manifest(tmp_path / "manifest.jsonl", lines)
    cmd = [
        sys.executable,
        "-m",
        "sam2.batch",
        str(manifest),
        "--out",
        str(tmp_path / "out"),
        "--config",
        MICRO_CONFIG,
        "--checkpoint",
        golden_checkpoint,
        "--ray",
        "auto",
        "--workers",
        "2",
        "--no-progress",
    ]
    run = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=300)  # fmt: skip
    assert run.returncode == 1, run.stderr[-3000:]  # something failed: the report says what
    report = read_report(tmp_path / "out")
    assert report["short"]["status"] == report["middle"]["status"] == "done"
    assert report["corrupt"]["status"] == "failed" and report["corrupt"]["attempts"] == 2
    assert report["line 4"]["error"] == "line 4: video is required: a video path or URL"
    assert json.loads((tmp_path / "out" / "summary.json").read_text())["workers"] == 2
