#!/usr/bin/env python3
"""Download the official SAM 2.1 checkpoints (Meta, Apache-2.0) into CHECKPOINT_DIR.

    python tools/download_checkpoints.py               # size from $MODEL_SIZE, else auto
    python tools/download_checkpoints.py tiny large    # explicit sizes
    python tools/download_checkpoints.py all
    python tools/download_checkpoints.py --family sam2 small   # the older SAM 2 (July 2024) files

"auto" picks what the demo server picks: base_plus when CUDA is available, tiny otherwise.

Each file is streamed into a temporary file in the target folder and only renamed to its
final name after it checked out: byte count equal to the server's Content-Length, a
plausible size for that model, a readable checkpoint archive (torch.save writes a zip whose
every member has a CRC, so truncation or corruption is caught), and the SHA-256 when one is
known (`--sha256`, or the table below). A failed or interrupted download leaves nothing
behind. Offline, it says so and what to do instead, and exits non-zero.

Environment:
    CHECKPOINT_DIR            target folder (default ./checkpoints); --dir overrides it
    MODEL_SIZE                default size(s) when none are given on the command line
    SAM2_CHECKPOINT_BASE_URL  replaces the official download prefix (a mirror; tests)
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
import tempfile
import time
import urllib.error
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path

SIZES = ("tiny", "small", "base_plus", "large")

# Official download prefixes, one per release.
BASE_URLS = {
    "sam2.1": "https://dl.fbaipublicfiles.com/segment_anything_2/092824/",
    "sam2": "https://dl.fbaipublicfiles.com/segment_anything_2/072824/",
}

# Published approximate sizes in MB (1e6 bytes). Used as a plausibility range only: the
# exact byte count comes from the server and is checked against what arrived.
APPROX_MB = {"tiny": 156, "small": 184, "base_plus": 324, "large": 898}

# SHA-256 digests we could verify ourselves. Meta publishes none, so this starts empty;
# add a line here (or pass --sha256) once a digest is confirmed from a trusted download.
KNOWN_SHA256: dict[str, str] = {}

EXIT_OK, EXIT_USAGE, EXIT_NETWORK, EXIT_BAD_FILE = 0, 2, 3, 4


class DownloadError(Exception):
    """A download failed; the message says what to do. `code` is the process exit code."""

    def __init__(self, message: str, code: int = EXIT_NETWORK):
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Checkpoint:
    family: str  # "sam2.1" or "sam2"
    size: str  # one of SIZES

    @property
    def filename(self) -> str:
        return f"{self.family}_hiera_{self.size}.pt"

    def url(self, base_url: str | None = None) -> str:
        base = base_url or BASE_URLS[self.family]
        return base.rstrip("/") + "/" + self.filename

    @property
    def min_bytes(self) -> int:
        # Generous lower bound (80 % of the published size): catches HTML error pages and
        # truncated files without needing the exact number in advance.
        return int(APPROX_MB[self.size] * 1e6 * 0.8)


def default_sizes() -> list[str]:
    """Sizes from $MODEL_SIZE (comma or space separated), else ["auto"]."""
    env = os.environ.get("MODEL_SIZE", "").replace(",", " ").split()
    return env or ["auto"]


def resolve_sizes(requested: list[str]) -> list[str]:
    sizes: list[str] = []
    for name in requested:
        name = name.strip().lower().replace("-", "_").replace("+", "_plus")
        if name == "all":
            sizes.extend(SIZES)
        elif name == "auto":
            sizes.append(_auto_size())
        elif name in SIZES:
            sizes.append(name)
        else:
            raise DownloadError(
                f"unknown model size {name!r}; choose from {', '.join(SIZES)}, 'all' or 'auto'",
                EXIT_USAGE,
            )
    return list(dict.fromkeys(sizes))  # keep order, drop repeats


def _auto_size() -> str:
    try:
        import torch

        return "base_plus" if torch.cuda.is_available() else "tiny"
    except ImportError:
        return "tiny"


def sha256_of(path: Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def check_checkpoint_file(path: Path, ckpt: Checkpoint, expected_sha256: str | None) -> None:
    """Raise DownloadError(EXIT_BAD_FILE) unless `path` looks like an intact checkpoint."""
    size = path.stat().st_size
    if size < ckpt.min_bytes:
        raise DownloadError(
            f"{ckpt.filename}: got {size:,} bytes, expected about {APPROX_MB[ckpt.size]} MB "
            "(an error page or a truncated file?)",
            EXIT_BAD_FILE,
        )
    try:
        with zipfile.ZipFile(path) as archive:
            bad_member = archive.testzip()  # reads every member and checks its CRC
    except Exception as exc:  # noqa: BLE001 - damaged archives fail in many ways (zlib, unicode, EOF)
        raise DownloadError(
            f"{ckpt.filename}: not an intact PyTorch checkpoint archive ({type(exc).__name__}: {exc})",
            EXIT_BAD_FILE,
        ) from None
    if bad_member is not None:
        raise DownloadError(f"{ckpt.filename}: corrupted member {bad_member!r}", EXIT_BAD_FILE)
    if expected_sha256:
        actual = sha256_of(path)
        if actual.lower() != expected_sha256.lower():
            raise DownloadError(
                f"{ckpt.filename}: SHA-256 mismatch (expected {expected_sha256}, got {actual})",
                EXIT_BAD_FILE,
            )


def _offline_advice(ckpt: Checkpoint, url: str, target: Path, reason: object) -> str:
    return (
        f"Could not download {ckpt.filename} from {url}: {reason}.\n"
        "This machine seems to be offline, or the server cannot be reached. Either:\n"
        f"  - download that URL on a machine with internet access and copy the file to {target}, or\n"
        "  - run the demo without a checkpoint on random weights (masks are meaningless, "
        "everything else works): SAM2_DEMO_RANDOM_WEIGHTS=1 make demo"
    )


def download(
    ckpt: Checkpoint,
    target_dir: Path,
    base_url: str | None = None,
    expected_sha256: str | None = None,
    force: bool = False,
    timeout_s: float = 30.0,
    quiet: bool = False,
) -> Path:
    """Fetch one checkpoint into `target_dir`; return the final path. Raises DownloadError."""
    target_dir.mkdir(parents=True, exist_ok=True)
    target = target_dir / ckpt.filename
    expected_sha256 = expected_sha256 or KNOWN_SHA256.get(ckpt.filename)
    if target.exists() and not force:
        if not quiet:
            print(f"{target} already present, skipping (use --force to download again)")
        return target

    url = ckpt.url(base_url)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{ckpt.filename}.", suffix=".part", dir=target_dir)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            _stream(url, out, ckpt, target, timeout_s, quiet)
        check_checkpoint_file(tmp, ckpt, expected_sha256)
        os.chmod(tmp, 0o644)  # mkstemp creates 0600; the server may run as another user
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)  # never leave a half-written file behind
        raise
    if not quiet:
        print(f"saved {target} ({target.stat().st_size / 1e6:.1f} MB)")
    return target


def _stream(url: str, out, ckpt: Checkpoint, target: Path, timeout_s: float, quiet: bool) -> None:
    request = urllib.request.Request(url, headers={"User-Agent": "sam2-checkpoint-downloader"})
    try:
        response = urllib.request.urlopen(request, timeout=timeout_s)
    except urllib.error.HTTPError as exc:
        raise DownloadError(f"{url} answered HTTP {exc.code} {exc.reason}", EXIT_NETWORK) from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise DownloadError(_offline_advice(ckpt, url, target, reason), EXIT_NETWORK) from None

    with response:
        total = int(response.headers.get("Content-Length") or 0)
        received, last_report, started = 0, 0.0, time.monotonic()
        if not quiet:
            print(f"downloading {url} ({total / 1e6:.0f} MB)" if total else f"downloading {url}")
        try:
            while block := response.read(1 << 20):
                out.write(block)
                received += len(block)
                now = time.monotonic()
                if not quiet and now - last_report > 2.0:
                    last_report = now
                    pct = f"{100 * received / total:5.1f} %" if total else ""
                    rate = received / max(now - started, 1e-6) / 1e6
                    print(f"  {received / 1e6:8.1f} MB {pct} {rate:6.1f} MB/s", file=sys.stderr)
        except (OSError, urllib.error.URLError) as exc:  # connection reset, timeout mid-way
            raise DownloadError(
                f"download of {url} broke off after {received:,} bytes: {exc}", EXIT_NETWORK
            ) from None
    if total and received != total:
        raise DownloadError(f"download of {url} ended after {received:,} of {total:,} bytes", EXIT_NETWORK)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Download official SAM 2.1 checkpoints.",
        epilog="Sizes: tiny (~156 MB), small (~184 MB), base_plus (~324 MB), large (~898 MB).",
    )
    parser.add_argument("sizes", nargs="*", help="tiny | small | base_plus | large | all | auto")
    parser.add_argument("--dir", default=os.environ.get("CHECKPOINT_DIR") or "checkpoints")
    parser.add_argument("--family", choices=sorted(BASE_URLS), default="sam2.1")
    parser.add_argument("--sha256", help="expected SHA-256 (only with a single size)")
    parser.add_argument("--force", action="store_true", help="download even if the file exists")
    parser.add_argument("--timeout", type=float, default=30.0, help="network timeout in seconds")
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args(argv)

    base_url = os.environ.get("SAM2_CHECKPOINT_BASE_URL") or None
    try:
        sizes = resolve_sizes(args.sizes or default_sizes())
        if args.sha256 and len(sizes) != 1:
            raise DownloadError("--sha256 needs exactly one model size", EXIT_USAGE)
        for size in sizes:
            download(
                Checkpoint(args.family, size),
                Path(args.dir),
                base_url=base_url,
                expected_sha256=args.sha256,
                force=args.force,
                timeout_s=args.timeout,
                quiet=args.quiet,
            )
    except DownloadError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.code
    except KeyboardInterrupt:
        print("interrupted; no partial file was kept", file=sys.stderr)
        return 130
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
