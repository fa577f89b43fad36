"""A server with tight limits: upload size (while streaming), duration, sessions (LRU), idle TTL,
objects per session, concurrent propagations."""

from __future__ import annotations

import shutil
import threading
import time

import pytest
import requests

from demo.testing.client import DemoClient, GraphQLError, iter_parts

from .conftest import GALLERY, UPLOADS, ServerProcess


@pytest.fixture(scope="module")
def strict(tmp_path_factory, media_dir):
    root = tmp_path_factory.mktemp("strict")
    (root / "gallery").mkdir()
    shutil.copy(UPLOADS / "quicktime_h264_640x360.mov", root / "gallery" / "clip.mp4")
    shutil.copy(GALLERY / "pedestrians_768x576_24fps.mp4", root / "gallery" / "long.mp4")
    proc = ServerProcess(
        root,
        tmp_path_factory.mktemp("logs") / "strict.log",
        MAX_UPLOAD_MB="0.2",
        MAX_DURATION_SEC="1",
        MAX_SESSIONS="3",
        SESSION_TTL_SEC="8",
        MAX_OBJECTS="2",
        MAX_PROPAGATIONS="1",
    )
    yield proc
    proc.stop()


def leftovers(proc) -> list:
    return [p for p in (proc.data_path / "uploads").rglob("*") if p.is_file()]


def test_upload_too_large_is_refused(strict):
    client = DemoClient(strict.url)
    result = client.upload_raw(GALLERY / "bunny_1280x720_25fps.mp4")
    assert "larger than the limit of 0.2 MB" in result["errors"][0]["message"]
    assert leftovers(strict) == []


def test_upload_too_large_without_content_length_is_cut_off_while_streaming(strict):
    """Chunked body (no Content-Length): the server stops reading at the limit."""
    boundary = "b0undary"
    data = (GALLERY / "bunny_1280x720_25fps.mp4").read_bytes()

    def body():
        yield (
            f'--{boundary}\r\nContent-Disposition: form-data; name="operations"\r\n\r\n'
            '{"query": "mutation($f: Upload!) { uploadVideo(file: $f) { path } }", "variables": {"f": null}}\r\n'
            f'--{boundary}\r\nContent-Disposition: form-data; name="map"\r\n\r\n'
            '{"0": ["variables.f"]}\r\n'
            f'--{boundary}\r\nContent-Disposition: form-data; name="0"; filename="a.mp4"\r\n'
            "Content-Type: video/mp4\r\n\r\n"
        ).encode()
        for i in range(0, len(data), 65536):
            yield data[i : i + 65536]
        yield f"\r\n--{boundary}--\r\n".encode()

    try:
        r = requests.post(
            f"{strict.url}/graphql",
            data=body(),
            timeout=60,
            headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
        )
        assert r.status_code == 413 and "larger than the limit" in r.json()["errors"][0]["message"]
    except requests.ConnectionError:
        pass  # the server may close the connection before the client finished sending
    assert strict.healthy()["status"] == "ok"
    assert leftovers(strict) == []


def test_duration_limit(strict):
    client = DemoClient(strict.url)
    with pytest.raises(GraphQLError, match="the limit is 1 s"):
        client.upload(UPLOADS / "vfr_variable_frame_rate_320x180.mp4")
    part = client.upload(UPLOADS / "vfr_variable_frame_rate_320x180.mp4", start=0.5, duration=1.0)
    assert part["numFrames"] == 17 and part["durationSec"] == pytest.approx(1.0)


def test_object_limit(strict):
    client = DemoClient(strict.url)
    sid = client.start_session("gallery/clip.mp4")
    client.add_points(sid, 0, 1, [[0.5, 0.5]], [1])
    client.add_points(sid, 0, 2, [[0.2, 0.5]], [1])
    client.add_points(sid, 1, 2, [[0.2, 0.5]], [1])  # a known object may get more prompts
    with pytest.raises(GraphQLError, match="at most 2 objects") as err:
        client.add_points(sid, 0, 3, [[0.7, 0.5]], [1])
    assert err.value.code == "LIMIT_EXCEEDED"
    client.close_session(sid)


def test_an_evicted_session_comes_back_from_the_database(strict):
    client = DemoClient(strict.url)
    sessions = [client.start_session("gallery/clip.mp4") for _ in range(3)]
    first = client.add_points(sessions[1], 2, 1, [[0.5, 0.5]], [1])
    client.add_points(sessions[0], 0, 1, [[0.5, 0.5]], [1])  # sessions[1] is now the oldest
    newest = client.start_session("gallery/clip.mp4")  # evicts sessions[1] (3 at most)
    assert strict.healthy()["sessions"] == 3
    # Its work was only out of memory: its mask is there, and a further click refines it.
    masks = client.session_masks(sessions[1])
    assert masks == {(2, 1): first["rleMaskList"][0]["rleMask"]["counts"]}
    assert client.add_points(sessions[1], 2, 1, [[0.4, 0.4]], [1])["frameIndex"] == 2
    for sid in (*sessions, newest):
        client.close_session(sid)


def test_idle_sessions_leave_memory_and_come_back(strict):
    client = DemoClient(strict.url)
    sid = client.start_session("gallery/clip.mp4")
    client.add_points(sid, 1, 3, [[0.5, 0.5]], [1])
    deadline = time.monotonic() + 30
    while strict.healthy()["sessions"] and time.monotonic() < deadline:  # no request touches it
        time.sleep(0.5)
    assert strict.healthy()["sessions"] == 0  # the sweeper freed it
    assert set(client.session_masks(sid)) == {(1, 3)}
    client.close_session(sid)
    with pytest.raises(GraphQLError, match="Session expired: it was closed"):
        client.add_points(sid, 0, 1, [[0.5, 0.5]], [1])


def test_concurrent_propagation_limit(strict):
    client = DemoClient(strict.url)
    a, b = client.start_session("gallery/long.mp4"), client.start_session("gallery/long.mp4")
    for sid in (a, b):
        client.add_points(sid, 0, 1, [[0.5, 0.5]], [1])
    stream = client.propagate(a, 0)
    parts, done = [], threading.Event()

    def read():
        for p in iter_parts(stream):
            parts.append(p)  # noqa: PERF402 - another thread watches it grow
        done.set()

    threading.Thread(target=read, daemon=True).start()
    second = client.propagate(b, 0)
    assert second.status_code == 503 and "already running" in second.json()["error"]["message"]
    client.cancel(a)
    assert done.wait(30)
    third = client.propagate(b, 0, max_frames=3)
    assert [p.body["frame_index"] for p in iter_parts(third)] == [0, 1, 2]
    client.close_session(a)
    client.close_session(b)
