"""SIGTERM while a stream runs: /healthy says "draining" and the stream ends with an error part
within a second each, instead of running on for the graceful timeout and being cut mid-part."""

from __future__ import annotations

import json
import os
import shutil
import signal
import threading
import time

import requests

from demo.testing.client import DemoClient

from .conftest import GALLERY, ServerProcess

ERROR_TYPE = "application/vnd.sam2-demo.error+json"


def test_sigterm_drains_streams_and_health_then_stops(tmp_path, media_dir):
    root = tmp_path / "data"
    (root / "gallery").mkdir(parents=True)
    shutil.copy(GALLERY / "bunny_1280x720_25fps.mp4", root / "gallery")
    server = ServerProcess(root, tmp_path / "server.log")
    try:
        client = DemoClient(server.url)
        sid = client.start_session("gallery/bunny_1280x720_25fps.mp4")
        for obj in range(4):
            client.add_points(sid, 0, obj, [[(obj + 0.5) / 4, 0.5]], [1])
        response = client.propagate(sid, 0, direction="forward")
        raw, received = response.raw, bytearray()
        received += raw.read(100)  # tracking has begun
        ended = threading.Event()

        def read_rest():
            while chunk := raw.read1(65536) if hasattr(raw, "read1") else raw.read(4096):
                received.extend(chunk)
            ended.set()

        threading.Thread(target=read_rest, daemon=True).start()
        t0 = time.monotonic()
        os.kill(server.process.pid, signal.SIGTERM)  # the arbiter, as docker stop or systemd would
        draining_after = None
        while time.monotonic() - t0 < 3 and draining_after is None:
            try:
                r = requests.get(f"{server.url}/healthy", timeout=1)
                if r.status_code == 503 and r.json()["status"] == "draining":
                    draining_after = time.monotonic() - t0
            except requests.RequestException:
                pass
            time.sleep(0.05)
        assert ended.wait(5)
        stream_ended_after = time.monotonic() - t0
        print(f"draining after {draining_after} s, stream ended after {stream_ended_after:.2f} s")
        assert draining_after is not None and draining_after < 1.0
        assert stream_ended_after < 1.0
        text = bytes(received)
        last = text.rsplit(b"--frame\r\n", 1)[1]
        head, _, body = last.partition(b"\r\n\r\n")
        assert f"Content-Type: {ERROR_TYPE}".encode() in head
        length = int(next(line for line in head.split(b"\r\n") if line.startswith(b"Content-Length")).split(b":")[1])
        assert json.loads(body[:length])["error"]["code"] == "SHUTTING_DOWN"
        server.process.wait(timeout=15)
        assert time.monotonic() - t0 < 8
    finally:
        server.stop()
    assert "drained in" in server.log_path.read_text(errors="replace")
