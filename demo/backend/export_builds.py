"""Export builds: in the background, bounded, cached, and at a lower CPU priority than clicks.

An export (`format` coco or zip of one session at one `masks_version`) is built once, by a
builder thread, into a file under DATA_PATH/.exports; it is then served from that file until
the session's masks change. Requests that come while it is being built follow the file as it
grows (the zip is written front to back for this), so the first bytes go out at once and four
clients asking for the same export cost one build. At most MAX_EXPORTS builds run at once; a
request that would start another is answered "busy".

Why builds are not tied to the request: a slot held by a response's body is given back only if
the server closes that body (a HEAD request or a client that hangs up early skipped it once,
and slots leaked). A build holds its slot from start to end in its own thread, whatever the
clients do; one that every client left finishes anyway and is cached for the retry.

Why a lower priority: on a CPU server a click's model call needs every core. The builders and
their PNG encoders run in threads with a higher nice value (Linux sets it per thread), so the
scheduler gives a click's threads the cores first; the encoders hold the GIL only between
NumPy/zlib calls, which release it.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import secrets
import shutil
import tempfile
import threading
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import BinaryIO

from . import export, rle
from .errors import Busy
from .sessions import Session
from .storage.database import StoredObject

log = logging.getLogger(__name__)
FORMATS = {"coco": "json", "zip": "zip"}  # format -> file suffix
_CHUNK = 1 << 20  # bytes sent at once


class ExportFailed(RuntimeError):
    """The build of an export failed; its followers' bodies end with this."""


class ExportBuilds:
    """Builds exports with bounded concurrency and keeps the latest of each session and format."""

    def __init__(self, folder: Path, max_concurrent: int, encoder_threads: int = 2, nice: int = 10):
        self.folder = folder
        self.max_concurrent = max_concurrent
        shutil.rmtree(folder, ignore_errors=True)  # left over from an earlier run
        folder.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        # (session id, "<masks version>_<objects key>", format) -> its build
        self._building: dict[tuple[str, str, str], _Build] = {}
        lower = functools.partial(_lower_priority, nice)
        self._builders = ThreadPoolExecutor(max_concurrent, "export-build", initializer=lower)
        self._encoders = ThreadPoolExecutor(encoder_threads, "export-encode", initializer=lower)
        self._batch = 8 * encoder_threads  # masks decoded at once: bounds memory (~1 MB each)

    def stream(self, session: Session, fmt: str, objects: list[StoredObject] | None = None) -> Iterator[bytes]:
        """The export's bytes: from the cache, or from a build while it is written. Raises Busy
        when MAX_EXPORTS other builds are running. `objects`: the session's named objects (their
        labels are the categories); the cache tells their versions apart too."""
        suffix = FORMATS[fmt]
        objects_key = export.MaskSnapshot.of_objects_key(objects or [])
        key = (session.id, f"{session.masks_version}_{objects_key}", fmt)
        with self._lock:
            build = self._building.get(key)
            if build is None:
                with contextlib.suppress(FileNotFoundError):  # (a newer version's build may just remove it)
                    return _Chunks(open(self._path(*key), "rb"))  # noqa: SIM115 - closed by the response
                if len(self._building) >= self.max_concurrent:
                    raise Busy(
                        f"{self.max_concurrent} exports are being built right now; try again in a moment."
                    )
                snapshot = export.MaskSnapshot.of(session, objects or [])
                key = (session.id, f"{snapshot.version}_{objects_key}", fmt)
                build = _Build(self.folder / f".{secrets.token_hex(8)}.{suffix}.part", self._path(*key))
                self._building[key] = build
                self._builders.submit(self._run, key, build, snapshot)
            return build.follow()

    def building(self) -> int:
        with self._lock:
            return len(self._building)

    def sweep(self, live_sessions: set[str]) -> None:
        """Remove the cached exports of sessions that ended."""
        for path in self.folder.iterdir():
            if not path.name.startswith(".") and path.name.rsplit("-", 1)[0] not in live_sessions:
                path.unlink(missing_ok=True)

    # -- building ------------------------------------------------------------------------------

    def _path(self, session_id: str, version: str, fmt: str) -> Path:
        return self.folder / f"{session_id}-{version}.{FORMATS[fmt]}"

    def _run(self, key: tuple[str, str, str], build: _Build, snapshot: export.MaskSnapshot) -> None:
        session_id, version, fmt = key
        error: BaseException | None = None
        try:
            with open(build.scratch, "ab") as out:
                if fmt == "coco":
                    areas = self._parallel(rle.area, [m for _, _, m in snapshot.masks])
                    export.write_json(snapshot, list(areas), _Published(out, build))
                else:
                    rendered = self._parallel(export.area_and_png, [m for _, _, m in snapshot.masks])
                    json_into = self._json_beside(snapshot, session_id, version)
                    export.write_zip(snapshot, rendered, json_into, _Published(out, build))
            self._forget_older(session_id, version, FORMATS[fmt])
        except BaseException as exc:  # noqa: BLE001 - the followers get it, the log too
            error = exc
            log.exception("export %s of session %s… failed", fmt, session_id[:6])
        finally:
            build.finish(error)
            with self._lock:
                self._building.pop(key, None)

    def _parallel(self, work, items: list) -> Iterator:
        """work(item) for each item, in order, on the encoder threads, at most `_batch` ahead."""
        pending: deque[Future] = deque()
        for item in items:
            pending.append(self._encoders.submit(work, item))
            if len(pending) >= self._batch:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()

    def _json_beside(self, snapshot: export.MaskSnapshot, session_id: str, version: str):
        """For a zip's masks.json: write the COCO export to the cache too (the same bytes), unless
        it is there or being built, and hand it back for reading."""

        @contextlib.contextmanager
        def json_into(areas: list[int]) -> Iterator[BinaryIO]:
            target = self._path(session_id, version, "coco")
            with self._lock:
                wanted = not target.is_file() and (session_id, version, "coco") not in self._building
            with tempfile.NamedTemporaryFile("w+b", dir=self.folder, prefix=".", suffix=".json.part") as doc:
                export.write_json(snapshot, areas, doc)
                doc.flush()
                if wanted:
                    with contextlib.suppress(OSError):
                        os.link(doc.name, target)  # fails harmlessly if a build just made it
                doc.seek(0)
                yield doc

        return json_into

    def _forget_older(self, session_id: str, version: str, suffix: str) -> None:
        """Remove exports of older mask versions, and of this one with other objects' details."""
        masks_version = int(version.split("_")[0])
        for path in self.folder.glob(f"{session_id}-*.{suffix}"):
            other = path.stem.rsplit("-", 1)[1]
            older = other.split("_")[0]
            if older.isdigit() and (int(older) < masks_version or (int(older) == masks_version and other != version)):
                path.unlink(missing_ok=True)


class _Build:
    """One export being written: its file, how much of it is final, and whether it ended."""

    def __init__(self, scratch: Path, final: Path):
        self.scratch, self.final = scratch, final
        self.path = scratch  # becomes `final` when done (followers open whichever is current)
        scratch.touch()
        self.size = 0  # bytes written and flushed: followers may read this far
        self.done = False
        self.error: BaseException | None = None
        self.changed = threading.Condition()

    def published(self, size: int) -> None:
        with self.changed:
            self.size = size
            self.changed.notify_all()

    def finish(self, error: BaseException | None) -> None:
        with self.changed:
            if error is None:
                os.replace(self.scratch, self.final)
                self.path = self.final
            else:
                self.scratch.unlink(missing_ok=True)  # a failed build leaves no half file
            self.done, self.error = True, error
            self.changed.notify_all()

    def follow(self) -> Iterator[bytes]:
        with self.changed:
            if self.error is not None:
                raise ExportFailed("The export could not be built.") from self.error
            return _Chunks(open(self.path, "rb"), self)  # noqa: SIM115 - closed by the response


class _Published:
    """The build's file as zipfile/json see it: written once, front to back (never seeked), each
    write flushed and published to the followers."""

    def __init__(self, file: BinaryIO, build: _Build):
        self.file, self.build, self.offset = file, build, 0

    def write(self, data) -> int:
        self.file.write(data)
        self.file.flush()
        self.offset += len(data)
        self.build.published(self.offset)
        return len(data)

    def flush(self) -> None:
        self.file.flush()

    def tell(self) -> int:
        return self.offset

    def seekable(self) -> bool:
        return False


class _Chunks:
    """A file's bytes for a response body, following a build until it ends. Its file is opened
    at once and closed by `close()`, which the server calls even when it sends no body (HEAD)."""

    def __init__(self, file: BinaryIO, build: _Build | None = None):
        self.file, self.build, self.offset = file, build, 0

    def __iter__(self) -> _Chunks:
        return self

    def __next__(self) -> bytes:
        while True:
            limit = _CHUNK if self.build is None else min(_CHUNK, self._wait_for_more())
            chunk = self.file.read(limit) if limit > 0 else b""
            if chunk:
                self.offset += len(chunk)
                return chunk
            self.close()
            raise StopIteration

    def _wait_for_more(self) -> int:
        """Bytes readable now (0: the build ended and all was read). Raises if it failed."""
        build = self.build
        with build.changed:
            build.changed.wait_for(lambda: build.size > self.offset or build.done)
            if build.size > self.offset:
                return build.size - self.offset
            if build.error is not None:
                self.close()
                raise ExportFailed("The export could not be built.") from build.error
            return 0

    def close(self) -> None:
        self.file.close()


def _lower_priority(nice: int) -> None:
    """Raise this thread's nice value by `nice` (Linux: nice is per thread); elsewhere a no-op."""
    with contextlib.suppress(AttributeError, OSError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), os.getpriority(os.PRIO_PROCESS, 0) + nice)
