"""Start the real server (gunicorn, the repository's config) on a free local port.

For tests and the tools in `tools/`: `with LocalServer(data_path, log_path, MAX_SESSIONS="2") as s:`.
Extra keyword arguments become environment variables of the server.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

REPO = Path(__file__).resolve().parents[2]
MICRO_CONFIG = "configs/sam2.1/sam2.1_hiera_micro.yaml"
# Short names the tools accept for --config.
CONFIG_ALIASES = {
    "micro": MICRO_CONFIG,
    "tiny": "configs/sam2.1/sam2.1_hiera_t.yaml",
    "small": "configs/sam2.1/sam2.1_hiera_s.yaml",
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LocalServer:
    """gunicorn on 127.0.0.1:<free port>; random micro weights on CPU unless overridden."""

    def __init__(
        self, data_path: Path, log_path: Path, port: int | None = None, repo: Path = REPO, **env: str
    ):
        """`repo`: the checkout whose server to run (benchmarks compare against an older one)."""
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.data_path = Path(data_path)
        self.log_path = Path(log_path)
        full_env = {
            **os.environ,
            "DATA_PATH": str(data_path),
            "SAM2_DEMO_RANDOM_WEIGHTS": "1",
            "SAM2_DEMO_CONFIG": MICRO_CONFIG,
            "SAM2_DEMO_DEVICE": "cpu",
            "FRONTEND_DIST": str(self.data_path / "no-frontend"),
            "PYTHONPATH": os.pathsep.join(filter(None, [str(repo), os.environ.get("PYTHONPATH")])),
            **env,
        }
        self.log = open(log_path, "ab")  # noqa: SIM115 - lives as long as the server
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "-c",
                str(repo / "demo/backend/gunicorn.conf.py"),
                "--bind",
                f"127.0.0.1:{self.port}",
                "demo.backend.app:create_app()",
            ],
            cwd=repo,
            env=full_env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self._wait_healthy()

    def __enter__(self) -> LocalServer:  # noqa: PYI034
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def _wait_healthy(self, timeout: float = 180.0) -> None:
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

    def kill(self) -> None:
        """SIGKILL the server and its workers at once: no shutdown code runs (a crash)."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        self.log.close()

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)  # the server's own process group only
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self.log.close()
