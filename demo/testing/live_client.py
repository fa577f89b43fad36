"""A Python client of the live camera WebSocket (`/live`, see demo/backend/live_protocol.py).

For tests and tools: frames are numpy RGB arrays (sent as JPEG), answers are the server's JSON
messages as dicts.
"""

from __future__ import annotations

import io
import json
import struct
import time

import numpy as np
from PIL import Image
from simple_websocket import Client, ConnectionClosed


def jpeg(rgb: np.ndarray, quality: int = 80) -> bytes:
    out = io.BytesIO()
    Image.fromarray(rgb).save(out, format="JPEG", quality=quality)
    return out.getvalue()


class LiveClient:
    def __init__(self, base_url: str, headers: dict | None = None):
        self.url = base_url.replace("http://", "ws://", 1).rstrip("/") + "/live"
        self.ws = Client.connect(self.url, headers=headers)

    def send_json(self, message: dict) -> None:
        self.ws.send(json.dumps(message))

    def start(self, width: int, height: int) -> dict:
        self.send_json({"type": "start", "width": width, "height": height})
        return self.receive()

    def send_frame(self, seq: int, rgb_or_bytes) -> None:
        data = rgb_or_bytes if isinstance(rgb_or_bytes, bytes) else jpeg(rgb_or_bytes)
        self.ws.send(struct.pack(">I", seq) + data)

    def receive(self, timeout: float = 60.0) -> dict:
        """The next message; raises TimeoutError, or ConnectionClosed once the server has closed."""
        message = self.ws.receive(timeout=timeout)
        if message is None:
            raise TimeoutError(f"no message from {self.url} within {timeout} s")
        return json.loads(message)

    def receive_until(self, kind: str, timeout: float = 60.0) -> tuple[dict, list[dict]]:
        """The next message of type `kind`, and every message that came before it."""
        deadline = time.monotonic() + timeout
        before = []
        while True:
            message = self.receive(max(0.01, deadline - time.monotonic()))
            if message["type"] == kind:
                return message, before
            before.append(message)

    def drain(self, timeout: float = 10.0) -> list[dict]:
        """Every message until the server closes the connection (or `timeout`)."""
        out = []
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline:
                message = self.ws.receive(timeout=max(0.01, deadline - time.monotonic()))
                if message is None:
                    break
                out.append(json.loads(message))
        except ConnectionClosed:
            pass
        return out

    def close(self) -> None:
        try:
            self.ws.close()
        except ConnectionClosed:
            pass
