"""Uploads belong to their uploader, keep their original names, expire, and fit a disk quota;
the data folder tolerates junk entries. (Library level: no server needed.)"""

import io
import os
import shutil
import time

import pytest

from demo.backend.errors import BadInput, InvalidMedia, LimitExceeded, NotFound
from demo.backend.library import VideoLibrary, display_name, gallery_title
from demo.backend.settings import Settings

from .conftest import GALLERY, UPLOADS, need_media

CLIP = UPLOADS / "quicktime_h264_640x360.mov"


def make_library(tmp_path, **env) -> VideoLibrary:
    need_media()
    data = tmp_path / "data"
    (data / "gallery").mkdir(parents=True, exist_ok=True)
    shutil.copy(CLIP, data / "gallery" / "clip_640x360_25fps.mp4")
    return VideoLibrary(Settings.from_env({"DATA_PATH": str(data), "SAM2_DEMO_DEVICE": "cpu", **env}))


def upload(library, name="holiday.mp4", owner="", data=None, start=None, duration=None, in_use=tuple):
    stream = io.BytesIO(data if data is not None else CLIP.read_bytes())
    return library.store_upload(stream, start, duration, owner=owner, file_name=name, in_use=in_use)


def paths(library, client=""):
    return [v.path for v in library.list_videos(client)]


def test_names_shown_are_safe_and_readable():
    assert display_name("C:\\Users\\me\\My Clip.MOV") == "My Clip.MOV"
    assert display_name("../../etc/passwd") == "passwd"
    assert display_name("a\x00b\x1b[31m\u202ec.mp4") == "ab[31mc.mp4"
    assert display_name(None) == "upload" and display_name("   ") == "upload"
    assert len(display_name("x" * 1000)) == 120
    assert gallery_title("pedestrians_768x576_24fps") == "Pedestrians"
    assert gallery_title("coins_cup_occlusion_960x540_30fps") == "Coins cup occlusion"
    assert gallery_title("640x360") == "640x360"


def test_each_client_lists_its_own_uploads_under_their_original_names(tmp_path):
    library = make_library(tmp_path)
    mine = upload(library, "Our cat.mov", owner="client-aaaa")
    assert mine.display_name == "Our cat.mov" and mine.is_upload
    other = upload(library, "other.webm", owner="client-bbbb", data=(UPLOADS / "vp9_640x360.webm").read_bytes())
    gallery = "gallery/clip_640x360_25fps.mp4"
    assert paths(library, "client-aaaa") == [gallery, mine.path]
    assert paths(library, "client-bbbb") == [gallery, other.path]
    assert paths(library, "") == [gallery]  # clients without an id share an anonymous pool
    (gallery_record,) = library.list_videos("someone-else")
    assert gallery_record.display_name == "Clip" and not gallery_record.is_upload
    # The same file uploaded by another client is stored once and listed to both, each by its name.
    same = upload(library, "kitty.mov", owner="client-bbbb")
    assert same.path == mine.path
    names = {v.path: v.display_name for v in library.list_videos("client-bbbb")}
    assert names[mine.path] == "kitty.mov"
    assert {v.display_name for v in library.list_videos("client-aaaa")} == {"Clip", "Our cat.mov"}
    # Whoever has the path can open it (links keep working).
    assert library.resolve_video(other.path)[1].path == other.path
    # The video and its poster are served; the side file naming the owners is not.
    key = mine.path[len("uploads/") : -len(".mp4")]
    assert library.static_file("uploads", f"{key}.mp4").is_file()
    assert library.static_file("uploads", f"{key}.jpg").is_file()
    assert (library.settings.uploads_dir / f"{key}.json").is_file()
    with pytest.raises(NotFound):
        library.static_file("uploads", f"{key}.json")


def test_share_uploads_lists_every_upload_to_everyone(tmp_path):
    library = make_library(tmp_path, SHARE_UPLOADS="1")
    mine = upload(library, owner="client-aaaa")
    assert mine.path in paths(library, "client-zzzz") and mine.path in paths(library, "")


def test_uploads_expire_but_never_while_open(tmp_path):
    library = make_library(tmp_path, UPLOAD_TTL_HOURS="0.0003")  # about one second
    record = upload(library, owner="client-aaaa")
    time.sleep(1.3)
    assert library.sweep_uploads(in_use=lambda: {record.path}) == 0  # a session holds it
    assert record.path in paths(library, "client-aaaa")
    assert library.sweep_uploads() == 1
    assert paths(library, "client-aaaa") == ["gallery/clip_640x360_25fps.mp4"]
    assert [p.name for p in library.settings.uploads_dir.iterdir()] == [".incoming"]
    with pytest.raises(NotFound):
        library.resolve_video(record.path)


def test_quota_evicts_the_oldest_upload_and_refuses_what_cannot_fit(tmp_path):
    probe = make_library(tmp_path / "probe")
    size = sum(p.stat().st_size for p in probe.settings.uploads_dir.glob(upload(probe).path[8:-4] + ".*"))
    # Room for two clips of this size, not three.
    library = make_library(tmp_path, UPLOADS_MAX_MB=str(2.5 * size / 2**20))
    first = upload(library, "first.mov", owner="client-aaaa", start=0.0, duration=1.9)
    time.sleep(0.05)
    second = upload(library, "second.mov", owner="client-aaaa", start=0.04, duration=1.9)
    time.sleep(0.05)
    third = upload(library, "third.mov", owner="client-aaaa", start=0.08, duration=1.9)
    listed = paths(library, "client-aaaa")
    assert first.path not in listed and second.path in listed and third.path in listed
    # Nothing can be evicted while both are open: a clear refusal, nothing written.
    with pytest.raises(LimitExceeded, match="open right now"):
        upload(library, "fourth.mov", owner="client-aaaa", start=0.12, duration=1.9,
               in_use=lambda: {second.path, third.path})  # fmt: skip
    tiny = make_library(tmp_path / "tiny", UPLOADS_MAX_MB="0.001")
    with pytest.raises(LimitExceeded, match="more than the uploads quota"):
        upload(tiny)
    assert [p.name for p in tiny.settings.uploads_dir.iterdir()] == [".incoming"]


def test_junk_in_the_data_folder_is_skipped(tmp_path):
    library = make_library(tmp_path)
    gallery, uploads = library.settings.gallery_dir, library.settings.uploads_dir
    os.symlink(gallery / "loop_b.mp4", gallery / "loop_a.mp4")
    os.symlink(gallery / "loop_a.mp4", gallery / "loop_b.mp4")
    os.symlink(tmp_path / "gone.mp4", gallery / "dangling.mp4")
    os.symlink(tmp_path / "gone.mp4", uploads / ("0" * 32 + ".mp4"))
    os.mkfifo(gallery / "pipe.mp4")  # opening it would block forever
    (gallery / "folder.mp4").mkdir()
    (gallery / "text.mp4").write_text("not a video")
    shutil.copy(UPLOADS / "truncated_first_half_moov_first.mp4", gallery / "truncated.mp4")
    long_name = "n" * 251 + ".mp4"  # the longest name the file system takes
    shutil.copy(CLIP, gallery / long_name)
    library.ensure_gallery_posters()  # start-up must survive the same junk
    assert paths(library) == ["gallery/clip_640x360_25fps.mp4", f"gallery/{long_name}"]
    assert library.default_video().path == "gallery/clip_640x360_25fps.mp4"
    with pytest.raises(InvalidMedia, match="only 15 of its 18 frames decode"):
        library.resolve_video("gallery/truncated.mp4")
    for junk in ("loop_a.mp4", "dangling.mp4", "pipe.mp4", "folder.mp4"):
        with pytest.raises(NotFound):
            library.resolve_video(f"gallery/{junk}")
    with pytest.raises(BadInput, match="longer than 255 bytes"):
        library.resolve_video("gallery/" + "x" * 300 + ".mp4")
    with pytest.raises(NotFound):
        library.static_file("gallery", "x" * 300 + ".mp4")
    assert GALLERY.is_dir()


@pytest.mark.skipif(
    os.geteuid() == 0,
    reason="runs as root, and root reads a file whatever its mode: no portable way to make one unreadable",
)
def test_an_unreadable_gallery_file_is_skipped(tmp_path):
    library = make_library(tmp_path)
    shutil.copy(CLIP, library.settings.gallery_dir / "unreadable.mp4")
    os.chmod(library.settings.gallery_dir / "unreadable.mp4", 0)
    library.ensure_gallery_posters()
    assert paths(library) == ["gallery/clip_640x360_25fps.mp4"]
    with pytest.raises(InvalidMedia):
        library.resolve_video("gallery/unreadable.mp4")
