"""Zip export: streamed while written (bounded memory), cached per session and mask version,
bounded concurrency, nothing half-written when the client hangs up."""

from __future__ import annotations

import io
import os
import resource
import threading
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from demo.backend import rle
from demo.backend.errors import Busy
from demo.backend.export import ExportCache
from demo.backend.library import VideoRecord
from demo.backend.sessions import Session, SessionStore

H, W = 720, 1280
slow = pytest.mark.skipif(os.environ.get("RUN_SLOW") != "1", reason="slow; set RUN_SLOW=1 to run")


def session_with_masks(objects: int, frames: int) -> Session:
    yy, xx = np.mgrid[:H, :W]
    session = Session(
        id=SessionStore.new_id(),
        video=VideoRecord("gallery/clip.mp4", None, W, H, 25.0, frames, frames / 25),
        video_file=Path("clip.mp4"),
        state=None,
        num_frames=frames,
        height=H,
        width=W,
    )
    for f in range(frames):
        session.masks[f] = {}
        for k in range(objects):
            cx, cy = 80 + 70 * k + 2 * f, 200 + 20 * (k % 5)
            session.masks[f][k] = rle.encode((xx - cx) ** 2 + (yy - cy) ** 2 < (40 + k) ** 2)
    session.masks_version = 1
    return session


def test_zip_is_streamed_cached_and_rebuilt_when_masks_change(tmp_path):
    cache = ExportCache(tmp_path / ".exports", max_concurrent=1)
    session = session_with_masks(objects=3, frames=40)
    chunks = list(cache.zip_stream(session))
    assert len(chunks) > 2  # sent piece by piece, not as one buffer
    archive = zipfile.ZipFile(io.BytesIO(b"".join(chunks)))
    assert len(archive.namelist()) == 1 + 3 * 40 and "object_2/00039.png" in archive.namelist()
    png = np.array(Image.open(io.BytesIO(archive.read("object_1/00007.png"))))
    assert np.array_equal(png.astype(bool), rle.decode(session.masks[7][1]))

    # While another export holds the only build slot, the same export comes from the cache.
    other = session_with_masks(objects=1, frames=2)
    building = cache.zip_stream(other)
    next(building)
    assert b"".join(cache.zip_stream(session)) == b"".join(chunks)
    session.masks_version += 1  # a new click: the cached zip is stale
    with pytest.raises(Busy, match="exports are being built"):
        cache.zip_stream(session)
    building.close()  # the client hung up: slot freed, no half-written file
    assert [p.name for p in cache.folder.iterdir()] == [f"{session.id}-1.zip"]
    assert b"".join(cache.zip_stream(session)) == b"".join(chunks)  # same masks, rebuilt
    assert sorted(p.name for p in cache.folder.iterdir()) == [f"{session.id}-2.zip"]
    cache.sweep(live_sessions=set())
    assert list(cache.folder.iterdir()) == []


@slow
def test_big_export_is_fast_and_bounded_in_memory(tmp_path):
    """16 objects x 132 frames at 1280x720 (the issue's case): < 20 s, < 100 MB more memory."""
    session = session_with_masks(objects=16, frames=132)
    cache = ExportCache(tmp_path / ".exports", max_concurrent=2)
    page_mb = resource.getpagesize() / 2**20

    def rss_mb() -> float:
        return int(Path("/proc/self/statm").read_text().split()[1]) * page_mb

    rss_before, peak, done = rss_mb(), [0.0], threading.Event()

    def sample():
        while not done.wait(0.02):
            peak[0] = max(peak[0], rss_mb())

    sampler = threading.Thread(target=sample)
    sampler.start()
    t0 = time.perf_counter()
    size = sum(len(chunk) for chunk in cache.zip_stream(session))
    seconds = time.perf_counter() - t0
    done.set()
    sampler.join()
    growth = peak[0] - rss_before
    t1 = time.perf_counter()
    assert sum(len(chunk) for chunk in cache.zip_stream(session)) == size
    cached_seconds = time.perf_counter() - t1
    print(f"export: {size / 2**20:.1f} MB in {seconds:.1f} s, peak RSS +{growth:.1f} MB; cached {cached_seconds:.2f} s")
    assert seconds < 20 and growth < 100 and cached_seconds < 1


def test_an_export_never_started_gives_its_slot_back(tmp_path):
    """A HEAD request closes the response without iterating it: the slot must come back."""
    cache = ExportCache(tmp_path / ".exports", max_concurrent=1)
    session = session_with_masks(objects=1, frames=2)
    for _ in range(3):
        cache.zip_stream(session).close()
    broken = session_with_masks(objects=1, frames=2)
    broken.masks[1][0] = {"size": [H, W], "counts": "not rle"}
    with pytest.raises(ValueError):
        list(cache.zip_stream(broken))  # a build that fails gives it back too
    assert zipfile.ZipFile(io.BytesIO(b"".join(cache.zip_stream(session)))).namelist()


def test_head_requests_on_an_export_leave_the_slots_free(server, client):
    """Two HEADs on an uncached zip export (MAX_EXPORTS=2) took both slots for good."""
    import requests

    sid = client.start_session("gallery/pedestrians_768x576_24fps.mp4")
    client.add_points(sid, 0, 1, [[0.5, 0.5]], [1])
    url = f"{server.url}/export_masks"
    params = {"session_id": sid, "format": "zip"}
    for _ in range(3):
        head = requests.head(url, params=params, timeout=30)
        assert head.status_code == 200 and head.headers["Content-Type"] == "application/zip"
    got = requests.get(url, params=params, timeout=30)
    assert got.status_code == 200, got.text
    assert zipfile.ZipFile(io.BytesIO(got.content)).namelist() == ["masks.json", "object_1/00000.png"]
    client.close_session(sid)


@pytest.mark.parametrize("stem", ["café_視頻", 'say "cheese"', "two\r\nlines"])
def test_download_names_from_any_file_name_are_well_formed(server, client, stem):
    """RFC 6266: the real name in filename*, an ASCII stand-in in filename; never a 500."""
    import shutil
    from urllib.parse import unquote

    import requests

    from .conftest import GALLERY

    target = server.data_path / "gallery" / f"{stem}.mp4"
    shutil.copy(GALLERY / "pedestrians_768x576_24fps.mp4", target)
    try:
        sid = client.start_session(f"gallery/{stem}.mp4")
        client.add_points(sid, 0, 1, [[0.5, 0.5]], [1])
        for fmt, suffix in (("coco", "json"), ("zip", "zip")):
            r = requests.get(f"{server.url}/export_masks", params={"session_id": sid, "format": fmt}, timeout=60)
            assert r.status_code == 200, r.text
            value = r.headers["Content-Disposition"]
            fallback = value.split('filename="', 1)[1].split('"', 1)[0]
            assert value.isascii() and "\r" not in value and "\n" not in value
            assert fallback.isascii() and '"' not in fallback and fallback.endswith(f"_masks.{suffix}")
            encoded = value.split("filename*=UTF-8''", 1)[1]
            expected = "".join(c for c in stem if c not in "\r\n")
            assert unquote(encoded) == f"{expected}_masks.{suffix}"
        client.close_session(sid)
    finally:
        target.unlink()
