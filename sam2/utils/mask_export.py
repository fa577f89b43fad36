"""The mask export format shared by the web demo's "Export masks" and ``python -m sam2.batch``.

COCO RLE JSON: ``{"video", "width", "height", "num_frames", "fps", "annotations": [{"frame_index",
"object_id", "segmentation": {"size", "counts"}, "area"}, ...]}``, annotations sorted by frame,
then object; and 1-bit PNGs, one per object per frame (0 = background, 1 = object).

With classes (the web demo's labels): ``"categories": [{"id", "name"}]`` and ``"instances": [{"id",
"name", "category_id"}]`` before the annotations, and each annotation's ``"category_id"`` and
``"instance_id"`` (its object id).
"""

from __future__ import annotations

import json
import struct
import zlib
from collections.abc import Iterable
from typing import BinaryIO

import numpy as np

try:  # libdeflate: a sixth smaller than zlib at the same speed (the demo installs it)
    import deflate
except ImportError:  # the library alone: zlib, the same format
    deflate = None

_JSON_CHUNK = 1 << 20  # bytes of JSON written at once
_PNG_LEVEL = 7  # libdeflate level of the PNGs: 8 is 3 % smaller at three times the time
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

Annotation = tuple[int, int, dict, int]  # (frame index, object id, compressed RLE, area)


def write_coco_json(
    head: dict, annotations: Iterable[Annotation], out: BinaryIO, category_of: dict[int, int] | None = None
) -> None:
    """The COCO document, written piece by piece (a heavy video's is ~100 MB).

    ``head``: video, width, height, num_frames, fps, and optionally categories and instances.
    ``category_of``: object id -> category id, given with them. Byte for byte what ``json.dumps``
    of the whole document gives.
    """
    fields = {k: head[k] for k in ("video", "width", "height", "num_frames", "fps", "categories", "instances")
              if k in head}  # fmt: skip
    pieces, size = [json.dumps({**fields, "annotations": []})[:-2]], 0  # up to and including "annotations": [
    for i, (frame, obj, mask, area) in enumerate(annotations):
        ann = {"frame_index": frame, "object_id": obj,
               "segmentation": {"size": mask["size"], "counts": mask["counts"]}, "area": area}  # fmt: skip
        if category_of is not None:
            ann["category_id"], ann["instance_id"] = category_of[obj], obj
        piece = (", " if i else "") + json.dumps(ann)
        pieces.append(piece)
        size += len(piece)
        if size >= _JSON_CHUNK:
            out.write("".join(pieces).encode())
            pieces, size = [], 0
    pieces.append("]}")
    out.write("".join(pieces).encode())


def png(mask: np.ndarray) -> bytes:
    """(H, W) bool mask -> 1-bit grayscale PNG (0 = background, 1 = object).

    The PNG is three chunks: its header, the pixels (each row one filter byte, 0 = none, then the
    row's bits packed MSB first) as one zlib stream, and its end.
    """
    height, width = mask.shape
    rows = np.zeros((height, 1 + (width + 7) // 8), dtype=np.uint8)
    rows[:, 1:] = np.packbits(mask, axis=1)
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)  # bit depth 1, grayscale
    data = rows.tobytes()
    pixels = deflate.zlib_compress(data, _PNG_LEVEL) if deflate is not None else zlib.compress(data, 6)
    return b"".join((_PNG_SIGNATURE, _chunk(b"IHDR", header), _chunk(b"IDAT", pixels), _chunk(b"IEND", b"")))


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(data, zlib.crc32(kind)))
