"""Mask export formats: COCO RLE JSON, or a zip of 1-bit PNGs (one per object per frame) with that
JSON inside as masks.json and the objects' details as objects.json. Labels are COCO categories,
objects (their ids) instances, as in the page's own exports.

Works from a snapshot of the masks a session remembers (`Session.masks`: the last result of every
frame, from clicks and propagation), so an export costs no model time. Building, caching and
bounding the work is export_builds.py's job; this module only turns masks into bytes.

Where the time went (16 objects x 132 frames at 1280x720, random-weight masks of ~36k runs
each, 2 cores): decoding RLE strings in Python (~11 ms a mask, twice: once for the area, once
for the PNG) and PNG's default zlib level (~13 ms a mask). Now: NumPy decoding (~1 ms), one
decode per mask for both area and PNG, and PNGs written here around libdeflate at level 7 (~3 ms
a mask, a sixth smaller than zlib's run-length strategy at the same speed, which Pillow offers).
masks.json cannot be deflated much by anyone in a 32 KB window (one noisy mask's RLE is larger):
zlib level 4 is nearly what level 9 gives.
"""

from __future__ import annotations

import hashlib
import io
import json
import unicodedata
import zipfile
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import BinaryIO
from urllib.parse import quote

import numpy as np

from sam2.utils import mask_export

from . import rle
from .sessions import Session
from .storage.database import StoredObject

UNLABELLED = "unlabelled"  # the category of objects without a label (the page's name for it)

_JSON_CHUNK = 1 << 20  # bytes of JSON written at once
_JSON_LEVEL = 4  # zlib level of masks.json in the zip (see the top)


@dataclass(frozen=True)
class MaskSnapshot:
    """What an export writes: a session's masks at one `masks_version`, with the video's facts."""

    session_id: str
    version: int
    video: str
    width: int
    height: int
    num_frames: int
    fps: float
    masks: list[tuple[int, int, dict]]  # (frame index, object id, RLE), sorted by frame, object
    # The session's named objects (names, colours, labels, ranges), by id: the categories and
    # instances. Objects with masks but no row here are unlabelled instances.
    objects: tuple[StoredObject, ...] = ()

    @staticmethod
    def of_objects_key(objects) -> str:
        """Changes when the objects' details do (exports are cached by it and `version`)."""
        text = json.dumps([[o.object_id, o.name, o.color, o.label, o.first_frame, o.last_frame] for o in objects])
        return hashlib.sha256(text.encode()).hexdigest()[:12]

    @classmethod
    def of(cls, session: Session, objects: list[StoredObject] | tuple[StoredObject, ...] = ()) -> MaskSnapshot:
        # The version first: a propagation may add frames meanwhile, and the cache must never
        # label newer masks with an older version than they had (older is harmless: rebuilt).
        version = session.masks_version
        frames = {frame: dict(objects) for frame, objects in list(session.masks.items())}
        masks = [(f, obj, frames[f][obj]) for f in sorted(frames) for obj in sorted(frames[f])]
        video = session.video
        return cls(session.id, version, video.path, session.width, session.height,
                   session.num_frames, video.fps, masks, tuple(objects))  # fmt: skip


png = mask_export.png  # the library's writer: the batch job writes the same PNGs


def area_and_png(mask_rle: dict) -> tuple[int, bytes]:
    """One decode serves both: the area for masks.json, the pixels for the PNG."""
    mask = rle.decode(mask_rle)
    return int(np.count_nonzero(mask)), png(mask)


@dataclass(frozen=True)
class Catalogue:
    """Labels as COCO categories, objects as instances (as the page's own exports make them)."""

    categories: list[dict]  # [{"id", "name"}]: each label once, in the order of its first object
    instances: list[dict]  # [{"id", "name", "category_id"}]: every object, by id
    category_of: dict[int, int]  # object id -> category id

    @classmethod
    def of(cls, snapshot: MaskSnapshot) -> Catalogue:
        named = {o.object_id: o for o in snapshot.objects}
        ids = sorted(set(named) | {obj for _, obj, _ in snapshot.masks})
        labels = [named[i].label if i in named and named[i].label else UNLABELLED for i in ids]
        # The labels objects have, then "unlabelled" last (after the label set, as the page puts it).
        order = [name for name in dict.fromkeys(labels) if name != UNLABELLED]
        if UNLABELLED in labels:
            order.append(UNLABELLED)
        category = {name: i + 1 for i, name in enumerate(order)}
        category_of = {i: category[label] for i, label in zip(ids, labels, strict=True)}
        instances = [{"id": i, "name": named[i].name if i in named and named[i].name else f"Object {i}",
                      "category_id": category_of[i]} for i in ids]  # fmt: skip
        return cls([{"id": c, "name": name} for name, c in category.items()], instances, category_of)


def write_json(snapshot: MaskSnapshot, areas: list[int], out: BinaryIO) -> None:
    """The COCO document (sam2/utils/mask_export.py: the format the batch job writes too, here
    with the session's labels as categories and its objects as instances)."""
    catalogue = Catalogue.of(snapshot)
    head = {"video": snapshot.video, "width": snapshot.width, "height": snapshot.height,
            "num_frames": snapshot.num_frames, "fps": snapshot.fps,
            "categories": catalogue.categories, "instances": catalogue.instances}  # fmt: skip
    annotations = ((frame, obj, mask, area) for (frame, obj, mask), area in zip(snapshot.masks, areas, strict=True))
    mask_export.write_coco_json(head, annotations, out, catalogue.category_of)


def objects_json(snapshot: MaskSnapshot) -> bytes:
    """The zip's objects.json: the label set, the categories, and each object (instance) with
    its label, category, PNG folder and frame range."""
    catalogue = Catalogue.of(snapshot)
    named = {o.object_id: o for o in snapshot.objects}
    objects = []
    for inst in catalogue.instances:
        o = named.get(inst["id"])
        first = o.first_frame if o is not None and o.first_frame is not None else 0
        last = o.last_frame if o is not None and o.last_frame is not None else snapshot.num_frames - 1
        objects.append({"id": inst["id"], "name": inst["name"], "color": o.color if o is not None else "",
                        "label": o.label if o is not None else "", "category_id": inst["category_id"],
                        "folder": f"object_{inst['id']}", "first_frame": first, "last_frame": last})  # fmt: skip
    doc = {"video": snapshot.video, "width": snapshot.width, "height": snapshot.height,
           "num_frames": snapshot.num_frames, "labels": [c["name"] for c in catalogue.categories if c["name"] != UNLABELLED],
           "categories": catalogue.categories, "objects": objects}  # fmt: skip
    return json.dumps(doc, indent=1).encode()


def write_zip(
    snapshot: MaskSnapshot,
    rendered: Iterator[tuple[int, bytes]],
    json_into: Callable[[list[int]], AbstractContextManager[BinaryIO]],
    out: BinaryIO,
) -> None:
    """PNG entries in mask order, then masks.json (the areas are known only after the PNGs).

    `rendered` gives (area, PNG) for each mask of the snapshot, in order; `json_into(areas)`
    writes the COCO JSON somewhere and returns it opened for reading. `out` is written once,
    front to back (never seeked), so it can be sent while written. PNGs are stored, not deflated
    again: they are compressed already; masks.json is deflated.
    """
    areas: list[int] = []
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_STORED) as archive:
        for (frame, obj, _), (area, data) in zip(snapshot.masks, rendered, strict=True):
            archive.writestr(_entry(f"object_{obj}/{frame:05d}.png"), data)
            areas.append(area)
        archive.writestr(_entry("objects.json"), objects_json(snapshot), zipfile.ZIP_DEFLATED)
        with json_into(areas) as doc:
            entry = _entry("masks.json")
            # RLE text deflates to about 60 % (~2.4 s for 90 MB); the PNGs before it are
            # compressed already. (zipfile names the level only privately.)
            entry.compress_type = zipfile.ZIP_DEFLATED
            entry._compresslevel = _JSON_LEVEL
            entry.file_size = doc.seek(0, io.SEEK_END)  # so zipfile knows whether it needs ZIP64
            doc.seek(0)
            with archive.open(entry, "w") as target:
                while chunk := doc.read(_JSON_CHUNK):
                    target.write(chunk)


def _entry(name: str) -> zipfile.ZipInfo:
    """A fixed time stamp: the same masks always give the same bytes."""
    return zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))


def attachment(file_name: str) -> str:
    """A Content-Disposition value for a download named after a user's file (RFC 6266).

    `filename*` carries the name in UTF-8; `filename` an ASCII stand-in for old clients. Control
    characters (CR/LF would split the header), quotes, backslashes and slashes never pass.
    """
    name = "".join(c for c in file_name if not unicodedata.category(c).startswith("C")).strip() or "masks"
    name = name.replace("/", "_").replace("\\", "_")
    stem, dot, suffix = name.rpartition(".") if "." in name else (name, "", "")
    ascii_name = (_ascii(stem).strip(" ._") or "download") + (
        f".{_ascii(suffix)}" if dot and _ascii(suffix) else ""
    )
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name, safe='')}"


def _ascii(text: str) -> str:
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "".join(c if c.isalnum() or c in "._- " else "_" for c in text)
