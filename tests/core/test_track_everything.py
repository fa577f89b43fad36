"""tools/track_everything.py on a real 10-frame clip with the micro config (random weights)."""

import json
import os
import subprocess
import sys

import numpy as np
from PIL import Image
from pycocotools import mask as coco_mask
from pycocotools.coco import COCO
from shared_paths import DATA, REPO_ROOT, require


def test_track_everything_writes_pngs_and_coco_json(tmp_path):
    clip = require(DATA / "frames" / "pedestrians_10")
    out = tmp_path / "out"
    # Random masks are large and nearly identical: no NMS and a small minimum area, so that
    # several disjoint objects remain.
    cmd = [sys.executable, str(REPO_ROOT / "tools" / "track_everything.py"), str(clip), "--out", str(out),
           "--frame", "4", "--config", "micro", "--points-per-side", "4", "--pred-iou-thresh", "0",
           "--stability-score-thresh", "0", "--box-nms-thresh", "1.0", "--min-area", "1", "--max-objects", "3"]
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT))
    run = subprocess.run(cmd, cwd=REPO_ROOT, capture_output=True, text=True, timeout=300, env=env)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-3000:]

    objects = json.loads((out / "objects.json").read_text())["objects"]
    assert 2 <= len(objects) <= 3
    scores = [o["score"] for o in objects]
    assert scores == sorted(scores, reverse=True)
    frames = sorted(os.listdir(clip))
    h, w = np.asarray(Image.open(clip / frames[0])).shape[:2]

    coco = COCO(str(out / "masks.json"))  # pycocotools reads it as a dataset
    assert sorted(coco.getImgIds()) == list(range(len(frames)))
    by_key = {(a["image_id"], a["object_id"]): a for a in coco.dataset["annotations"]}
    prompt = np.zeros((h, w), dtype=int)
    for obj in objects:
        folder = out / "masks" / f"object_{obj['id']}"
        assert sorted(os.listdir(folder)) == [f"{i:05d}.png" for i in range(len(frames))]
        for i in range(len(frames)):
            png = np.asarray(Image.open(folder / f"{i:05d}.png"))
            assert png.shape == (h, w) and set(np.unique(png)) <= {0, 255}
            ann = by_key.get((i, obj["id"]))
            if ann is None:
                assert not png.any()
                continue
            assert (coco.annToMask(ann).astype(bool) == (png == 255)).all()
            assert (coco_mask.decode(ann["segmentation"]).astype(bool) == (png == 255)).all()
            if i == 4:
                prompt += png == 255
    assert prompt.max() == 1  # objects on the prompted frame do not overlap


def test_track_everything_bad_input_is_a_clear_error(tmp_path):
    cmd = [sys.executable, str(REPO_ROOT / "tools" / "track_everything.py"), str(tmp_path / "missing.mp4"),
           "--out", str(tmp_path / "out"), "--config", "micro"]
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT))
    run = subprocess.run(cmd, cwd=REPO_ROOT, capture_output=True, text=True, timeout=300, env=env)
    assert run.returncode == 2 and "does not exist" in run.stderr and "Traceback" not in run.stderr
