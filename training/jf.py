"""Score VOS predictions with J (region IoU), F (boundary) and J&F, as DAVIS 2017 does.

    python -m training.jf --gt DAVIS_ROOT --pred RESULTS_DIR [--workers 4] [--json scores.json]

``--gt``: a VOS root with Annotations/<video>/<frame>.png (or the Annotations folder itself);
``--pred``: <video>/<frame>.png id masks with the same names (palette or grayscale PNGs, from
``training.eval_vos`` or any other method). Objects are ids 1..max on each video's first
annotated frame (DAVIS 2017 semi-supervised); the first and last frames are not scored
(``--all-frames`` scores them). Overall J (F) is the mean over all objects of their mean J (F)
over frames; J&F is the mean of the two.
"""

import argparse
import json
import os
import sys
from multiprocessing import get_context
from typing import Dict, List, Optional, Sequence

import numpy as np

from training.datasets.clip import DataError
from training.datasets.vos_folder import read_id_mask, sort_key
from training.metrics import VOID_ID, sequence_scores


def annotation_root(gt: str) -> str:
    nested = os.path.join(gt, "Annotations")
    return nested if os.path.isdir(nested) else gt


def video_names(gt_root: str, videos: Optional[Sequence[str]]) -> List[str]:
    if videos and len(videos) == 1 and videos[0].endswith(".txt"):
        with open(videos[0]) as f:
            return [line.strip() for line in f if line.strip()]
    if videos:
        return list(videos)
    return sorted(d for d in os.listdir(gt_root) if os.path.isdir(os.path.join(gt_root, d)))


def score_video(args) -> Dict:
    """{"video", "objects": {id: {"J", "F", ...}}} for one video (runs in a worker process)."""
    gt_root, pred_root, video, skip_first_last, ignore_void = args
    gt_dir, pred_dir = os.path.join(gt_root, video), os.path.join(pred_root, video)
    names = sorted((f for f in os.listdir(gt_dir) if f.endswith(".png")), key=sort_key)
    if not names:
        raise DataError(f"no annotation PNGs in {gt_dir!r}")
    gts = [read_id_mask(os.path.join(gt_dir, n)) for n in names]
    preds = []
    for name, gt in zip(names, gts):
        path = os.path.join(pred_dir, name)
        if not os.path.isfile(path):
            raise DataError(f"prediction {path!r} is missing (every annotated frame needs one)")
        pred = read_id_mask(path)
        if pred.shape != gt.shape:
            raise DataError(f"prediction {path!r} is {pred.shape[1]}x{pred.shape[0]}, annotation is {gt.shape[1]}x{gt.shape[0]}")
        preds.append(pred)
    first = gts[0][gts[0] != VOID_ID]
    num_objects = int(first.max()) if first.size else 0
    scores = sequence_scores(preds, gts, range(1, num_objects + 1), skip_first_last, ignore_void)
    return {"video": video, "objects": scores}


def summarise(results: List[Dict]) -> Dict:
    js = [o["J"] for r in results for o in r["objects"].values()]
    fs = [o["F"] for r in results for o in r["objects"].values()]
    if not js:
        return {"J&F": float("nan"), "J": float("nan"), "F": float("nan"), "objects": 0}
    j, f = float(np.mean(js)), float(np.mean(fs))
    return {"J&F": (j + f) / 2, "J": j, "F": f,
            "J_recall": float(np.mean([o["J_recall"] for r in results for o in r["objects"].values()])),
            "F_recall": float(np.mean([o["F_recall"] for r in results for o in r["objects"].values()])),
            "objects": len(js)}


def evaluate(gt: str, pred: str, videos: Optional[Sequence[str]] = None, workers: int = 1,
             skip_first_last: bool = True, ignore_void: bool = False) -> Dict:
    """Scores of every video and overall: {"videos": [...], "overall": {...}}."""
    gt_root = annotation_root(gt)
    if not os.path.isdir(gt_root):
        raise DataError(f"ground truth folder {gt!r} does not exist")
    if not os.path.isdir(pred):
        raise DataError(f"prediction folder {pred!r} does not exist")
    jobs = [(gt_root, pred, v, skip_first_last, ignore_void) for v in video_names(gt_root, videos)]
    if workers > 1 and len(jobs) > 1:
        with get_context("spawn").Pool(min(workers, len(jobs))) as pool:
            results = pool.map(score_video, jobs)
    else:
        results = [score_video(j) for j in jobs]
    return {"videos": results, "overall": summarise(results)}


def format_table(scores: Dict, per_object: bool = False) -> str:
    lines = [f"{'video':<28} {'J&F':>7} {'J':>7} {'F':>7}"]
    for r in scores["videos"]:
        s = summarise([r])
        lines.append(f"{r['video']:<28} {s['J&F']:7.4f} {s['J']:7.4f} {s['F']:7.4f}")
        if per_object:
            for obj, o in r["objects"].items():
                lines.append(f"  object {obj:<19} {(o['J'] + o['F']) / 2:7.4f} {o['J']:7.4f} {o['F']:7.4f}")
    o = scores["overall"]
    lines.append(f"{'overall (' + str(o['objects']) + ' objects)':<28} {o['J&F']:7.4f} {o['J']:7.4f} {o['F']:7.4f}")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--gt", required=True, help="VOS root (with Annotations/) or the annotation folder")
    parser.add_argument("--pred", required=True, help="folder of <video>/<frame>.png predictions")
    parser.add_argument("--videos", nargs="*", help="video names, or one .txt file listing them (default: all)")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="parallel processes")
    parser.add_argument("--all-frames", action="store_true", help="also score the first and last frames")
    parser.add_argument("--ignore-void", action="store_true",
                        help="leave annotation pixels of value 255 unscored (DAVIS 2017 semi-supervised scores them)")
    parser.add_argument("--per-object", action="store_true", help="print a row per object")
    parser.add_argument("--json", help="write all scores to this JSON file")
    args = parser.parse_args(argv)
    try:
        scores = evaluate(args.gt, args.pred, args.videos, args.workers, not args.all_frames, args.ignore_void)
    except DataError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(format_table(scores, args.per_object))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(scores, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
