"""Mask export: COCO RLE JSON, or a zip of PNGs (one per object per frame) with that JSON inside.

Works from the masks a session remembers (`Session.masks`: the last result of every frame,
from clicks and propagation), so an export costs no model time. A zip is streamed to the client
while it is written to a cache file (memory stays bounded whatever its size); the same export of
an unchanged session is served from that file. At most MAX_EXPORTS zips are built at once.
"""

from __future__ import annotations

import io
import json
import logging
import os
import secrets
import shutil
import threading
import unicodedata
import zipfile
from collections.abc import Callable, Generator, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import quote

from PIL import Image

from . import rle
from .errors import Busy
from .sessions import Session

log = logging.getLogger(__name__)
_BATCH = 32  # PNGs encoded at once (the encoder releases the GIL: two threads use two cores)
_CHUNK = 1 << 20


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


def attachment(file_name: str) -> str:
    """A Content-Disposition value for a download named after a user's file (RFC 6266).

    `filename*` carries the name in UTF-8; `filename` an ASCII stand-in for old clients. Control
    characters (CR/LF would split the header), quotes, backslashes and slashes never pass.
    """
    name = "".join(c for c in file_name if not unicodedata.category(c).startswith("C")).strip() or "masks"
    name = name.replace("/", "_").replace("\\", "_")
    stem, dot, suffix = name.rpartition(".") if "." in name else (name, "", "")
    ascii_name = (_ascii(stem).strip(" ._") or "download") + (f".{_ascii(suffix)}" if dot and _ascii(suffix) else "")
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name, safe='')}"


def _ascii(text: str) -> str:
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "".join(c if c.isalnum() or c in "._- " else "_" for c in text)


def png(mask_rle: dict) -> bytes:
    """One mask as a 1-bit grayscale PNG (0 = background, 1 = object; viewers show black/white)."""
    buffer = io.BytesIO()
    Image.fromarray(rle.decode(mask_rle)).save(buffer, format="PNG")
    return buffer.getvalue()


class _Tee(io.RawIOBase):
    """Writes to a file and keeps what was written since the last `take()`; not seekable, so
    zipfile writes each entry once, in order (data descriptors), as a stream needs."""

    def __init__(self, file):
        self.file = file
        self.pending: list[bytes] = []

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        data = bytes(data)
        self.file.write(data)
        self.pending.append(data)
        return len(data)

    def take(self) -> bytes:
        out, self.pending = b"".join(self.pending), []
        return out


class ExportCache:
    """Builds zip exports with bounded concurrency and keeps the latest one of each session."""

    def __init__(self, folder: Path, max_concurrent: int):
        self.folder = folder
        self.max_concurrent = max_concurrent
        shutil.rmtree(folder, ignore_errors=True)  # left over from an earlier run
        folder.mkdir(parents=True, exist_ok=True)
        self._slots = threading.BoundedSemaphore(max_concurrent)

    def zip_stream(self, session: Session) -> Iterator[bytes]:
        """The zip's bytes, from the cache or built while sent. Raises Busy when all slots build."""
        version = session.masks_version
        cached = self.folder / f"{session.id}-{version}.zip"
        if cached.is_file():
            return _read_chunks(cached)
        if not self._slots.acquire(blocking=False):
            raise Busy(f"{self.max_concurrent} exports are being built right now; try again in a moment.")
        return _SlotHeld(self._build(session, version, cached), self._slots.release)

    def _build(self, session: Session, version: int, cached: Path) -> Generator[bytes]:
        scratch = self.folder / f".{secrets.token_hex(8)}.part"
        try:
            doc = coco_json(session)
            with open(scratch, "wb") as file, ThreadPoolExecutor(2) as pool:
                tee = _Tee(file)
                with zipfile.ZipFile(tee, "w", compression=zipfile.ZIP_STORED) as archive:  # PNGs are compressed
                    archive.writestr(_entry("masks.json"), json.dumps(doc))
                    annotations = doc["annotations"]
                    for i in range(0, len(annotations), _BATCH):
                        batch = annotations[i : i + _BATCH]
                        for ann, data in zip(batch, pool.map(lambda a: png(a["segmentation"]), batch)):
                            name = f"object_{ann['object_id']}/{ann['frame_index']:05d}.png"
                            archive.writestr(_entry(name), data)
                        yield tee.take()
                yield tee.take()  # the central directory
            for old in self.folder.glob(f"{session.id}-*.zip"):
                old.unlink(missing_ok=True)
            os.replace(scratch, cached)
        finally:
            scratch.unlink(missing_ok=True)  # a client that hung up leaves no half file

    def sweep(self, live_sessions: set[str]) -> None:
        """Remove the cached exports of sessions that ended."""
        for path in self.folder.glob("*.zip"):
            if path.name.rsplit("-", 1)[0] not in live_sessions:
                path.unlink(missing_ok=True)


class _SlotHeld:
    """A build's chunks that hold an export slot until they run out, fail or are closed.

    A generator's `finally` is not enough: closing a generator that never started runs none of
    its body, and a HEAD request (or a response dropped before its body) never starts it.
    """

    def __init__(self, chunks: Generator[bytes], release: Callable[[], None]):
        self._chunks = chunks
        self._release: Callable[[], None] | None = release

    def __iter__(self) -> _SlotHeld:
        return self

    def __next__(self) -> bytes:
        try:
            return next(self._chunks)
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        try:
            self._chunks.close()
        finally:
            release, self._release = self._release, None
            if release is not None:
                release()


def _entry(name: str) -> zipfile.ZipInfo:
    """A fixed time stamp: the same masks always give the same bytes."""
    return zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))


def _read_chunks(path: Path) -> Iterator[bytes]:
    with open(path, "rb") as file:
        while chunk := file.read(_CHUNK):
            yield chunk
