"""The videos on disk: the gallery, the uploads, their posters, and safe path resolution.

Layout under DATA_PATH:
    gallery/<name>.mp4      videos shipped with the demo (read-only is fine)
    posters/<name>.jpg      their posters (made from the first frame when missing)
    uploads/<key>.mp4       transcoded uploads, <key> = content hash of the upload and trim range
    uploads/<key>.jpg       their posters
    uploads/<key>.json      who uploaded it, under which original name, when it was last used
    uploads/.incoming/      scratch space of uploads in progress (emptied at start-up)

Paths given by clients ("gallery/x.mp4") are resolved here and nowhere else: no "..", no
absolute paths, no symlinks leading out of the data folders. Any junk entry in the folders
(symlink loops, dangling links, pipes, unreadable or damaged files) is skipped with a warning.

Uploads belong to the browser that sent them (its X-Client-Id; "" for clients without one):
`list_videos` shows a client the gallery and its own uploads (all uploads with SHARE_UPLOADS).
Anyone who has an upload's path (a content hash) can still open it. Uploads unused for
UPLOAD_TTL_HOURS are deleted, and the oldest go first when UPLOADS_MAX_MB would be exceeded;
never while a session has them open.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import re
import secrets
import shutil
import stat
import threading
import time
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from . import media
from .errors import BadInput, Busy, InvalidMedia, LimitExceeded, NotFound
from .settings import Settings

log = logging.getLogger(__name__)

TRANSCODE_VERSION = 1  # part of the upload key: bump when the output format changes
_CHUNK = 1 << 20
_UPLOAD_NAME = re.compile(r"^[0-9a-f]{32}\.(mp4|jpg)$")
_STATIC_SUFFIX = {"gallery": ".mp4", "posters": ".jpg"}  # what /gallery/ and /posters/ serve
_MAX_NAME_BYTES = 255  # longest file name the file systems we run on accept
_DISPLAY_NAME_CHARS = 120
InUse = Callable[[], Iterable[str]]  # paths ("uploads/<key>.mp4") that open sessions hold


@dataclass(frozen=True)
class VideoRecord:
    """One video the client can open. Paths are relative to DATA_PATH, with "/" separators."""

    path: str
    poster_path: str | None
    width: int
    height: int
    fps: float
    num_frames: int
    duration_sec: float
    display_name: str = ""
    is_upload: bool = False


@dataclass(frozen=True)
class UploadOwnership:
    """An upload's side file: owner id -> original name, and the last time it was used."""

    names: dict[str, str]
    last_used: float  # time.time() seconds

    def name_for(self, client: str) -> str:
        return self.names.get(client) or next(iter(self.names.values()), "")


def display_name(file_name: object) -> str:
    """An uploaded file's original name, made safe to show (it is never used as a path)."""
    text = file_name if isinstance(file_name, str) else ""
    text = re.split(r"[/\\]", text)[-1]
    text = "".join(c for c in text if not unicodedata.category(c).startswith("C"))
    text = " ".join(text.split())
    return text[:_DISPLAY_NAME_CHARS] or "upload"


def gallery_title(stem: str) -> str:
    """A readable title from a gallery file name: "pedestrians_768x576_24fps" -> "Pedestrians"."""
    words = [w for w in re.split(r"[_\-\s]+", stem) if w and not re.fullmatch(r"\d+x\d+|\d+(fps|p)", w, re.I)]
    title = " ".join(words) or stem
    return title[:1].upper() + title[1:]


class VideoLibrary:
    def __init__(self, settings: Settings):
        self.settings = settings
        self.limits = settings.limits
        self._probe_cache: dict[tuple[str, int, int], VideoRecord] = {}
        self._cache_lock = threading.Lock()
        self._uploads_lock = threading.Lock()  # side files, quota and expiry
        self._transcodes = threading.BoundedSemaphore(self.limits.max_transcodes)
        settings.uploads_dir.mkdir(parents=True, exist_ok=True)
        self._incoming = settings.uploads_dir / ".incoming"
        shutil.rmtree(self._incoming, ignore_errors=True)  # leftovers of a crash mid-upload
        self._incoming.mkdir(exist_ok=True)

    # -- listing -------------------------------------------------------------------------

    def ensure_gallery_posters(self) -> None:
        """Write a poster for each gallery video that lacks one (skipped when read-only), and
        read each one through once, so no request waits for its frames to be counted."""
        try:
            self.settings.posters_dir.mkdir(parents=True, exist_ok=True)
        except OSError:
            return
        for video in self._gallery_files():
            poster = self.settings.posters_dir / f"{video.stem}.jpg"
            if not poster.exists():
                try:
                    media.write_poster(video, poster, self.limits)
                except Exception as exc:  # noqa: BLE001 - a bad gallery file must not stop start-up
                    log.warning("no poster for %s: %s", video.name, exc)
            self._try_record(video)  # after the poster: the record names it

    def list_videos(self, client: str = "") -> list[VideoRecord]:
        """Gallery videos by name, then the client's uploads, newest first. Junk is skipped."""
        records = []
        for path in self._gallery_files():
            record = self._try_record(path)
            if record is not None:
                records.append(record)
        uploads = []
        for path, ownership in self._uploads():
            if not self.limits.share_uploads and client not in ownership.names:
                continue
            record = self._try_record(path)
            if record is not None:
                named = VideoRecord(**{**record.__dict__, "display_name": ownership.name_for(client)})
                uploads.append((ownership.last_used, named))
        uploads.sort(key=lambda item: item[0], reverse=True)
        return records + [record for _, record in uploads]

    def default_video(self) -> VideoRecord:
        wanted = self.settings.default_video
        videos = self.list_videos()
        for video in videos:
            if wanted and PurePosixPath(video.path).name == wanted:
                return video
        if not videos:
            raise NotFound("There are no videos: put .mp4 files into DATA_PATH/gallery or upload one.")
        return videos[0]

    def _try_record(self, path: Path) -> VideoRecord | None:
        try:
            return self._record(path)
        except Exception as exc:  # noqa: BLE001 - one bad file must not break the listing
            log.warning("skipping %s: %s", path.name, exc)
            return None

    def _gallery_files(self) -> list[Path]:
        return self._regular_files(self.settings.gallery_dir, ".mp4")

    def _regular_files(self, folder: Path, suffix: str) -> list[Path]:
        """Regular files (after following links) with this suffix that stay inside `folder`."""
        try:
            entries = sorted(folder.iterdir())
        except OSError:
            return []
        found = []
        for path in entries:
            if path.name.startswith(".") or not path.name.endswith(suffix):
                continue
            try:
                if stat.S_ISREG(path.stat().st_mode) and self._inside(path, folder):
                    found.append(path)
            except (OSError, RuntimeError):  # dangling link, loop, no permission
                continue
        return found

    def _record(self, path: Path) -> VideoRecord:
        stat_ = path.stat()
        key = (str(path), stat_.st_mtime_ns, stat_.st_size)
        with self._cache_lock:
            cached = self._probe_cache.get(key)
        if cached is not None:
            return cached
        info = media.probe(path, self.limits)
        rel = path.relative_to(self.settings.data_path).as_posix()
        is_upload = rel.startswith("uploads/")
        if is_upload:
            poster = path.with_suffix(".jpg")
            num_frames = info.num_frames or max(1, round(info.duration_sec * float(info.fps)))
        else:
            poster = self.settings.posters_dir / f"{path.stem}.jpg"
            # Gallery files are not ours: count what really decodes (a cut file lies in its header).
            num_frames = media.decodable_frames(path, self.limits)
        record = VideoRecord(
            path=rel,
            poster_path=poster.relative_to(self.settings.data_path).as_posix() if _is_file(poster) else None,
            width=info.width,
            height=info.height,
            fps=float(info.fps),
            num_frames=num_frames,
            duration_sec=float(info.duration_sec),
            display_name="" if is_upload else gallery_title(path.stem),
            is_upload=is_upload,
        )
        with self._cache_lock:
            self._probe_cache[key] = record
        return record

    # -- resolving client paths ------------------------------------------------------------

    def resolve_video(self, rel_path: object) -> tuple[Path, VideoRecord]:
        """Validate a client's `path` ("gallery/x.mp4" or "uploads/<key>.mp4") -> (file, record)."""
        if not isinstance(rel_path, str) or not rel_path.strip():
            raise BadInput("path must name a video, e.g. 'gallery/<name>.mp4'.")
        parts = self._safe_parts(rel_path)
        if len(parts) != 2 or parts[0] not in ("gallery", "uploads") or not parts[1].endswith(".mp4"):
            raise BadInput(
                f"path {rel_path!r} is not a video of the gallery or the uploads "
                "(expected 'gallery/<name>.mp4' or 'uploads/<name>.mp4')."
            )
        root = self.settings.gallery_dir if parts[0] == "gallery" else self.settings.uploads_dir
        path = self._existing_file(root, parts[1])
        if path is None:
            raise NotFound(f"There is no video {rel_path!r}.")
        record = self._record(path)
        if record.is_upload:
            ownership = self._ownership(path)
            record = VideoRecord(**{**record.__dict__, "display_name": ownership.name_for("")})
        return path, record

    def static_file(self, folder: str, rel: str) -> Path:
        """File under DATA_PATH/<folder> for the static routes; NotFound for anything else."""
        root = {
            "gallery": self.settings.gallery_dir,
            "posters": self.settings.posters_dir,
            "uploads": self.settings.uploads_dir,
        }[folder]
        try:
            parts = self._safe_parts(rel)
        except BadInput:
            raise NotFound("Not found.") from None
        if any(p.startswith(".") for p in parts):
            raise NotFound("Not found.")
        if folder == "uploads" and not (len(parts) == 1 and _UPLOAD_NAME.match(parts[0])):
            raise NotFound("Not found.")  # videos and posters only: side files name their owners
        if folder != "uploads" and not (len(parts) == 1 and parts[0].endswith(_STATIC_SUFFIX[folder])):
            raise NotFound("Not found.")  # what the listing offers only: no subfolders, no other files
        path = self._existing_file(root, "/".join(parts))
        if path is None:
            raise NotFound("Not found.")
        return path

    @staticmethod
    def _safe_parts(rel: str) -> list[str]:
        if "\x00" in rel or "\\" in rel or rel.startswith("/") or re.match(r"^[A-Za-z]:", rel):
            raise BadInput(f"path {rel!r} must be relative, like 'gallery/<name>.mp4'.")
        parts = [p for p in rel.split("/") if p not in ("", ".")]
        if not parts or any(p == ".." for p in parts):
            raise BadInput(f"path {rel!r} must not leave the data folder.")
        if any(len(p.encode("utf-8", "surrogatepass")) > _MAX_NAME_BYTES for p in parts):
            raise BadInput(f"path names a file longer than {_MAX_NAME_BYTES} bytes; there is no such video.")
        return parts

    def _existing_file(self, root: Path, rel: str) -> Path | None:
        path = root / rel
        if not _is_file(path) or not self._inside(path, root):
            return None
        return path

    @staticmethod
    def _inside(path: Path, root: Path) -> bool:
        """True when `path`, with every symlink followed, still lies inside `root`."""
        try:
            return path.resolve(strict=True).is_relative_to(root.resolve(strict=True))
        except (OSError, RuntimeError):  # RuntimeError: a symlink loop (Python < 3.13)
            return False

    # -- uploads -----------------------------------------------------------------------------

    @property
    def incoming_dir(self) -> Path:
        """Where uploads in progress are written (the request parser streams files here)."""
        return self._incoming

    def store_upload(
        self,
        stream: BinaryIO,
        start_sec: float | None = None,
        duration_sec: float | None = None,
        owner: str = "",
        file_name: object = None,
        in_use: InUse = tuple,
    ) -> VideoRecord:
        """Stream an upload to disk, check it, transcode it and keep it under its content key.

        Nothing is left behind on failure; the same file (and range) uploaded twice is stored once
        (and then belongs to both uploaders, each under the name they gave it).
        """
        start = self._check_time("startTimeSec", start_sec, allow_zero=True) or 0.0
        duration = self._check_time("durationTimeSec", duration_sec, allow_zero=False)
        name = display_name(file_name)
        token = secrets.token_hex(8)
        out_video = self._incoming / f"{token}.mp4"
        out_poster = self._incoming / f"{token}.jpg"
        # The request parser already streamed the file into our scratch folder: use it in place.
        spooled = getattr(stream, "name", None)
        in_place = isinstance(spooled, str) and Path(spooled).parent == self._incoming
        raw = Path(spooled) if in_place else self._incoming / f"{token}.upload"
        try:
            if in_place:
                stream.flush()
                digest = self._hash_file(raw)
            else:
                digest = self._save_stream(stream, raw)
            key = hashlib.sha256(
                f"{digest}|{start!r}|{duration!r}|v{TRANSCODE_VERSION}|{self.limits.max_long_side}"
                f"|{self.limits.max_fps}".encode()
            ).hexdigest()[:32]
            final_video = self.settings.uploads_dir / f"{key}.mp4"
            if not final_video.exists():
                if not self._transcodes.acquire(blocking=False):
                    raise Busy(
                        f"{self.limits.max_transcodes} uploads are being converted right now; "
                        "try again in a moment."
                    )
                try:
                    info = media.probe(raw, self.limits)
                    self._check_range(info, start, duration)
                    media.transcode(raw, out_video, out_poster, info, self.limits, start, duration)
                finally:
                    self._transcodes.release()
                with self._uploads_lock:
                    self._make_room(out_video.stat().st_size + out_poster.stat().st_size, set(in_use()))
                    # Poster first: a video never appears in the listing without its poster.
                    os.replace(out_poster, final_video.with_suffix(".jpg"))
                    os.replace(out_video, final_video)
                log.info("stored upload %s (%s)", final_video.name, info)
            with self._uploads_lock:
                self._own(final_video, owner, name)
            return VideoRecord(**{**self._record(final_video).__dict__, "display_name": name})
        finally:
            for scratch in (out_video, out_poster) if in_place else (raw, out_video, out_poster):
                scratch.unlink(missing_ok=True)  # the parser's own file goes when the request ends

    # -- ownership, expiry and quota of uploads ----------------------------------------------

    def _uploads(self) -> list[tuple[Path, UploadOwnership]]:
        return [(path, self._ownership(path)) for path in self._regular_files(self.settings.uploads_dir, ".mp4")]

    def _ownership(self, video: Path) -> UploadOwnership:
        """The side file of an upload; one missing or damaged counts as anonymous, as old as the video."""
        try:
            doc = json.loads(video.with_suffix(".json").read_text())
            names = {str(k): str(v) for k, v in doc["names"].items()}
            return UploadOwnership(names=names, last_used=float(doc["last_used"]))
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            try:
                mtime = video.stat().st_mtime
            except OSError:
                mtime = 0.0
            return UploadOwnership(names={"": f"upload {video.stem[:8]}"}, last_used=mtime)

    def _write_ownership(self, video: Path, ownership: UploadOwnership) -> None:
        side = video.with_suffix(".json")
        scratch = self._incoming / f"{secrets.token_hex(8)}.json"
        scratch.write_text(json.dumps({"names": ownership.names, "last_used": ownership.last_used}))
        os.replace(scratch, side)

    def _own(self, video: Path, owner: str, name: str) -> None:
        current = self._ownership(video) if video.with_suffix(".json").exists() else None
        names = {**(current.names if current else {}), owner: name}
        self._write_ownership(video, UploadOwnership(names=names, last_used=time.time()))

    def touch_upload(self, video: Path) -> None:
        """Opening an upload keeps it from expiring."""
        with self._uploads_lock:
            try:
                if video.parent == self.settings.uploads_dir and video.exists():
                    current = self._ownership(video)
                    self._write_ownership(video, UploadOwnership(current.names, time.time()))
            except OSError as exc:
                log.warning("cannot note the use of %s: %s", video.name, exc)

    def sweep_uploads(self, in_use: InUse = tuple) -> int:
        """Delete uploads unused for longer than UPLOAD_TTL_HOURS (not those open). Returns how many."""
        cutoff = time.time() - self.limits.upload_ttl_sec
        busy = set(in_use())
        removed = 0
        with self._uploads_lock:
            for path, ownership in self._uploads():
                if ownership.last_used < cutoff and self._rel(path) not in busy:
                    self._remove_upload(path, "expired")
                    removed += 1
        return removed

    def _make_room(self, needed: int, busy: set[str]) -> None:
        """Evict the least recently used uploads until `needed` more bytes fit in the quota."""
        quota = self.limits.uploads_max_bytes
        if needed > quota:
            raise LimitExceeded(
                f"This video needs {needed / 2**20:.1f} MB after conversion, more than the uploads "
                f"quota of {quota / 2**20:g} MB."
            )
        uploads = sorted(self._uploads(), key=lambda item: item[1].last_used)
        used = sum(self._upload_bytes(path) for path, _ in uploads)
        for path, _ in uploads:
            if used + needed <= quota:
                break
            if self._rel(path) in busy:
                continue
            used -= self._upload_bytes(path)
            self._remove_upload(path, "evicted to stay within UPLOADS_MAX_MB")
        if used + needed > quota:
            raise LimitExceeded(
                f"The uploads quota of {quota / 2**20:g} MB is taken by videos that are open right now; "
                "try again later."
            )

    @staticmethod
    def _upload_bytes(video: Path) -> int:
        total = 0
        for part in (video, video.with_suffix(".jpg"), video.with_suffix(".json")):
            try:
                total += part.stat().st_size
            except OSError:
                pass
        return total

    def _remove_upload(self, video: Path, why: str) -> None:
        # Video first: once it is gone the upload is no longer listed or openable.
        for part in (video, video.with_suffix(".jpg"), video.with_suffix(".json")):
            try:
                part.unlink(missing_ok=True)
            except OSError as exc:
                log.warning("cannot remove %s: %s", part.name, exc)
        log.info("removed upload %s (%s)", video.name, why)

    def _rel(self, path: Path) -> str:
        return path.relative_to(self.settings.data_path).as_posix()

    def _hash_file(self, path: Path) -> str:
        size = path.stat().st_size
        if size > self.limits.max_upload_bytes:
            raise LimitExceeded(f"The upload is larger than the limit of {self.limits.max_upload_mb:g} MB.")
        if size == 0:
            raise InvalidMedia("The uploaded file is empty.")
        hasher = hashlib.sha256()
        with open(path, "rb") as source:
            while chunk := source.read(_CHUNK):
                hasher.update(chunk)
        return hasher.hexdigest()

    def _save_stream(self, stream: BinaryIO, target: Path) -> str:
        """Copy in 1 MiB chunks (never the whole file in memory); returns the sha256 hex digest."""
        hasher = hashlib.sha256()
        size = 0
        with open(target, "wb") as out:
            while chunk := stream.read(_CHUNK):
                size += len(chunk)
                if size > self.limits.max_upload_bytes:
                    raise LimitExceeded(
                        f"The upload is larger than the limit of {self.limits.max_upload_mb:g} MB."
                    )
                hasher.update(chunk)
                out.write(chunk)
        if size == 0:
            raise InvalidMedia("The uploaded file is empty.")
        return hasher.hexdigest()

    @staticmethod
    def _check_time(name: str, value: float | None, allow_zero: bool) -> float | None:
        if value is None:
            return None
        if not isinstance(value, (int, float)) or not math.isfinite(value):
            raise BadInput(f"{name} must be a finite number of seconds.")
        if value < 0 or (value == 0 and not allow_zero):
            raise BadInput(f"{name} must be {'>= 0' if allow_zero else '> 0'} seconds, got {value}.")
        return float(value)

    def _check_range(self, info: media.VideoProbe, start: float, duration: float | None) -> None:
        total = float(info.duration_sec)
        if start >= total:
            raise BadInput(f"startTimeSec={start:g} is at or after the end of the video ({total:.2f} s).")
        length = min(duration, total - start) if duration is not None else total - start
        limit = self.limits.max_duration_sec
        if length > limit + 1e-3:
            raise LimitExceeded(
                f"The video is {length:.2f} s long from the start time; the limit is {limit:g} s. "
                f"Pass durationTimeSec <= {limit:g} (and startTimeSec) to upload a part of it."
            )


def _is_file(path: Path) -> bool:
    """Path.is_file that answers False (not an error) for names too long, loops, no permission."""
    try:
        return path.is_file()
    except (OSError, ValueError):
        return False
