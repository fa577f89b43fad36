"""The videos on disk: the gallery, the uploads, their posters, and safe path resolution.

Layout under DATA_PATH:
    gallery/<name>.mp4      videos shipped with the demo (read-only is fine)
    posters/<name>.jpg      their posters (made from the first frame when missing)
    uploads/<key>.mp4       transcoded uploads, <key> = content hash of the upload and trim range
    uploads/<key>.jpg       their posters
    uploads/.incoming/      scratch space of uploads in progress (emptied at start-up)

Paths given by clients ("gallery/x.mp4") are resolved here and nowhere else: no "..", no
absolute paths, no symlinks leading out of the data folders.
"""

from __future__ import annotations

import hashlib
import logging
import math
import os
import re
import secrets
import shutil
import threading
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from . import media
from .errors import BadInput, DemoError, InvalidMedia, LimitExceeded, NotFound
from .settings import Settings

log = logging.getLogger(__name__)

TRANSCODE_VERSION = 1  # part of the upload key: bump when the output format changes
_CHUNK = 1 << 20
_UPLOAD_NAME = re.compile(r"^[0-9a-f]{32}\.(mp4|jpg)$")


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


class VideoLibrary:
    def __init__(self, settings: Settings):
        self.settings = settings
        self.limits = settings.limits
        self._probe_cache: dict[tuple[str, int, int], VideoRecord] = {}
        self._cache_lock = threading.Lock()
        settings.uploads_dir.mkdir(parents=True, exist_ok=True)
        self._incoming = settings.uploads_dir / ".incoming"
        shutil.rmtree(self._incoming, ignore_errors=True)  # leftovers of a crash mid-upload
        self._incoming.mkdir(exist_ok=True)

    # -- listing -------------------------------------------------------------------------

    def ensure_gallery_posters(self) -> None:
        """Write a poster for each gallery video that lacks one (skipped when read-only)."""
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

    def list_videos(self) -> list[VideoRecord]:
        """Gallery videos by name, then uploads, newest first. Unreadable files are skipped."""
        uploads = sorted(
            self.settings.uploads_dir.glob("*.mp4"), key=lambda p: p.stat().st_mtime, reverse=True
        )
        records = []
        for path in [*self._gallery_files(), *uploads]:
            try:
                records.append(self._record(path))
            except (OSError, DemoError) as exc:
                log.warning("skipping %s: %s", path.name, exc)
        return records

    def default_video(self) -> VideoRecord:
        wanted = self.settings.default_video
        videos = self.list_videos()
        for video in videos:
            if wanted and PurePosixPath(video.path).name == wanted:
                return video
        if not videos:
            raise NotFound("There are no videos: put .mp4 files into DATA_PATH/gallery or upload one.")
        return videos[0]

    def _gallery_files(self) -> list[Path]:
        gallery = self.settings.gallery_dir
        if not gallery.is_dir():
            return []
        return sorted(p for p in gallery.glob("*.mp4") if self._inside(p, gallery) and p.is_file())

    def _record(self, path: Path) -> VideoRecord:
        stat = path.stat()
        key = (str(path), stat.st_mtime_ns, stat.st_size)
        with self._cache_lock:
            cached = self._probe_cache.get(key)
        if cached is not None:
            return cached
        info = media.probe(path, self.limits)
        rel = path.relative_to(self.settings.data_path).as_posix()
        if rel.startswith("uploads/"):
            poster = path.with_suffix(".jpg")
        else:
            poster = self.settings.posters_dir / f"{path.stem}.jpg"
        num_frames = info.num_frames or max(1, round(info.duration_sec * float(info.fps)))
        record = VideoRecord(
            path=rel,
            poster_path=poster.relative_to(self.settings.data_path).as_posix() if poster.exists() else None,
            width=info.width,
            height=info.height,
            fps=float(info.fps),
            num_frames=num_frames,
            duration_sec=float(info.duration_sec),
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
        return path, self._record(path)

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
        return parts

    def _existing_file(self, root: Path, rel: str) -> Path | None:
        path = root / rel
        if not path.is_file() or not self._inside(path, root):
            return None
        return path

    @staticmethod
    def _inside(path: Path, root: Path) -> bool:
        """True when `path`, with every symlink followed, still lies inside `root`."""
        try:
            return path.resolve(strict=True).is_relative_to(root.resolve(strict=True))
        except OSError:
            return False

    # -- uploads -----------------------------------------------------------------------------

    @property
    def incoming_dir(self) -> Path:
        """Where uploads in progress are written (the request parser streams files here)."""
        return self._incoming

    def store_upload(
        self, stream: BinaryIO, start_sec: float | None = None, duration_sec: float | None = None
    ) -> VideoRecord:
        """Stream an upload to disk, check it, transcode it and keep it under its content key.

        Nothing is left behind on failure; the same file (and range) uploaded twice is stored once.
        """
        start = self._check_time("startTimeSec", start_sec, allow_zero=True) or 0.0
        duration = self._check_time("durationTimeSec", duration_sec, allow_zero=False)
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
            if final_video.exists():
                return self._record(final_video)
            info = media.probe(raw, self.limits)
            self._check_range(info, start, duration)
            media.transcode(raw, out_video, out_poster, info, self.limits, start, duration)
            # Poster first: a video never appears in the listing without its poster.
            os.replace(out_poster, final_video.with_suffix(".jpg"))
            os.replace(out_video, final_video)
            log.info("stored upload %s (%s)", final_video.name, info)
            return self._record(final_video)
        finally:
            for scratch in (out_video, out_poster) if in_place else (raw, out_video, out_poster):
                scratch.unlink(missing_ok=True)  # the parser's own file goes when the request ends

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
