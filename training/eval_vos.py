"""Semi-supervised VOS inference: given each object's first mask, track it through the video.

    python -m training.eval_vos --model-config configs/sam2.1/sam2.1_hiera_t.yaml \
        --checkpoint checkpoints/sam2.1_hiera_tiny.pt --data DAVIS_ROOT --out results/ [--videos a b]

Reads ``<data>/JPEGImages/<video>/*.jpg`` and ``<data>/Annotations/<video>/*.png``; each object
is prompted with its mask on the first annotated frame where it appears; writes palette PNGs
``<out>/<video>/<frame>.png`` (object ids, at the video's resolution) for every frame, ready
for ``python -m training.jf --gt <data> --pred <out>``.
"""

import argparse
import os
import sys
from typing import Dict, List, Optional, Sequence

import numpy as np
import torch
from PIL import Image

from sam2.build_sam import build_sam2_video_predictor
from training.datasets.clip import DataError
from training.datasets.vos_folder import JPEG_EXTENSIONS, object_ids_in, read_id_mask, sort_key
from training.palette import davis_palette


def first_appearances(ann_dir: str, frame_stems: List[str]) -> Dict[int, int]:
    """{object id: index of the first frame whose annotation shows it}."""
    seen: Dict[int, int] = {}
    for t, stem in enumerate(frame_stems):
        path = os.path.join(ann_dir, stem + ".png")
        if os.path.isfile(path):
            for obj in object_ids_in(read_id_mask(path)):
                seen.setdefault(obj, t)
    return seen


def predict_video(predictor, frame_dir: str, ann_dir: str) -> Dict[str, np.ndarray]:
    """{frame stem: (H, W) uint8 id mask} for every frame of the video."""
    names = sorted((f for f in os.listdir(frame_dir) if f.lower().endswith(JPEG_EXTENSIONS)), key=sort_key)
    stems = [os.path.splitext(n)[0] for n in names]
    starts = first_appearances(ann_dir, stems)
    if not starts:
        raise DataError(f"no object in any annotation of {ann_dir!r}; nothing to track")
    state = predictor.init_state(frame_dir)
    masks_by_frame: Dict[int, np.ndarray] = {}
    try:
        for obj, t in sorted(starts.items()):
            predictor.add_new_mask(state, t, obj, read_id_mask(os.path.join(ann_dir, stems[t] + ".png")) == obj)
        for t, obj_ids, logits in predictor.propagate_in_video(state, start_frame_idx=min(starts.values())):
            scores = logits[:, 0].float().cpu().numpy()  # (N, H, W)
            best = scores.argmax(0)
            ids = np.asarray(obj_ids, dtype=np.uint8)[best]
            masks_by_frame[t] = np.where(scores.max(0) > 0, ids, 0).astype(np.uint8)
    finally:
        predictor.close_state(state)
    some = next(iter(masks_by_frame.values()))
    return {stem: masks_by_frame.get(t, np.zeros_like(some)) for t, stem in enumerate(stems)}


def write_id_png(path: str, ids: np.ndarray) -> None:
    im = Image.fromarray(ids, mode="P")
    im.putpalette(davis_palette())
    im.save(path)


def run(model_config: str, checkpoint: Optional[str], data: str, out: str, videos: Optional[Sequence[str]] = None,
        device: str = "cpu", predictor=None) -> List[str]:
    """Predict every (or the given) video of a VOS folder; returns the video names written."""
    frame_root, ann_root = os.path.join(data, "JPEGImages"), os.path.join(data, "Annotations")
    for folder in (frame_root, ann_root):
        if not os.path.isdir(folder):
            raise DataError(f"{folder!r} is not a folder; --data must be a VOS root with JPEGImages/ and Annotations/")
    if predictor is None:
        predictor = build_sam2_video_predictor(model_config, ckpt_path=checkpoint, device=device)
    if videos and len(videos) == 1 and videos[0].endswith(".txt"):
        with open(videos[0]) as f:
            videos = [line.strip() for line in f if line.strip()]
    names = list(videos) if videos else sorted(os.listdir(ann_root))
    for video in names:
        with torch.inference_mode():
            masks = predict_video(predictor, os.path.join(frame_root, video), os.path.join(ann_root, video))
        os.makedirs(os.path.join(out, video), exist_ok=True)
        for stem, ids in masks.items():
            write_id_png(os.path.join(out, video, stem + ".png"), ids)
    return names


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model-config", required=True, help="sam2 model config, e.g. configs/sam2.1/sam2.1_hiera_t.yaml")
    parser.add_argument("--checkpoint", help="checkpoint with a 'model' state dict (official or from training.train)")
    parser.add_argument("--data", required=True, help="VOS root with JPEGImages/ and Annotations/")
    parser.add_argument("--out", required=True, help="folder for the predicted PNGs")
    parser.add_argument("--videos", nargs="*", help="video names or one .txt listing them (default: all)")
    parser.add_argument("--device", default="auto", help="cpu, cuda, cuda:1, mps or auto")
    args = parser.parse_args(argv)
    if args.checkpoint is None:
        print("warning: no --checkpoint given; the model has random weights", file=sys.stderr)
    try:
        names = run(args.model_config, args.checkpoint, args.data, args.out, args.videos, args.device)
    except DataError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"wrote predictions of {len(names)} videos to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
