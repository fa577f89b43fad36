"""Hostile clients for `tools/loadtest.py --hostile`: slow-header and slow-body sockets that
trickle a byte every few seconds (and reconnect when the server cuts them off), streams that are
opened and never read, and a prober that times `/healthy` meanwhile.

Only talks to the given (local) server; every loop ends when `stop` is set.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import requests

from demo.testing.client import DemoClient

SLOW_HEAD = b"POST /graphql HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: "  # never ends
SLOW_BODY = (
    b"POST /graphql HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n"
)


@dataclass
class HostileReport:
    lock: threading.Lock = field(default_factory=threading.Lock)
    cut_off: int = 0  # slow sockets the server closed (then reopened)
    connect_errors: int = 0
    healthy_ms: list[float] = field(default_factory=list)
    healthy_errors: int = 0
    stalled_max: int = 0  # never-reading streams seen stuck at once
    stalled_seen_at_s: float | None = None  # since they were opened
    stalled_freed_after_s: float | None = None  # all slots given back


class SlowSockets:
    """`count` sockets that send one byte every `interval` seconds, from one thread."""

    def __init__(self, url: str, prefix: bytes, count: int, interval: float, report: HostileReport):
        parts = urlsplit(url)
        self.address = (parts.hostname, parts.port or 80)
        self.prefix, self.count, self.interval, self.report = prefix, count, interval, report
        self.sockets: list[socket.socket | None] = [None] * count

    def _open(self) -> socket.socket | None:
        try:
            s = socket.create_connection(self.address, timeout=5)
            s.sendall(self.prefix)
            s.setblocking(False)
            return s
        except OSError:
            with self.report.lock:
                self.report.connect_errors += 1
            return None

    def run(self, stop: threading.Event) -> None:
        for i in range(self.count):
            self.sockets[i] = self._open()
        while not stop.wait(self.interval):
            for i, s in enumerate(self.sockets):
                if s is None:
                    self.sockets[i] = self._open()
                    continue
                try:
                    s.recv(4096, socket.MSG_PEEK)  # an answer (408) or the end: cut off
                    raise ConnectionResetError
                except BlockingIOError:
                    pass  # nothing to read: still open
                except OSError:
                    s.close()
                    with self.report.lock:
                        self.report.cut_off += 1
                    self.sockets[i] = self._open()
                    continue
                try:
                    s.send(b"a")
                except OSError:
                    pass
        for s in self.sockets:
            if s is not None:
                s.close()


def probe_healthy(url: str, stop: threading.Event, report: HostileReport, every: float = 0.5) -> None:
    while not stop.wait(every):
        t0 = time.perf_counter()
        try:
            requests.get(f"{url}/healthy", timeout=10).raise_for_status()
            with report.lock:
                report.healthy_ms.append(1000 * (time.perf_counter() - t0))
        except requests.RequestException:
            with report.lock:
                report.healthy_errors += 1


def stalled_streams(url: str, video: str, count: int, objects: int, report: HostileReport, stop: threading.Event):
    """`count` sessions, each opening a propagation stream it never reads; records when the
    server saw them stuck and when it had cut them all off (their slots given back)."""
    client = DemoClient(url)
    parts = urlsplit(url)
    sessions, sockets = [], []
    for _ in range(count):
        sid = client.start_session(video)
        for obj in range(objects):
            client.add_points(sid, 0, obj, [[(obj % 4 + 0.5) / 4, (obj // 4 + 0.5) / 4]], [1])
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.connect((parts.hostname, parts.port or 80))
        body = json.dumps({"session_id": sid, "start_frame_index": 0}).encode()
        s.sendall(
            b"POST /propagate_in_video HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            + f"Content-Length: {len(body)}\r\n\r\n".encode()
            + body
        )
        sessions.append(sid)
        sockets.append(s)
    # /healthy counts streams whose client has not taken a frame for a second ("stalled").
    t0, most = time.monotonic(), 0
    while not stop.wait(0.25):
        try:
            stalled = requests.get(f"{url}/healthy", timeout=10).json()["stalled_streams"]
        except requests.RequestException:
            continue
        if stalled > most:
            most = stalled
            with report.lock:
                report.stalled_seen_at_s = round(time.monotonic() - t0, 1)
        elif most and stalled == 0:
            with report.lock:
                report.stalled_freed_after_s = round(time.monotonic() - t0, 1)
            break
    with report.lock:
        report.stalled_max = most
    for s in sockets:
        s.close()
    for sid in sessions:
        try:
            client.close_session(sid)
        except Exception:  # noqa: BLE001
            pass
