#!/usr/bin/env python
"""Segment everything on one frame of a video, then track every mask through the whole video.

    python tools/track_everything.py VIDEO --out DIR [--frame N] [--config C --checkpoint P]
    python tools/track_everything.py clip.mp4 --out out --checkpoint checkpoints/sam2.1_hiera_tiny.pt

VIDEO is a video file (anything PyAV reads) or a folder of numbered JPEGs. The automatic mask
generator runs on frame N (default 0) at the video's own size; its records become objects
*score first*: by decreasing predicted IoU, each mask keeps only the pixels no better mask has
taken, and is dropped when fewer than --min-area pixels remain (so objects never overlap).
Every object is then tracked forwards and backwards from frame N.

Writes into DIR:
  masks/object_<id>/<frame>.png   one 8-bit PNG per object per frame (255 = object), frame
                                  numbers zero-padded to 5 digits
  masks.json                      a COCO dataset (images = frames, one category "object",
                                  annotations with COCO RLE "segmentation", "object_id",
                                  "score"): `pycocotools.coco.COCO("masks.json")` reads it
  objects.json                    the kept proposals: id, score, stability, area, bbox

Without --checkpoint the model has seeded random weights (the masks mean nothing; for tests).
"""

import argparse
import json
import os
import sys
import time

import numpy as np
import torch
from PIL import Image

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

from demo.backend.random_weights import favour_present_objects  # noqa: E402
from demo.testing.local_server import CONFIG_ALIASES  # noqa: E402
from sam2.automatic_mask_generator import SAM2AutomaticMaskGenerator  # noqa: E402
from sam2.build_sam import build_sam2_video_predictor  # noqa: E402
from sam2.utils.amg import assign_non_overlapping  # noqa: E402
from sam2.utils.rle import coco_encode_rle, mask_to_rle  # noqa: E402


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("video", help="video file or folder of numbered JPEG frames")
    ap.add_argument("--out", required=True, help="output folder (created)")
    ap.add_argument("--frame", type=int, default=0, help="frame to segment (default 0)")
    ap.add_argument("--config", default="tiny", help="model config: micro, tiny, small or a config name/YAML path")
    ap.add_argument("--checkpoint", help="weights; default: seeded random weights")
    ap.add_argument("--seed", type=int, default=0, help="seed of the random weights")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--points-per-side", type=int, default=32)
    ap.add_argument("--points-per-batch", type=int, default=64)
    ap.add_argument("--pred-iou-thresh", type=float, default=0.8)
    ap.add_argument("--stability-score-thresh", type=float, default=0.95)
    ap.add_argument("--box-nms-thresh", type=float, default=0.7)
    ap.add_argument("--min-area", type=int, default=100, help="smallest object kept, in pixels")
    ap.add_argument("--max-objects", type=int, default=50)
    args = ap.parse_args(argv)
    if args.min_area < 1 or args.max_objects < 1:
        ap.error("--min-area and --max-objects must be >= 1")
    return args


def build(args):
    if args.checkpoint is None:
        print(f"no --checkpoint: seeded random weights (seed {args.seed}); masks are meaningless", file=sys.stderr)
        torch.manual_seed(args.seed)
    predictor = build_sam2_video_predictor(CONFIG_ALIASES.get(args.config, args.config), ckpt_path=args.checkpoint,
                                           device=args.device)
    if args.checkpoint is None:
        favour_present_objects(predictor)  # as the random-weights demo: tracked masks are not all empty
    return predictor


def propose(predictor, image: np.ndarray, args):
    """Kept proposals on the image: list of (record, disjoint bool mask), best first."""
    generator = SAM2AutomaticMaskGenerator(
        predictor, points_per_side=args.points_per_side, points_per_batch=args.points_per_batch,
        pred_iou_thresh=args.pred_iou_thresh, stability_score_thresh=args.stability_score_thresh,
        box_nms_thresh=args.box_nms_thresh,
    )
    records = generator.generate(image)
    kept = assign_non_overlapping([r["segmentation"] for r in records], [r["predicted_iou"] for r in records],
                                  min_area=args.min_area, max_count=args.max_objects)
    return [(records[i], mask) for i, mask in kept]


def track(predictor, state, frame: int):
    """Yield (frame index, obj_ids, (num_objects, H, W) bool masks) forwards then backwards."""
    for reverse in (False, True):
        for idx, obj_ids, logits in predictor.propagate_in_video(state, start_frame_idx=frame, reverse=reverse):
            if reverse and idx == frame:
                continue  # already written by the forward pass
            yield idx, obj_ids, (logits[:, 0] > 0).cpu().numpy()


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        return run(args)
    except (ValueError, TypeError, OSError) as exc:  # bad video, arguments out of range, unwritable --out
        print(f"track_everything: {exc}", file=sys.stderr)
        return 2


def run(args) -> int:
    t0 = time.perf_counter()
    predictor = build(args)
    state = predictor.init_state(args.video)
    n, h, w = state["num_frames"], state["video_height"], state["video_width"]
    if not 0 <= args.frame < n:
        raise SystemExit(f"--frame {args.frame} is out of range: the video has {n} frames (0..{n - 1})")
    image = state.frames.original(args.frame)
    proposals = propose(predictor, image, args)
    print(f"{len(proposals)} objects on frame {args.frame} ({w}x{h}, {n} frames)")
    os.makedirs(args.out, exist_ok=True)
    objects = []
    for k, (rec, mask) in enumerate(proposals, start=1):
        predictor.add_new_mask(state, args.frame, k, mask)
        objects.append({"id": k, "score": rec["predicted_iou"], "stability_score": rec["stability_score"],
                        "area": int(mask.sum()), "bbox": rec["bbox"], "point_coords": rec["point_coords"]})
    with open(os.path.join(args.out, "objects.json"), "w") as f:
        json.dump({"frame": args.frame, "objects": objects}, f, indent=1)
    scores = {o["id"]: o["score"] for o in objects}
    images = [{"id": i, "file_name": f"{i:05d}", "frame_index": i, "height": h, "width": w} for i in range(n)]
    annotations = []
    if proposals:
        for idx, obj_ids, masks in track(predictor, state, args.frame):
            for obj_id, mask in zip(obj_ids, masks):
                folder = os.path.join(args.out, "masks", f"object_{obj_id}")
                os.makedirs(folder, exist_ok=True)
                Image.fromarray(mask.astype(np.uint8) * 255).save(os.path.join(folder, f"{idx:05d}.png"))
                area = int(mask.sum())
                if area == 0:
                    continue
                ys, xs = np.nonzero(mask)
                annotations.append({
                    "id": len(annotations) + 1, "image_id": idx, "category_id": 1, "object_id": int(obj_id),
                    "segmentation": coco_encode_rle(mask_to_rle(mask)), "area": area, "iscrowd": 0,
                    "bbox": [int(xs.min()), int(ys.min()), int(xs.max() - xs.min() + 1), int(ys.max() - ys.min() + 1)],
                    "score": scores[obj_id],
                })
    coco = {"info": {"video": os.path.basename(os.path.normpath(args.video)), "prompt_frame": args.frame},
            "images": images, "categories": [{"id": 1, "name": "object"}], "annotations": annotations}
    with open(os.path.join(args.out, "masks.json"), "w") as f:
        json.dump(coco, f)
    print(f"wrote {len(objects)} objects x {n} frames to {args.out} in {time.perf_counter() - t0:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
