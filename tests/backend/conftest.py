"""Fixtures: test media from ../shared/data, a temporary DATA_PATH, real gunicorn servers."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:  # `demo` is not an installed package: import it from the checkout
    sys.path.insert(0, str(REPO))

from demo.backend.client import DemoClient

SHARED_DATA = REPO.parent / "shared" / "data"
GALLERY = SHARED_DATA / "gallery"
UPLOADS = SHARED_DATA / "uploads"
MICRO_CONFIG = "configs/sam2.1/sam2.1_hiera_micro.yaml"


def need_media() -> None:
    if not GALLERY.is_dir() or not UPLOADS.is_dir():
        pytest.skip("test media ../shared/data is not present")


@pytest.fixture(scope="session")
def media_dir() -> Path:
    need_media()
    return SHARED_DATA


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServerProcess:
    """gunicorn with the repository's config, on a free port, on random micro weights."""

    def __init__(self, data_path: Path, log_path: Path, **env: str):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.data_path = data_path
        self.log_path = log_path
        full_env = {
            **os.environ,
            "DATA_PATH": str(data_path),
            "SAM2_DEMO_RANDOM_WEIGHTS": "1",
            "SAM2_DEMO_CONFIG": MICRO_CONFIG,
            "SAM2_DEMO_DEVICE": "cpu",
            "FRONTEND_DIST": str(data_path / "no-frontend"),
            "PYTHONPATH": str(REPO),
            **env,
        }
        self.log = open(log_path, "wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", str(REPO / "demo/backend/gunicorn.conf.py"),
             "--bind", f"127.0.0.1:{self.port}", "demo.backend.app:create_app()"],
            cwd=REPO, env=full_env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        self._wait_healthy()

    def _wait_healthy(self, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited early:\n{self.log_text()}")
            try:
                if requests.get(f"{self.url}/healthy", timeout=2).ok:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"server did not become healthy:\n{self.log_text()}")

    def healthy(self) -> dict:
        return requests.get(f"{self.url}/healthy", timeout=10).json()

    def log_text(self) -> str:
        if not self.log.closed:
            self.log.flush()
        return self.log_path.read_text(errors="replace")[-5000:]

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)  # our own process group only
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self.log.close()


def make_data_path(root: Path, gallery_clips: list[str]) -> Path:
    (root / "gallery").mkdir(parents=True)
    for name in gallery_clips:
        shutil.copy(GALLERY / name, root / "gallery" / name)
    return root


@pytest.fixture(scope="session")
def server(tmp_path_factory, media_dir) -> ServerProcess:
    """The shared server: default limits, the pedestrians clip in its gallery."""
    root = make_data_path(tmp_path_factory.mktemp("data"), ["pedestrians_768x576_24fps.mp4"])
    proc = ServerProcess(root, tmp_path_factory.mktemp("logs") / "server.log")
    yield proc
    proc.stop()


@pytest.fixture(scope="session")
def client(server) -> DemoClient:
    return DemoClient(server.url)


@pytest.fixture(scope="session")
def short_clip(client, media_dir) -> dict:
    """A 10-frame upload of the bunny gallery clip (frames 0.4 s .. 0.8 s)."""
    return client.upload(GALLERY / "bunny_1280x720_25fps.mp4", start=0.4, duration=0.4)
