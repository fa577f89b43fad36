"""Live cameras over the WebSocket at /live: a real gunicorn server (our worker), micro model.

Tracking, prompts on named frames, newest-wins backpressure, limits and hostile clients. Each
hostile case checks the client gets a clear answer and the server stays healthy for others.
"""

from __future__ import annotations

import os
import signal
import threading
import time

import numpy as np
import pytest
import requests
from simple_websocket import ConnectionClosed
from wsproto.events import BytesMessage

from demo.backend.errors import LimitExceeded
from demo.backend.live import RecordingSaver
from demo.backend.rle import decode
from demo.testing.client import DemoClient
from demo.testing.live_client import LiveClient, jpeg
from demo.testing.local_server import LocalServer

W, H = 96, 64


def _frame(k: int) -> np.ndarray:
    """A bright square moving over a dark background."""
    rgb = np.full((H, W, 3), 30, np.uint8)
    x = 10 + (k % 40)
    rgb[20:44, x : x + 24] = (230, 200, 40)
    return rgb


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    root = tmp_path_factory.mktemp("live")
    (root / "gallery").mkdir()
    proc = LocalServer(
        root, root / "server.log",
        LIVE_MAX_CAMERAS="2", LIVE_MAX_FPS="20", LIVE_KEEP_FRAMES="4", LIVE_MAX_FRAME_KB="64",
    )  # fmt: skip
    yield proc
    proc.stop()


def _cameras(server) -> int:
    return server.healthy()["live"]["cameras"]


def _wait_for_cameras(server, count: int, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while _cameras(server) != count:
        assert time.monotonic() < deadline, f"/healthy still counts {_cameras(server)} cameras, not {count}"
        time.sleep(0.1)


def _track(camera: LiveClient, seq: int) -> dict:
    camera.send_frame(seq, _frame(seq))
    answer, _ = camera.receive_until("masks")
    return answer


def test_track_prompt_add_refine_remove(server):
    camera = LiveClient(server.url)
    started = camera.start(W, H)
    assert started["type"] == "started" and started["keepFrames"] == 4 and started["maxFps"] == 20
    first = _track(camera, 1)
    assert first["frame"] == 1 and first["objects"] == [], "no object yet: the frame is only held"
    camera.send_json({"type": "addPoints", "id": "p1", "frame": 1, "objectId": 1, "points": [[0.3, 0.5]],
                      "labels": [1]})  # fmt: skip
    prompted = camera.receive()
    assert (prompted["type"], prompted["id"], prompted["frame"]) == ("prompted", "p1", 1)
    assert [o["objectId"] for o in prompted["objects"]] == [1]
    mask = prompted["objects"][0]["rleMask"]
    assert mask["size"] == [H, W] and mask["order"] == "F" and decode(mask).shape == (H, W)
    for seq in range(2, 5):
        time.sleep(0.06)  # under LIVE_MAX_FPS
        answer = _track(camera, seq)
        assert answer["frame"] == seq and [o["objectId"] for o in answer["objects"]] == [1]
    # A second object joins on a frame that was answered; the next frames carry both.
    camera.send_json({"type": "addBox", "frame": 4, "objectId": 2, "box": [0.6, 0.1, 0.9, 0.5]})
    assert [o["objectId"] for o in camera.receive()["objects"]] == [1, 2]
    time.sleep(0.06)
    assert [o["objectId"] for o in _track(camera, 5)["objects"]] == [1, 2]
    # Refine object 1 with a negative click, remove object 2.
    camera.send_json({"type": "addPoints", "frame": 5, "objectId": 1, "points": [[0.9, 0.9]], "labels": [0],
                      "clearOldPoints": False})  # fmt: skip
    assert camera.receive()["type"] == "prompted"
    camera.send_json({"type": "removeObject", "id": 7, "objectId": 2})
    assert camera.receive() == {"type": "removed", "id": "7", "objectId": 2}
    time.sleep(0.06)
    assert [o["objectId"] for o in _track(camera, 6)["objects"]] == [1]
    # A frame that is no longer held, an unknown object, a malformed prompt: clear, not fatal.
    camera.send_json({"type": "addPoints", "frame": 1, "objectId": 1, "points": [[0.5, 0.5]], "labels": [1]})
    error = camera.receive()
    assert error["code"] == "NOT_FOUND" and "last 4 frames" in error["message"] and not error["fatal"]
    camera.send_json({"type": "removeObject", "objectId": 9})
    assert camera.receive()["code"] == "NOT_FOUND"
    camera.send_json({"type": "addPoints", "frame": 6, "objectId": 1, "points": [[2, 0.5]], "labels": [1]})
    assert "normalised" in camera.receive()["message"]
    camera.send_json({"type": "stop"})
    assert camera.drain()[-1] == {
        "type": "end",
        "frames": 6,
        "dropped": [],
        "droppedCount": 0,
        "reason": "STOPPED",
    }
    _wait_for_cameras(server, 0)


def test_recording_becomes_a_video_of_the_library_with_its_masks(server):
    """Record 6 frames with two objects; stop: the browser's library lists the video, whose
    session holds both objects' masks on every frame and can be refined like an upload."""
    client_id = "camera-test-client"
    camera = LiveClient(server.url)
    camera.send_json({"type": "start", "width": W, "height": H, "clientId": client_id})
    assert camera.receive()["type"] == "started"
    _track(camera, 0)
    camera.send_json({"type": "addPoints", "frame": 0, "objectId": 1, "points": [[0.3, 0.5]], "labels": [1]})
    camera.send_json({"type": "addBox", "frame": 0, "objectId": 2, "box": [0.05, 0.05, 0.95, 0.95]})
    assert [camera.receive()["type"] for _ in range(2)] == ["prompted", "prompted"]
    camera.send_json({"type": "record", "on": True})
    assert camera.receive()["type"] == "recording"
    live_masks = {}
    for seq in range(1, 7):
        time.sleep(0.06)
        answer = _track(camera, seq)
        live_masks[seq - 1] = {o["objectId"]: o["rleMask"]["counts"] for o in answer["objects"]}
    camera.send_json({"type": "record", "on": False})
    recorded, before = camera.receive_until("recorded", timeout=120)
    assert before == [{"type": "recording", "on": False, "frames": 6}]
    assert recorded["numFrames"] == 6 and recorded["objects"] == [1, 2]
    assert _track(camera, 7)["frame"] == 7, "the camera goes on after saving"
    camera.send_json({"type": "stop"})
    camera.drain()

    demo = DemoClient(server.url, client_id=client_id)
    videos = demo.graphql(
        "{ videos { edges { node { path numFrames width height displayName isUpload } } } }"
    )
    mine = [e["node"] for e in videos["videos"]["edges"] if e["node"]["path"] == recorded["path"]]
    assert mine and mine[0]["isUpload"] and (mine[0]["width"], mine[0]["height"]) == (W, H)
    assert mine[0]["displayName"].startswith("Camera ")
    stored = demo.session_masks(recorded["sessionId"])
    assert set(stored) == {(f, o) for f in range(6) for o in (1, 2)}
    for f in range(6):
        for o in (1, 2):
            if f > 0:  # frame 0 was given as a mask prompt: the model's own reading of it
                assert stored[(f, o)] == live_masks[f][o], f"frame {f}, object {o}: not the live mask"
    # Like any upload: refine on a frame (a click runs the model there).
    result = demo.add_points(recorded["sessionId"], 3, 1, [[0.5, 0.5]], [1])
    assert result["frameIndex"] == 3
    other = DemoClient(server.url, client_id="someone-else-entirely")
    others = other.graphql("{ videos { edges { node { path } } } }")["videos"]["edges"]
    assert recorded["path"] not in [e["node"]["path"] for e in others], (
        "a recording is private to its browser"
    )
    _wait_for_cameras(server, 0)


def _start_recording(camera: LiveClient, client_id: str, frames: int) -> None:
    """Start a camera owned by `client_id`, prompt object 1 on frame 0, record `frames` frames (1..)."""
    camera.send_json({"type": "start", "width": W, "height": H, "clientId": client_id})
    assert camera.receive()["type"] == "started"
    _track(camera, 0)
    camera.send_json({"type": "addPoints", "frame": 0, "objectId": 1, "points": [[0.3, 0.5]], "labels": [1]})
    assert camera.receive()["type"] == "prompted"
    camera.send_json({"type": "record", "on": True})
    assert camera.receive()["type"] == "recording"
    for seq in range(1, frames + 1):
        time.sleep(0.06)  # under LIVE_MAX_FPS
        _track(camera, seq)


def test_saving_a_recording_does_not_pause_the_camera(server):
    """The recording is stored in the background: frames sent while it is saved are answered
    (tracked, with their masks) before `recorded` comes, none of them dropped."""
    camera = LiveClient(server.url)
    _start_recording(camera, "camera-save-client", 20)
    camera.send_json({"type": "record", "on": False})
    assert camera.receive() == {"type": "recording", "on": False, "frames": 20}
    t0 = time.monotonic()
    seq, answered, recorded = 20, [], None
    while recorded is None:
        assert time.monotonic() - t0 < 120, "the recording was never stored"
        seq += 1
        camera.send_frame(seq, _frame(seq))
        while True:  # this frame's masks; `recorded` may come before them
            message = camera.receive()
            if message["type"] == "recorded":
                recorded = message
            elif message["type"] == "masks":
                answered.append(message)
                break
            else:
                raise AssertionError(f"unexpected {message}")
        time.sleep(0.06)
    saving_sec = time.monotonic() - t0
    assert recorded["numFrames"] == 20 and recorded["objects"] == [1]
    # Stored on the tracker thread, the save would come between `recording` and the next frame's
    # masks: no frame answered before `recorded`. In the background the camera goes on meanwhile
    # (a save takes 0.2 s on a quiet machine, a frame here about 0.1 s with the pause).
    assert len(answered) >= 1, f"no frame answered during a save of {saving_sec:.2f} s"
    assert [a["frame"] for a in answered] == list(range(21, seq + 1))
    assert all(a["droppedCount"] == 0 and len(a["objects"]) == 1 for a in answered)
    camera.send_json({"type": "stop"})
    assert camera.drain()[-1]["reason"] == "STOPPED"
    _wait_for_cameras(server, 0)


def _library_video(server, client_id: str, timeout: float = 60.0) -> dict:
    demo = DemoClient(server.url, client_id=client_id)
    deadline = time.monotonic() + timeout
    while True:
        edges = demo.graphql("{ videos { edges { node { path numFrames displayName isUpload } } } }")
        mine = [e["node"] for e in edges["videos"]["edges"] if e["node"]["displayName"].startswith("Camera ")]
        if mine:
            return mine[0]
        assert time.monotonic() < deadline, f"no recording in {client_id}'s library after {timeout} s"
        time.sleep(0.3)


def test_a_connection_dropped_while_recording_keeps_its_recording(server):
    """The client vanishes mid-recording (no stop, no close): what was recorded so far becomes a
    video of its library, with its masks, and the server goes on."""
    client_id = "camera-dropped-client"
    camera = LiveClient(server.url)
    _start_recording(camera, client_id, 5)
    camera.ws.sock.shutdown(2)  # the network goes: no close frame, no stop
    camera.ws.sock.close()
    _wait_for_cameras(server, 0)
    video = _library_video(server, client_id)
    assert video["isUpload"] and video["numFrames"] == 5
    assert server.healthy()["live"]["recordings_saved"] >= 1
    assert server.healthy()["status"] == "ok"


def test_recordings_waiting_to_be_saved_are_bounded():
    """A client that records and drops its connection again and again cannot pile up recordings:
    beyond the bound (2 x LIVE_MAX_CAMERAS on a server) a new one is refused, clearly."""
    saver = RecordingSaver(service=None, max_recordings=2)
    saver.reserve()
    saver.reserve()
    with pytest.raises(LimitExceeded, match="2 recordings are being made or saved"):
        saver.reserve()
    assert saver.busy()
    saver.unreserve()
    saver.reserve()  # one was stored: room again
    saver.unreserve()
    saver.unreserve()
    assert not saver.busy()


def test_bad_frames_get_errors_and_the_session_goes_on(server):
    camera = LiveClient(server.url)
    camera.start(W, H)
    camera.send_frame(1, np.zeros((H + 2, W, 3), np.uint8))
    error = camera.receive()
    assert error["code"] == "BAD_FRAME" and f"is {W}x{H + 2}, but" in error["message"]
    assert "new live session to change the size" in error["message"] and not error["fatal"]
    camera.send_frame(2, b"this is not a picture at all")
    assert camera.receive()["message"] == "Frame 2 is not an image (send JPEG, PNG or WebP)."
    whole = jpeg(_frame(3))
    camera.send_frame(3, whole[: len(whole) * 2 // 3])  # a JPEG cut short: its header is fine
    assert "could not be decoded" in camera.receive()["message"]
    camera.ws.send(b"\x00\x01")
    assert "4 bytes of frame number" in camera.receive()["message"]
    camera.send_frame(4, os.urandom(70 * 1024))
    assert "LIVE_MAX_FRAME_KB" in camera.receive()["message"]
    camera.send_json({"type": "dance"})
    assert "Unknown message type 'dance'" in camera.receive()["message"]
    camera.ws.send("{not json")
    assert "must be JSON" in camera.receive()["message"]
    assert _track(camera, 5)["frame"] == 5, "after all that, frames are tracked"
    camera.send_frame(5, _frame(5))
    assert "must increase" in camera.receive()["message"]
    camera.send_frame(6, os.urandom(200 * 1024))  # far over the limit: not even buffered
    with pytest.raises(ConnectionClosed, match="1009 Message is too big"):
        camera.receive()
    _wait_for_cameras(server, 0)


def _with_object(camera: LiveClient) -> None:
    camera.start(W, H)
    _track(camera, 0)
    camera.send_json({"type": "addPoints", "frame": 0, "objectId": 1, "points": [[0.3, 0.5]], "labels": [1]})
    assert camera.receive()["type"] == "prompted"


def test_a_flood_is_dropped_newest_wins_and_another_camera_keeps_its_share(server):
    calm, flood = LiveClient(server.url), LiveClient(server.url)
    _with_object(calm)
    _with_object(flood)
    calm_answers = []

    def calm_camera() -> None:  # 5 frames/s, one in flight
        for seq in range(1, 16):
            calm_answers.append(_track(calm, seq))
            time.sleep(0.2)

    thread = threading.Thread(target=calm_camera)
    thread.start()
    data = jpeg(_frame(0))
    sent, t0 = 0, time.monotonic()  # frame 0 was sent already
    while time.monotonic() - t0 < 3.0:  # 200 frames/s for 3 s
        sent += 1
        flood.send_frame(sent, data)
        time.sleep(max(0.0, t0 + sent / 200 - time.monotonic()))
    health_started = time.monotonic()
    assert server.healthy()["status"] == "ok"
    assert time.monotonic() - health_started < 2.0, "the server answers others during the flood"
    thread.join(60)
    time.sleep(1.0)
    flood.send_json({"type": "stop"})
    messages = flood.drain(30)
    answers = [m for m in messages if m["type"] == "masks"]
    assert messages[-1]["type"] == "end"
    assert not [m for m in messages if m["type"] == "error"]
    # Every frame is answered or said to be dropped; at most LIVE_MAX_FPS (20/s, bursts of 2) get through.
    assert len(answers) + sum(m["droppedCount"] for m in answers) + messages[-1]["droppedCount"] == sent
    assert len(answers) <= 20 * 3.5 + 2
    assert sent > 500 and len(answers) >= 3
    assert [a["frame"] for a in answers] == sorted(a["frame"] for a in answers)
    assert all(len(a["objects"]) == 1 for a in answers), "the flooding camera is tracked too"
    # The calm camera got every one of its frames answered, in order, none dropped.
    assert [a["frame"] for a in calm_answers] == list(range(1, 16))
    assert all(a["droppedCount"] == 0 for a in calm_answers)
    calm.close()
    _wait_for_cameras(server, 0)


def test_a_burst_of_messages_faster_than_the_server_reads_closes_the_connection(server):
    """5000 messages written in one go: the WebSocket library would queue them all; the server
    closes the connection with a clear error once 256 wait, and others are not touched."""
    calm, burst = LiveClient(server.url), LiveClient(server.url)
    calm.start(W, H)
    burst.start(W, H)
    wire = b"".join(burst.ws.ws.send(BytesMessage(data=b"\x00\x00\x00\x01x")) for _ in range(5000))
    burst.ws.sock.sendall(wire)
    messages = burst.drain(60)
    assert messages[-2]["code"] == "LIMIT_EXCEEDED" and messages[-2]["fatal"], messages[-3:]
    assert "faster than the server reads them" in messages[-2]["message"]
    assert messages[-1]["type"] == "end" and messages[-1]["reason"] == "LIMIT_EXCEEDED"
    assert len(messages) < 5000, "closed before reading the whole burst"
    assert _track(calm, 1)["frame"] == 1
    calm.close()
    _wait_for_cameras(server, 0)


def test_a_client_vanishing_mid_frame_frees_its_camera(server):
    camera = LiveClient(server.url)
    camera.start(W, H)
    _track(camera, 1)
    _wait_for_cameras(server, 1)
    # Half of a binary WebSocket frame (header says 5000 bytes), then the TCP connection goes.
    camera.ws.sock.sendall(bytes([0x82, 0xFE, 0x13, 0x88, 1, 2, 3, 4]) + b"x" * 1000)
    camera.ws.sock.shutdown(2)
    camera.ws.sock.close()
    _wait_for_cameras(server, 0)
    other = LiveClient(server.url)
    assert other.start(W, H)["type"] == "started"
    assert _track(other, 1)["frame"] == 1
    other.close()
    _wait_for_cameras(server, 0)


def test_camera_limit_and_second_connection_to_a_session(server):
    first, second = LiveClient(server.url), LiveClient(server.url)
    live_id = first.start(W, H)["liveId"]
    second.start(W, H)
    third = LiveClient(server.url)
    refused = third.receive()  # at once: the server has no room, whatever the client says
    assert refused["code"] == "LIMIT_EXCEEDED" and refused["fatal"]
    assert "2 live cameras at once (LIVE_MAX_CAMERAS)" in refused["message"]
    with pytest.raises(ConnectionClosed):
        third.receive(5)
    second.close()
    _wait_for_cameras(server, 1)
    tab = LiveClient(server.url)
    tab.send_json({"type": "join", "liveId": live_id})
    taken = tab.receive()
    assert taken["code"] == "IN_USE" and "another tab" in taken["message"] and taken["fatal"]
    assert _track(first, 1)["frame"] == 1, "the session named is not touched"
    first.close()
    _wait_for_cameras(server, 0)
    assert server.healthy()["live"]["refused"] >= 1


def test_many_cameras_at_once_each_get_an_answer(server):
    """50 connections, each starting a camera at once: 2 run, 48 are told no; none keeps a server
    thread waiting. (Each says "start" as soon as it is connected: on a loaded machine, opening 50
    connections one after another takes longer than the server waits for a start.)"""
    t0 = time.monotonic()
    cameras = []
    for _ in range(50):
        camera = LiveClient(server.url)
        camera.send_json({"type": "start", "width": W, "height": H})
        cameras.append(camera)
    answers = [camera.receive(10) for camera in cameras]
    assert time.monotonic() - t0 < 30
    refused = [a for a in answers if a["type"] != "started"]
    assert len(refused) == 48 and all(a["code"] == "LIMIT_EXCEEDED" and a["fatal"] for a in refused), refused
    running = [c for c, a in zip(cameras, answers) if a["type"] == "started"]
    assert requests.post(
        f"{server.url}/graphql", json={"query": "{ serverInfo { modelSize } }"}, timeout=5
    ).ok
    for camera in running:
        assert _track(camera, 1)["frame"] == 1
    for camera in cameras:
        camera.close()
    _wait_for_cameras(server, 0)
    assert server.healthy()["status"] == "ok"


def test_upgrade_from_another_site_or_host_is_refused(server):
    with pytest.raises(Exception) as refused:
        LiveClient(server.url, headers={"Origin": "http://evil.example"})
    assert "403" in str(refused.value)
    answer = requests.get(f"{server.url}/live", headers={"Origin": "http://evil.example", "Upgrade": "websocket",
                                                         "Connection": "Upgrade", "Sec-WebSocket-Version": "13",
                                                         "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="})  # fmt: skip
    assert answer.status_code == 403 and answer.json()["error"]["code"] == "FORBIDDEN_ORIGIN"
    answer = requests.get(f"{server.url}/live", headers={"Host": "rebound.example", "Upgrade": "websocket",
                                                         "Connection": "Upgrade", "Sec-WebSocket-Version": "13",
                                                         "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="})  # fmt: skip
    assert answer.status_code == 400 and answer.json()["error"]["code"] == "BAD_HOST"
    # simple-websocket's client sends "Host: 127.0.0.1" (no port); a browser's Origin names the same.
    same_site = LiveClient(server.url, headers={"Origin": "http://127.0.0.1"})
    assert same_site.start(W, H)["type"] == "started"
    same_site.close()
    _wait_for_cameras(server, 0)


def test_session_length_limit_and_shutdown(tmp_path):
    (tmp_path / "gallery").mkdir()
    with LocalServer(tmp_path, tmp_path / "server.log", LIVE_MAX_SECONDS="2") as server:
        camera = LiveClient(server.url)
        camera.send_json({"type": "start", "width": W, "height": H, "clientId": "camera-length-client"})
        assert camera.receive()["type"] == "started"
        _track(camera, 1)
        camera.send_json({"type": "record", "on": True})
        _track(camera, 2)
        messages = camera.drain(60)
        assert messages[-2]["code"] == "LIMIT_EXCEEDED" and "LIVE_MAX_SECONDS" in messages[-2]["message"]
        assert messages[-1]["reason"] == "LIMIT_EXCEEDED"
        # The session ended while recording: the recording is stored, and said so before the end.
        recorded = [m for m in messages if m["type"] == "recorded"]
        assert len(recorded) == 1 and recorded[0]["numFrames"] >= 1, messages
        camera = LiveClient(server.url)
        camera.start(W, H)
        _track(camera, 1)
        os.kill(server.process.pid, signal.SIGTERM)
        messages = camera.drain(10)
        assert messages[-2]["code"] == "SHUTTING_DOWN" and messages[-1]["reason"] == "SHUTTING_DOWN"
