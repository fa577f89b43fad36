"""The manifest of a batch job: JSON Lines, one video per line, parsed into typed jobs.

A line (the full contract is ``manifest.schema.json`` beside this module; the parser below is
what the job runs, and a test keeps the two in agreement)::

    {"video": "clips/a.mp4", "id": "a",
     "objects": [{"id": 1, "prompts": [{"frame": 0, "points": [[x, y]], "labels": [1]},
                                       {"frame": 9, "box": [x0, y0, x1, y1]},
                                       {"frame": 4, "mask": {"size": [H, W], "counts": "..."}}]}],
     "everything": {"frame": 0, "points_per_side": 16, "max_objects": 10}}

Coordinates are pixels of the video's own frames. A bad line is not fatal to the job: it
raises :class:`ManifestError` naming the line and the place in it, and the job goes on.
The manifest is read lazily, line by line, so its length never bounds memory.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

SCHEMA_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "manifest.schema.json")

ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
# AMG settings an "everything" prompt may set, with their type; the rest keep the
# generator's defaults. min_area / max_objects shape the disjoint objects kept from them.
AMG_SETTINGS: dict[str, type] = {
    "points_per_side": int,
    "points_per_batch": int,
    "pred_iou_thresh": float,
    "stability_score_thresh": float,
    "box_nms_thresh": float,
    "crop_n_layers": int,
    "min_mask_region_area": int,
}
EVERYTHING_LIMITS: dict[str, int] = {"min_area": 100, "max_objects": 50}


class ManifestError(ValueError):
    """A manifest line that cannot be run; the message names the line and the field."""

    def __init__(self, line: int, message: str):
        super().__init__(f"line {line}: {message}")
        self.line = line


@dataclass(frozen=True)
class Prompt:
    """One prompt of one object on one frame: points and/or a box, or a mask.

    ``points``: ((x, y), ...) with ``labels`` (1 = object, 0 = background); ``box``:
    (x0, y0, x1, y1); ``mask``: COCO RLE ``{"size": [H, W], "counts": str | list}``.
    """

    frame: int
    points: tuple[tuple[float, float], ...] = ()
    labels: tuple[int, ...] = ()
    box: tuple[float, float, float, float] | None = None
    mask: dict | None = None


@dataclass(frozen=True)
class ObjectPrompts:
    obj_id: int
    prompts: tuple[Prompt, ...]


@dataclass(frozen=True)
class Everything:
    """Segment everything on ``frame`` (automatic mask generator), then track each object."""

    frame: int
    amg: dict[str, Any] = field(default_factory=dict)  # generator settings (AMG_SETTINGS keys)
    min_area: int = EVERYTHING_LIMITS["min_area"]
    max_objects: int = EVERYTHING_LIMITS["max_objects"]


@dataclass(frozen=True)
class VideoJob:
    """One manifest line: a video and what to track in it."""

    line: int  # 1-based line number in the manifest
    video_id: str  # names the outputs: <out>/masks/<video_id>.json
    video: str  # a path (as workers see it) or an http(s) URL
    objects: tuple[ObjectPrompts, ...] = ()
    everything: Everything | None = None


def count_lines(path: str) -> int:
    """Non-blank lines (for the progress bar's total), without parsing them."""
    with open(path, "rb") as f:
        return sum(1 for raw in f if raw.strip())


def read_manifest(path: str) -> Iterator[VideoJob | ManifestError]:
    """Each non-blank line as a job, or as the error that rejects it (ids checked for repeats)."""
    first_line_of: dict[str, int] = {}  # id -> line; ~100 bytes a video, the only per-line state kept
    with open(path, encoding="utf-8", errors="replace") as f:
        for number, text in enumerate(f, start=1):
            if not text.strip():
                continue
            try:
                job = parse_line(text, number)
                earlier = first_line_of.setdefault(job.video_id, number)
                if earlier != number:
                    raise ManifestError(number, f"id {job.video_id!r} is already used by line {earlier}: "
                                                "give this line its own \"id\"")  # fmt: skip
                yield job
            except ManifestError as e:
                yield e


def parse_line(text: str, line: int = 1) -> VideoJob:
    """One JSON line -> VideoJob; ManifestError with the field's path when it is wrong."""
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as e:
        raise ManifestError(line, f"not valid JSON ({e.msg} at column {e.colno})") from None
    where = _Where(line)
    _expect(isinstance(doc, dict), where, "", "must be a JSON object")
    _no_unknown_keys(doc, {"video", "id", "objects", "everything"}, where, "")
    video = doc.get("video")
    _expect(isinstance(video, str) and video != "", where, "video", "is required: a video path or URL")
    video_id = doc.get("id", default_id(video))
    _expect(
        isinstance(video_id, str) and ID_PATTERN.match(video_id) is not None,
        where,
        "id",
        "must be 1-128 letters, digits, '.', '_' or '-', starting with a letter or digit"
        + ("" if "id" in doc else f' (derived from the video name: {video_id!r}; set "id")'),
    )
    objects = tuple(_objects(doc.get("objects", []), where))
    everything = _everything(doc["everything"], where) if "everything" in doc else None
    _expect(bool(objects) or everything is not None, where, "", 'needs "objects" or "everything" (or both)')
    return VideoJob(line, video_id, video, objects, everything)


def default_id(video: Any) -> str:
    """The video's file name without extension, characters outside the id alphabet as '_'."""
    if not isinstance(video, str):
        return ""
    stem = os.path.splitext(os.path.basename(video.rstrip("/").split("?")[0]))[0]
    return re.sub(r"[^A-Za-z0-9._-]", "_", stem).lstrip("._-")[:128]


@dataclass(frozen=True)
class _Where:
    line: int


def _expect(ok: bool, where: _Where, path: str, message: str) -> None:
    if not ok:
        raise ManifestError(where.line, f"{path} {message}" if path else message)


def _no_unknown_keys(doc: dict, allowed: set, where: _Where, path: str) -> None:
    unknown = sorted(set(doc) - allowed)
    prefix = f"{path}." if path else ""
    _expect(
        not unknown,
        where,
        f"{prefix}{unknown[0] if unknown else ''}",
        f"is not a known field (known: {', '.join(sorted(allowed))})",
    )


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _frame(doc: dict, where: _Where, path: str) -> int:
    frame = doc.get("frame")
    _expect(_is_int(frame) and frame >= 0, where, f"{path}.frame", "is required: a frame index >= 0")
    return frame


def _objects(value: Any, where: _Where) -> Iterator[ObjectPrompts]:
    _expect(isinstance(value, list), where, "objects", "must be a list")
    seen: set[int] = set()
    for i, obj in enumerate(value):
        path = f"objects[{i}]"
        _expect(isinstance(obj, dict), where, path, "must be an object")
        _no_unknown_keys(obj, {"id", "prompts"}, where, path)
        obj_id = obj.get("id")
        _expect(_is_int(obj_id) and obj_id >= 0, where, f"{path}.id", "is required: an integer >= 0")
        _expect(obj_id not in seen, where, f"{path}.id", f"{obj_id} repeats an earlier object's id")
        seen.add(obj_id)
        prompts = obj.get("prompts")
        _expect(isinstance(prompts, list) and prompts, where, f"{path}.prompts", "must be a non-empty list")
        yield ObjectPrompts(
            obj_id, tuple(_prompt(p, where, f"{path}.prompts[{k}]") for k, p in enumerate(prompts))
        )


def _prompt(doc: Any, where: _Where, path: str) -> Prompt:
    _expect(isinstance(doc, dict), where, path, "must be an object")
    _no_unknown_keys(doc, {"frame", "points", "labels", "box", "mask"}, where, path)
    frame = _frame(doc, where, path)
    if "mask" in doc:
        _expect(
            not ({"points", "labels", "box"} & set(doc)),
            where,
            path,
            "gives a mask together with points or a box: put them in separate prompts",
        )
        return Prompt(frame, mask=_mask(doc["mask"], where, f"{path}.mask"))
    points, labels, box = (), (), None
    if "points" in doc or "labels" in doc:
        raw, raw_labels = doc.get("points"), doc.get("labels")
        _expect(isinstance(raw, list) and raw and all(isinstance(p, list) and len(p) == 2
                and all(_is_number(c) for c in p) for p in raw), where, f"{path}.points",
                "must be a non-empty list of [x, y] pixel coordinates")  # fmt: skip
        _expect(isinstance(raw_labels, list) and len(raw_labels) == len(raw)
                and all(v in (0, 1) and not isinstance(v, bool) for v in raw_labels), where, f"{path}.labels",
                f"must be a list of {len(raw)} labels, 1 (object) or 0 (background), one per point")  # fmt: skip
        points = tuple((float(x), float(y)) for x, y in raw)
        labels = tuple(int(v) for v in raw_labels)
    if "box" in doc:
        raw = doc["box"]
        _expect(isinstance(raw, list) and len(raw) == 4 and all(_is_number(c) for c in raw)
                and raw[0] <= raw[2] and raw[1] <= raw[3], where, f"{path}.box",
                "must be [x0, y0, x1, y1] in pixels with x0 <= x1 and y0 <= y1")  # fmt: skip
        box = tuple(float(c) for c in raw)
    _expect(bool(points) or box is not None, where, path, 'needs "points" with "labels", a "box" or a "mask"')
    return Prompt(frame, points, labels, box)


def _mask(doc: Any, where: _Where, path: str) -> dict:
    _expect(
        isinstance(doc, dict) and set(doc) == {"size", "counts"},
        where,
        path,
        'must be COCO RLE: {"size": [H, W], "counts": ...}',
    )
    size, counts = doc["size"], doc["counts"]
    _expect(
        isinstance(size, list) and len(size) == 2 and all(_is_int(v) and v > 0 for v in size),
        where,
        f"{path}.size",
        "must be [H, W], two positive integers",
    )
    _expect(
        isinstance(counts, str) or (isinstance(counts, list) and all(_is_int(v) and v >= 0 for v in counts)),
        where,
        f"{path}.counts",
        "must be a compressed RLE string or a list of run lengths",
    )
    from sam2.utils.rle import rle_to_mask  # checks the runs add up to H x W

    try:
        rle_to_mask(doc)
    except ValueError as e:
        raise ManifestError(where.line, f"{path} is not a valid RLE: {e}") from None
    return {"size": list(size), "counts": counts}


def _everything(doc: Any, where: _Where) -> Everything:
    _expect(isinstance(doc, dict), where, "everything", "must be an object")
    allowed = {"frame"} | set(AMG_SETTINGS) | set(EVERYTHING_LIMITS)
    _no_unknown_keys(doc, allowed, where, "everything")
    frame = _frame(doc, where, "everything")
    amg: dict[str, Any] = {}
    for key, kind in AMG_SETTINGS.items():
        if key in doc:
            value = doc[key]
            ok = _is_int(value) if kind is int else _is_number(value)
            _expect(
                ok and value >= 0,
                where,
                f"everything.{key}",
                f"must be a{'n integer' if kind is int else ' number'} >= 0",
            )
            amg[key] = kind(value)
    limits = {}
    for key, default in EVERYTHING_LIMITS.items():
        value = doc.get(key, default)
        _expect(_is_int(value) and value >= 1, where, f"everything.{key}", "must be an integer >= 1")
        limits[key] = value
    return Everything(frame, amg, **limits)
