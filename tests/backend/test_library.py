"""Gallery/uploads on disk: path validation, upload storage, nothing half-written on failure."""

import io
import os
import shutil

import pytest

from demo.backend.errors import BadInput, InvalidMedia, LimitExceeded, NotFound
from demo.backend.library import VideoLibrary
from demo.backend.settings import Limits, Settings

from .conftest import UPLOADS, need_media


@pytest.fixture()
def library(tmp_path):
    need_media()
    data = tmp_path / "data"
    (data / "gallery").mkdir(parents=True)
    shutil.copy(UPLOADS / "quicktime_h264_640x360.mov", data / "gallery" / "clip.mp4")
    settings = Settings.from_env({"DATA_PATH": str(data), "SAM2_DEMO_DEVICE": "cpu"})
    return VideoLibrary(settings)


def listing(library):
    return [v.path for v in library.list_videos()]


def test_gallery_listing_and_posters(library):
    library.ensure_gallery_posters()
    (video,) = library.list_videos()
    assert video.path == "gallery/clip.mp4" and video.poster_path == "posters/clip.jpg"
    assert (video.width, video.height, video.num_frames, video.fps) == (640, 360, 50, 25.0)
    assert library.default_video().path == "gallery/clip.mp4"


@pytest.mark.parametrize(
    "path, error",
    [
        ("../gallery/clip.mp4", BadInput),
        ("gallery/../../etc/passwd", BadInput),
        ("/etc/passwd", BadInput),
        ("gallery\\clip.mp4", BadInput),
        ("C:/x.mp4", BadInput),
        ("posters/clip.jpg", BadInput),
        ("gallery/clip.txt", BadInput),
        ("gallery/missing.mp4", NotFound),
        ("gallery/clip.mp4\x00.jpg", BadInput),
        ("", BadInput),
        (42, BadInput),
    ],
)
def test_resolve_video_rejects(library, path, error):
    with pytest.raises(error):
        library.resolve_video(path)


def test_symlink_out_of_the_gallery_is_rejected(library, tmp_path):
    outside = tmp_path / "outside.mp4"
    shutil.copy(UPLOADS / "quicktime_h264_640x360.mov", outside)
    os.symlink(outside, library.settings.gallery_dir / "link.mp4")
    with pytest.raises(NotFound):
        library.resolve_video("gallery/link.mp4")
    with pytest.raises(NotFound):
        library.static_file("gallery", "link.mp4")
    assert "gallery/link.mp4" not in listing(library)


def test_upload_is_stored_by_hash_once_and_survives_a_restart(library):
    data = (UPLOADS / "vp9_640x360.webm").read_bytes()
    first = library.store_upload(io.BytesIO(data))
    again = library.store_upload(io.BytesIO(data))
    assert first == again and first.path.startswith("uploads/") and first.num_frames == 50
    assert first.poster_path == first.path[:-4] + ".jpg"
    restarted = VideoLibrary(library.settings)
    assert first.path in listing(restarted)
    path, record = restarted.resolve_video(first.path)
    assert path.is_file() and record.width == 640


@pytest.mark.parametrize(
    "name, kwargs, error",
    [
        ("empty_0_bytes.mp4", {}, InvalidMedia),
        ("truncated_first_half_moov_first.mp4", {}, InvalidMedia),
        ("png_image_renamed.mp4", {}, InvalidMedia),
        ("long_10min_64x36_24fps.mp4", {}, LimitExceeded),
        ("long_10min_64x36_24fps.mp4", {"start_sec": 700.0}, BadInput),
        ("quicktime_h264_640x360.mov", {"duration_sec": 0.0}, BadInput),
        ("quicktime_h264_640x360.mov", {"start_sec": -1.0}, BadInput),
        ("quicktime_h264_640x360.mov", {"start_sec": float("nan")}, BadInput),
    ],
)
def test_failed_uploads_leave_nothing(library, name, kwargs, error):
    with pytest.raises(error):
        library.store_upload(io.BytesIO((UPLOADS / name).read_bytes()), **kwargs)
    leftovers = [p for p in library.settings.uploads_dir.rglob("*") if p.is_file()]
    assert leftovers == []


def test_long_video_upload_of_a_part(library):
    record = library.store_upload(
        io.BytesIO((UPLOADS / "long_10min_64x36_24fps.mp4").read_bytes()), start_sec=300.0, duration_sec=2.0
    )
    assert record.num_frames == 48 and abs(record.duration_sec - 2.0) < 1e-6


def test_upload_size_limit_while_streaming(tmp_path):
    settings = Settings.from_env(
        {"DATA_PATH": str(tmp_path), "SAM2_DEMO_DEVICE": "cpu", "MAX_UPLOAD_MB": "0.01"}
    )
    library = VideoLibrary(settings)
    with pytest.raises(LimitExceeded, match="0.01 MB"):
        library.store_upload(io.BytesIO(b"x" * 20000))
    assert not [p for p in settings.uploads_dir.rglob("*") if p.is_file()]
    assert Limits().max_upload_mb == 200


def test_static_files(library):
    library.ensure_gallery_posters()
    gallery = library.settings.gallery_dir
    (gallery / "subdir").mkdir()
    for name in ("subdir/secret.txt", "notes.txt", "subdir/clip.mp4"):
        (gallery / name).write_bytes(b"not for the web")
    (library.settings.posters_dir / "subdir").mkdir()
    (library.settings.posters_dir / "subdir" / "clip.jpg").write_bytes(b"x")
    (library.settings.posters_dir / "clip.png").write_bytes(b"x")
    assert library.static_file("gallery", "clip.mp4").is_file()
    assert library.static_file("posters", "clip.jpg").is_file()
    for folder, rel in [
        ("gallery", "../posters/clip.jpg"),
        ("gallery", "nope.mp4"),
        ("uploads", ".incoming"),
        ("gallery", "subdir/secret.txt"),
        ("gallery", "notes.txt"),
        ("gallery", "subdir/clip.mp4"),
        ("posters", "subdir/clip.jpg"),
        ("posters", "clip.png"),
    ]:
        with pytest.raises(NotFound):
            library.static_file(folder, rel)
