"""What the batch tests share: clips written at test time, golden micro weights, a manifest.

The clips are H.264 files made with PyAV from the golden micro frames (192x108), of different
lengths and frame orders so that long and short videos mix; the weights are the golden
fixture's deterministic ones (../shared/golden/weights.py), saved as an official checkpoint.
"""

import importlib.util
import json
from pathlib import Path

import av
import numpy as np
import pytest
import torch
from PIL import Image

from sam2.utils.rle import coco_encode_rle, mask_to_rle

# As tests/conftest.py (not importable from here: this folder's conftest takes its name).
GOLDEN = Path(__file__).resolve().parents[3] / "shared" / "golden"
MICRO_CONFIG = "configs/sam2.1/sam2.1_hiera_micro.yaml"
WORKER_THREADS = 1  # torch threads of every worker and of the reference (see reference_annotations)


def require(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"{path} is absent (the shared test data sits beside the repository)")
    return path


# (name, frame order over the 10 golden frames): lengths 3 to 5, some played backwards.
CLIPS = [
    ("walk", [0, 1, 2, 3, 4]),
    ("back", [9, 8, 7, 6, 5]),
    ("short", [0, 1, 2]),
    ("middle", [3, 4, 5, 6]),
    ("pingpong", [0, 2, 4, 2]),
    ("odd", [1, 3, 5]),
]


def frames() -> list[np.ndarray]:
    folder = require(GOLDEN / "micro" / "frames")
    names = sorted(folder.iterdir(), key=lambda p: int(p.stem))
    return [np.asarray(Image.open(p).convert("RGB")) for p in names]


def write_clip(path: Path, images: list[np.ndarray], fps: int = 10) -> Path:
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=fps)
        stream.height, stream.width = images[0].shape[:2]
        stream.pix_fmt = "yuv420p"
        stream.options = {"crf": "18", "g": "4"}  # a key frame every 4 frames: seeks happen
        for image in images:
            out.mux(stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")))
        out.mux(stream.encode(None))
    return path


def save_golden_checkpoint(path: Path) -> str:
    """The golden micro weights as an official checkpoint file ({"model": state_dict})."""
    spec = importlib.util.spec_from_file_location("golden_weights", require(GOLDEN / "weights.py"))
    weights = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(weights)
    from sam2.build_sam import build_sam2

    template = build_sam2(MICRO_CONFIG, device="cpu").state_dict()
    torch.save({"model": weights.make_state_dict(template)}, path)
    return str(path)


def write_clips(folder: Path) -> Path:
    images = frames()
    for name, order in CLIPS:
        write_clip(folder / f"{name}.mp4", [images[i] for i in order])
    return folder


def mixed_lines(clip_dir: Path) -> list[dict]:
    """One manifest line per clip, every kind of prompt somewhere (pixels of 192x108 frames)."""
    square = np.zeros((108, 192), dtype=bool)
    square[40:70, 60:100] = True
    mask = coco_encode_rle(mask_to_rle(square))
    return [
        {"video": str(clip_dir / "walk.mp4"), "objects": [
            {"id": 1, "prompts": [{"frame": 0, "points": [[72, 62]], "labels": [1]}]},
            {"id": 2, "prompts": [{"frame": 0, "box": [125, 45, 190, 72]}]},
            {"id": 3, "prompts": [{"frame": 2, "points": [[30, 30], [40, 80]], "labels": [1, 0]}]}]},
        {"video": str(clip_dir / "back.mp4"), "id": "backwards", "objects": [
            {"id": 7, "prompts": [{"frame": 3, "mask": mask}]}]},
        {"video": str(clip_dir / "short.mp4"), "objects": [
            {"id": 1, "prompts": [{"frame": 1, "points": [[150, 60]], "labels": [1]}, {"frame": 2, "box": [10, 10, 80, 90]}]}]},
        {"video": str(clip_dir / "middle.mp4"), "objects": [
            {"id": 4, "prompts": [{"frame": 2, "points": [[100, 50]], "labels": [1], "box": [80, 30, 130, 80]}]}]},
        {"video": str(clip_dir / "pingpong.mp4"), "everything": {
            "frame": 3, "points_per_side": 4, "pred_iou_thresh": 0, "stability_score_thresh": 0,
            "box_nms_thresh": 1.0, "min_area": 1, "max_objects": 2}},
        {"video": str(clip_dir / "odd.mp4"), "objects": [
            {"id": 1, "prompts": [{"frame": 0, "box": [60, 40, 100, 70]}]}],
         "everything": {"frame": 0, "points_per_side": 2, "pred_iou_thresh": 0, "stability_score_thresh": 0,
                        "min_area": 1, "max_objects": 1}},
    ]  # fmt: skip


def write_manifest(path: Path, lines: list) -> Path:
    path.write_text("".join((x if isinstance(x, str) else json.dumps(x)) + "\n" for x in lines))
    return path


def reference_annotations(predictor, line: dict) -> list[tuple[int, int, str]]:
    """What one process with the public API gives for a manifest line: (frame, object, RLE
    counts) sorted by frame, object. Encoded with pycocotools, not with the library's RLE.

    Run it with the workers' torch thread count (the tests use 1): CPU kernels split their sums
    by thread count, and on these random-looking weights many logits sit close enough to 0
    for that to flip pixels.
    """
    from pycocotools import mask as coco_mask

    from sam2.automatic_mask_generator import SAM2AutomaticMaskGenerator
    from sam2.utils.amg import assign_non_overlapping

    state = predictor.init_state(line["video"])
    prompted = []
    for obj in line.get("objects", []):
        for p in obj["prompts"]:
            if "mask" in p:
                predictor.add_new_mask(state, p["frame"], obj["id"], coco_mask.decode(p["mask"]).astype(bool))
            else:
                predictor.add_new_points_or_box(state, p["frame"], obj["id"], points=p.get("points"),
                                                labels=p.get("labels"), box=p.get("box"))  # fmt: skip
            prompted.append(p["frame"])
    if "everything" in line:
        settings = dict(line["everything"])
        frame = settings.pop("frame")
        min_area, max_objects = settings.pop("min_area"), settings.pop("max_objects")
        records = SAM2AutomaticMaskGenerator(predictor, **settings).generate(state.frames.original(frame))
        kept = assign_non_overlapping([r["segmentation"] for r in records], [r["predicted_iou"] for r in records],
                                      min_area=min_area, max_count=max_objects)  # fmt: skip
        first = max([o["id"] for o in line.get("objects", [])], default=0) + 1
        for k, (_, mask) in enumerate(kept):
            predictor.add_new_mask(state, frame, first + k, mask)
            prompted.append(frame)
    out = {}
    start = min(prompted)
    for reverse in (False, True):
        for idx, ids, logits in predictor.propagate_in_video(state, start_frame_idx=start, reverse=reverse):
            for obj_id, m in zip(ids, (logits[:, 0] > 0).numpy()):
                rle = coco_mask.encode(np.asfortranarray(m.astype(np.uint8)))
                out[(idx, int(obj_id))] = rle["counts"].decode()
    predictor.close_state(state)
    return [(f, o, counts) for (f, o), counts in sorted(out.items())]


def written_annotations(path: Path) -> list[tuple[int, int, str]]:
    doc = json.loads(path.read_text())
    return [(a["frame_index"], a["object_id"], a["segmentation"]["counts"]) for a in doc["annotations"]]


def read_report(out: Path) -> dict[str, dict]:
    """report.jsonl by id (invalid lines by "line <n>")."""
    entries = [json.loads(x) for x in (out / "report.jsonl").read_text().splitlines()]
    return {e.get("id", f"line {e['line']}"): e for e in entries}
