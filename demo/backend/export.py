"""Mask export: COCO RLE JSON, or a zip of PNGs (one per object per frame) with that JSON inside.

Works from the masks a session remembers (`Session.masks`: the last result of every frame,
from clicks and propagation), so an export costs no model time.
"""

from __future__ import annotations

import io
import json
import tempfile
import zipfile
from typing import IO

from PIL import Image

from . import rle
from .sessions import Session


def coco_json(session: Session) -> dict:
    """{"video", "width", "height", "num_frames", "fps", "annotations": [...]}, sorted by frame, object."""
    # Snapshot first: a propagation may be adding frames from another thread.
    masks = {frame: dict(objects) for frame, objects in list(session.masks.items())}
    annotations = [
        {
            "frame_index": frame,
            "object_id": obj,
            "segmentation": {"size": mask["size"], "counts": mask["counts"]},
            "area": rle.area(mask),
        }
        for frame in sorted(masks)
        for obj, mask in sorted(masks[frame].items())
    ]
    return {
        "video": session.video.path,
        "width": session.width,
        "height": session.height,
        "num_frames": session.num_frames,
        "fps": session.video.fps,
        "annotations": annotations,
    }


def png_zip(session: Session) -> IO[bytes]:
    """A zip file (spooled to disk past 16 MB): object_<k>/<frame:05d>.png (0/255) + masks.json."""
    out = tempfile.SpooledTemporaryFile(max_size=16 << 20)  # noqa: SIM115 - returned open to the caller
    doc = coco_json(session)
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_STORED) as archive:  # PNGs are compressed
        archive.writestr("masks.json", json.dumps(doc))
        for ann in doc["annotations"]:
            mask = rle.decode(ann["segmentation"])
            buffer = io.BytesIO()
            Image.fromarray(mask.astype("uint8") * 255, mode="L").save(buffer, format="PNG", optimize=False)
            archive.writestr(f"object_{ann['object_id']}/{ann['frame_index']:05d}.png", buffer.getvalue())
    out.seek(0)
    return out
