"""The output folder of a batch job, and the only code that writes into it.

    <out>/masks/<id>.json              COCO RLE JSON, as the demo exports it (its presence = done)
    <out>/masks/<id>/object_<obj>/<frame>.png   with --png: 1-bit PNGs (0/1), frames 5 digits
    <out>/report.jsonl                 this run: one line per manifest line, as it is settled
    <out>/summary.json                 this run's counts, written when the run ends

Every file appears atomically: it is written under a temporary name in the same folder, then
renamed. A video's PNG folder is renamed into place before its JSON, so a JSON on disk always
means the whole video is there; anything else (temporary names, a PNG folder without its
JSON) is what an interrupted run left, and the next run redoes that video.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from typing import Any

from sam2.batch.clip import ClipResult
from sam2.utils.mask_export import png, write_coco_json
from sam2.utils.rle import rle_to_mask

_TMP = ".tmp-"  # prefix of everything not yet in place


class OutputDir:
    def __init__(self, root: str):
        self.root = root
        self.masks = os.path.join(root, "masks")
        os.makedirs(self.masks, exist_ok=True)

    def json_path(self, video_id: str) -> str:
        return os.path.join(self.masks, f"{video_id}.json")

    def png_dir(self, video_id: str) -> str:
        return os.path.join(self.masks, video_id)

    def is_done(self, video_id: str) -> bool:
        return os.path.isfile(self.json_path(video_id))

    def write(self, result: ClipResult, pngs: bool) -> float:
        """Write one video's outputs atomically; returns the seconds it took."""
        t = time.perf_counter()
        if pngs:
            self._write_pngs(result)
        head = {"video": result.video, "width": result.width, "height": result.height,
                "num_frames": result.num_frames, "fps": result.fps}  # fmt: skip
        final = self.json_path(result.video_id)
        tmp = self._tmp_path(final)
        with open(tmp, "wb") as f:
            write_coco_json(head, result.masks, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, final)
        return time.perf_counter() - t

    def _write_pngs(self, result: ClipResult) -> None:
        final = self.png_dir(result.video_id)
        tmp = self._tmp_path(final)
        for obj_id in result.object_ids:
            os.makedirs(os.path.join(tmp, f"object_{obj_id}"))
        for frame, obj_id, rle, _ in result.masks:
            with open(os.path.join(tmp, f"object_{obj_id}", f"{frame:05d}.png"), "wb") as f:
                f.write(png(rle_to_mask(rle)))
        shutil.rmtree(final, ignore_errors=True)  # an interrupted run's folder (its JSON never came)
        os.replace(tmp, final)

    def _tmp_path(self, final: str) -> str:
        folder, name = os.path.split(final)
        path = os.path.join(folder, f"{_TMP}{os.getpid()}-{name}")
        if os.path.isdir(path):
            shutil.rmtree(path)
        return path

    def clean_leftovers(self) -> int:
        """Remove what interrupted runs left under temporary names; returns how many."""
        removed = 0
        for name in os.listdir(self.masks):
            if name.startswith(_TMP):
                path = os.path.join(self.masks, name)
                shutil.rmtree(path) if os.path.isdir(path) else os.remove(path)
                removed += 1
        return removed


class RunReport:
    """report.jsonl of this run, a line per manifest line as soon as it is settled (so an
    interrupted run leaves an honest partial report), and summary.json at the end."""

    def __init__(self, root: str):
        self.root = root
        self.path = os.path.join(root, "report.jsonl")
        self._file = open(self.path, "w", encoding="utf-8")  # a new run, a new report
        self.counts: dict[str, int] = {"done": 0, "skipped": 0, "failed": 0, "invalid": 0}
        self.started = time.time()

    def add(self, entry: dict[str, Any]) -> None:
        self.counts[entry["status"]] += 1
        self._file.write(json.dumps(entry) + "\n")
        self._file.flush()

    def close(self, extra: dict[str, Any]) -> dict[str, Any]:
        self._file.close()
        summary = {**self.counts, "seconds": round(time.time() - self.started, 3), **extra}
        tmp = os.path.join(self.root, f"{_TMP}summary.json")
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(summary, f, indent=1)
        os.replace(tmp, os.path.join(self.root, "summary.json"))
        return summary
