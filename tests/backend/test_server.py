"""The real server under gunicorn: upload, click, stream, cancel, disconnect, close, export."""

from __future__ import annotations

import io
import json
import socket
import threading
import time
import zipfile

import numpy as np
import pytest
import requests

from demo.backend import rle
from demo.testing.client import GraphQLError, iter_parts

GALLERY_VIDEO = "gallery/pedestrians_768x576_24fps.mp4"


def decode_frame(result: dict, height: int, width: int) -> dict[int, np.ndarray]:
    out = {}
    for item in result["rleMaskList"]:
        mask = item["rleMask"]
        assert mask["order"] == "F" and mask["size"] == [height, width]
        out[item["objectId"]] = rle.decode(mask)
    return out


def test_queries(client, server):
    data = client.graphql("""{
      defaultVideo { id path posterPath url posterUrl width height fps numFrames durationSec }
      videos { edges { node { id path url posterUrl width height } } }
      serverInfo { modelSize modelConfig device precision randomWeights maxObjects maxUploadMb maxDurationSec maxSessions }
    }""")
    video = data["defaultVideo"]
    assert video["path"] == GALLERY_VIDEO and video["url"] == "/" + GALLERY_VIDEO
    assert (video["width"], video["height"], video["numFrames"], video["fps"]) == (768, 576, 144, 24.0)
    assert video["posterPath"] == "posters/pedestrians_768x576_24fps.jpg"
    assert GALLERY_VIDEO in [e["node"]["path"] for e in data["videos"]["edges"]]
    info = data["serverInfo"]
    assert info["randomWeights"] is True and info["device"] == "cpu"
    assert info["precision"] in ("fp32", "bf16")  # SAM2_DEMO_PRECISION=auto, resolved for this CPU
    assert (info["maxObjects"], info["maxUploadMb"], info["maxDurationSec"]) == (16, 200, 10)


def test_static_media_routes(client, server, short_clip):
    video = requests.get(server.url + short_clip["url"], timeout=30)
    assert video.status_code == 200 and video.headers["Content-Type"] == "video/mp4"
    part = requests.get(server.url + short_clip["url"], headers={"Range": "bytes=0-99"}, timeout=30)
    assert part.status_code == 206 and len(part.content) == 100
    poster = requests.get(server.url + short_clip["posterUrl"], timeout=30)
    assert poster.status_code == 200 and poster.content[:2] == b"\xff\xd8"
    gallery_poster = requests.get(server.url + "/posters/pedestrians_768x576_24fps.jpg", timeout=30)
    assert gallery_poster.status_code == 200


def test_upload_is_listed_with_its_trimmed_size(client, short_clip):
    assert (short_clip["width"], short_clip["height"], short_clip["numFrames"]) == (1280, 720, 10)
    assert short_clip["path"].startswith("uploads/") and short_clip["durationSec"] == pytest.approx(0.4)
    paths = [
        e["node"]["path"] for e in client.graphql("{ videos { edges { node { path } } } }")["videos"]["edges"]
    ]
    assert short_clip["path"] in paths


def test_click_propagate_both_directions_export_close(client, server, short_clip):
    sid = client.start_session(short_clip["path"])
    first = client.add_points(sid, 4, 1, [[0.5, 0.5]], [1])
    assert first["frameIndex"] == 4
    assert set(decode_frame(first, 720, 1280)) == {1}
    second = client.add_points(sid, 4, 2, [[0.2, 0.3], [0.25, 0.3]], [1, 0])
    assert set(decode_frame(second, 720, 1280)) == {1, 2}  # every object on the frame

    response = client.propagate(sid, 4)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "multipart/x-savi-stream; boundary=frame"
    parts = list(iter_parts(response))  # also checks the end part
    indices = [p.body["frame_index"] for p in parts]
    assert indices == [4, 5, 6, 7, 8, 9, 3, 2, 1, 0]  # forward to the end, then back to 0; each once
    assert [int(p.headers["frame-current"]) for p in parts] == list(range(1, 11))
    assert {p.headers["frame-total"] for p in parts} == {"10"}
    for p in parts:
        assert p.headers["content-type"] == "application/json"
        assert [r["object_id"] for r in p.body["results"]] == [1, 2]
        for r in p.body["results"]:
            assert rle.decode(r["mask"]).shape == (720, 1280)

    coco = requests.get(
        f"{server.url}/export_masks", params={"session_id": sid, "format": "coco"}, timeout=30
    )
    doc = coco.json()
    assert coco.status_code == 200 and (doc["width"], doc["height"], doc["num_frames"]) == (1280, 720, 10)
    assert sorted({(a["frame_index"], a["object_id"]) for a in doc["annotations"]}) == [
        (f, o) for f in range(10) for o in (1, 2)
    ]
    archive = requests.get(
        f"{server.url}/export_masks", params={"session_id": sid, "format": "zip"}, timeout=30
    )
    names = zipfile.ZipFile(io.BytesIO(archive.content)).namelist()
    assert "masks.json" in names and "objects.json" in names and "object_2/00009.png" in names and len(names) == 22

    removed = client.graphql(
        "mutation($i: RemoveObjectInput!) { removeObject(input: $i) { frameIndex rleMaskList { objectId } } }",
        {"i": {"sessionId": sid, "objectId": 1}},
    )["removeObject"]
    assert all(o["objectId"] == 2 for f in removed for o in f["rleMaskList"])
    cleared = client.graphql(
        "mutation($i: ClearPointsInVideoInput!) { clearPointsInVideo(input: $i) { success } }",
        {"i": {"sessionId": sid}},
    )
    assert cleared["clearPointsInVideo"]["success"] is True

    assert client.close_session(sid) is True
    with pytest.raises(GraphQLError, match="Session expired") as err:
        client.add_points(sid, 0, 1, [[0.5, 0.5]], [1])
    assert err.value.code == "SESSION_EXPIRED"


def test_box_mask_and_clear_in_frame(client, short_clip):
    sid = client.start_session(short_clip["path"])
    try:
        box = client.graphql(
            "mutation($i: AddBoxInput!) { addBox(input: $i) { frameIndex rleMaskList { objectId rleMask { size counts } } } }",
            {"i": {"sessionId": sid, "frameIndex": 2, "objectId": 5, "box": [0.1, 0.1, 0.6, 0.7]}},
        )["addBox"]
        assert box["frameIndex"] == 2 and box["rleMaskList"][0]["rleMask"]["size"] == [720, 1280]
        square = np.zeros((720, 1280), bool)
        square[100:300, 200:500] = True
        mask = client.graphql(
            "mutation($i: AddMaskInput!) { addMask(input: $i) { frameIndex rleMaskList { objectId } } }",
            {"i": {"sessionId": sid, "frameIndex": 3, "objectId": 6, "rleMask": rle.encode(square)}},
        )["addMask"]
        assert {o["objectId"] for o in mask["rleMaskList"]} == {5, 6}
        cleared = client.graphql(
            "mutation($i: ClearPointsInFrameInput!) { clearPointsInFrame(input: $i) { frameIndex rleMaskList { objectId } } }",
            {"i": {"sessionId": sid, "frameIndex": 2, "objectId": 5}},
        )["clearPointsInFrame"]
        assert cleared["frameIndex"] == 2
    finally:
        client.close_session(sid)


def read_parts_in_thread(response, parts: list, done: threading.Event):
    def run():
        try:
            for p in iter_parts(response):
                parts.append(p)  # noqa: PERF402 - another thread watches it grow
        finally:
            done.set()

    threading.Thread(target=run, daemon=True).start()


def wait_for(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def test_cancel_mid_stream_and_while_waiting_to_start(client, server):
    sid = client.start_session(GALLERY_VIDEO)
    try:
        client.add_points(sid, 0, 1, [[0.5, 0.5]], [1])
        first = client.propagate(sid, 0, direction="forward")
        parts_a, done_a = [], threading.Event()
        read_parts_in_thread(first, parts_a, done_a)
        wait_for(lambda: len(parts_a) >= 2, 60, "the first frames")
        # A second propagation of the same session waits for the session lock ...
        second = client.propagate(sid, 0, direction="forward")
        parts_b, done_b = [], threading.Event()
        read_parts_in_thread(second, parts_b, done_b)
        time.sleep(0.3)
        assert client.cancel(sid) is True  # ... and one cancel stops both
        assert done_a.wait(30) and done_b.wait(30)
        assert 2 <= len(parts_a) < 144 and parts_b == []
        assert "error" not in parts_a[-1].body
        wait_for(lambda: server.healthy()["propagations"] == 0, 10, "the propagation slots")
        # The session is free again right away.
        t0 = time.monotonic()
        client.add_points(sid, 10, 1, [[0.4, 0.4]], [1])
        assert time.monotonic() - t0 < 10
    finally:
        client.close_session(sid)


def test_disconnect_mid_stream_stops_the_propagation(client, server):
    sid = client.start_session(GALLERY_VIDEO)
    try:
        client.add_points(sid, 0, 1, [[0.5, 0.5]], [1])
        body = json.dumps({"session_id": sid, "start_frame_index": 0, "direction": "forward"}).encode()
        with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
            sock.sendall(
                b"POST /propagate_in_video HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                + f"Content-Length: {len(body)}\r\n\r\n".encode()
                + body
            )
            received = b""
            while received.count(b"--frame\r\n") < 2:  # two frames arrived
                received += sock.recv(65536)
            assert server.healthy()["propagations"] == 1
        # The socket is closed here, like a browser tab that went away mid-stream.
        wait_for(lambda: server.healthy()["propagations"] == 0, 30, "the server to notice the disconnect")
        t0 = time.monotonic()
        result = client.add_points(sid, 5, 1, [[0.5, 0.5]], [1])  # the lock was released
        assert result["frameIndex"] == 5 and time.monotonic() - t0 < 10
        coco = requests.get(f"{server.url}/export_masks", params={"session_id": sid}, timeout=30).json()
        assert len({a["frame_index"] for a in coco["annotations"]}) < 100  # it stopped early
    finally:
        client.close_session(sid)


def test_one_users_propagation_does_not_block_another_users_clicks(client, server, short_clip):
    busy = client.start_session(GALLERY_VIDEO)
    other = client.start_session(short_clip["path"])
    try:
        client.add_points(busy, 0, 1, [[0.5, 0.5]], [1])
        client.add_points(other, 0, 1, [[0.5, 0.5]], [1])  # encodes frame 0 once
        response = client.propagate(busy, 0, direction="forward")
        parts, done = [], threading.Event()
        read_parts_in_thread(response, parts, done)
        wait_for(lambda: len(parts) >= 1, 60, "the first frame")
        latencies = []
        for i in range(5):
            t0 = time.monotonic()
            client.add_points(other, 0, 1, [[0.5, 0.5 + i * 0.01]], [1])
            latencies.append(time.monotonic() - t0)
        still_running = not done.is_set()
        client.cancel(busy)
        assert done.wait(30)
        assert still_running, "the propagation ended before the other user's clicks were measured"
        assert max(latencies) < 5, latencies
    finally:
        client.close_session(busy)
        client.close_session(other)


def test_gallery_video_full_stream_every_frame_once(client):
    """A whole gallery clip, forward from 0: all 144 frame indices, each once."""
    sid = client.start_session(GALLERY_VIDEO)
    try:
        client.add_points(sid, 0, 3, [[0.3, 0.6]], [1])
        parts = list(iter_parts(client.propagate(sid, 0)))
        assert [p.body["frame_index"] for p in parts] == list(range(144))  # backward from 0: nothing
        for p in parts[::20]:
            assert rle.decode(p.body["results"][0]["mask"]).shape == (576, 768)
    finally:
        client.close_session(sid)


def test_graphql_errors_are_json_with_codes(client):
    result = client.graphql_raw('mutation { startSession(input: {path: "../x.mp4"}) { sessionId } }')
    assert result["errors"][0]["extensions"]["code"] == "BAD_REQUEST"
    assert json.dumps(result)  # plain JSON


def test_in_band_error_part_when_the_session_ends_while_a_propagation_waits(client, server):
    sid = client.start_session(GALLERY_VIDEO)
    client.add_points(sid, 0, 1, [[0.5, 0.5]], [1])
    first = client.propagate(sid, 0, direction="forward")
    parts_a, done_a = [], threading.Event()
    read_parts_in_thread(first, parts_a, done_a)
    wait_for(lambda: len(parts_a) >= 1, 60, "the first frame")
    waiting = client.propagate(sid, 0, direction="forward")  # queued behind the first
    parts_b, done_b = [], threading.Event()
    read_parts_in_thread(waiting, parts_b, done_b)
    time.sleep(0.3)
    assert client.close_session(sid) is True
    assert done_a.wait(30) and done_b.wait(30)  # both streams end with their last part
    # The running one says why it stopped: a client must tell this from a finished run.
    assert parts_a[-1].body["error"]["code"] == "SESSION_EXPIRED"
    assert all("error" not in p.body for p in parts_a[:-1])
    assert len(parts_b) == 1 and parts_b[0].body["error"]["code"] == "SESSION_EXPIRED"
    assert "Session expired" in parts_b[0].body["error"]["message"]
