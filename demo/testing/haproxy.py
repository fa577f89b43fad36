"""HAProxy in front of local workers, configured by the repository's docker/haproxy.cfg.

    with LocalHAProxy({"w1": 8001, "w2": 8002}, log_path, agent_ports={"w1": 9001, "w2": 9002}) as proxy:
        proxy.url                # http://127.0.0.1:<free port>
        proxy.server_states()    # {"w1": "UP", "w2": "DOWN"}
        proxy.weights()          # {"w1": 100, "w2": 63}: new sessions' weights, from the agents

Only the `bind` and `server` lines of that file are replaced (by a free local port and one
`server` line per worker in each backend; each worker's load agent port, LOAD_AGENT_PORT), so
tests and tools exercise the same balancing, stickiness, health checks and timeouts as the
compose `scale` profile. `find_haproxy()` is None where HAProxy is not installed
(`apt-get install haproxy`).
"""

from __future__ import annotations

import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import requests

from .local_server import REPO, free_port

CONFIG = REPO / "docker" / "haproxy.cfg"


def find_haproxy() -> str | None:
    return shutil.which("haproxy") or next(
        (str(p) for p in (Path("/usr/sbin/haproxy"), Path("/usr/local/sbin/haproxy")) if p.exists()), None
    )


def local_config(
    workers: dict[str, int],
    port: int,
    admin_socket: Path,
    template: str | None = None,
    agent_ports: dict[str, int] | None = None,
) -> str:
    """docker/haproxy.cfg with its listener on 127.0.0.1:`port` and `workers` (name -> port)
    as the servers of each backend, modelled on that backend's first `server` line (its
    options kept, its name replaced wherever it appears, e.g. in `track`, its `agent-port` by
    the worker's in `agent_ports`); an admin socket is added for `server_states`."""
    lines: list[str] = []
    modelled: set[int] = set()  # backends whose server lines are written
    backend = 0
    for line in (template if template is not None else CONFIG.read_text()).splitlines():
        words = line.split()
        if words[:1] == ["backend"]:
            backend += 1
        if words[:1] == ["bind"]:
            lines.append(f"    bind 127.0.0.1:{port}")
        elif words[:1] == ["server"] and len(words) >= 3:
            if backend in modelled:
                continue
            modelled.add(backend)
            first = words[1]
            for i, (name, p) in enumerate(workers.items(), start=1):
                options = " ".join(words[3:]).replace(first, name)
                options = re.sub(r"\bid \d+", f"id {i}", options)
                if "agent-port" in options:
                    if not agent_ports or name not in agent_ports:
                        raise ValueError(
                            f"the HAProxy config asks for a load agent: give {name}'s agent port"
                        )
                    options = re.sub(r"\bagent-port \d+", f"agent-port {agent_ports[name]}", options)
                lines.append(f"    server {name} 127.0.0.1:{p} {options}")
        else:
            lines.append(line)
            if words == ["global"]:
                lines.append(f"    stats socket {admin_socket} level admin")
    if not modelled or f"127.0.0.1:{port}" not in "\n".join(lines):
        raise ValueError("the HAProxy config has no `bind` or `server` line to replace")
    return "\n".join(lines) + "\n"


class LocalHAProxy:
    def __init__(
        self,
        workers: dict[str, int],
        log_path: Path,
        timeout: float = 20.0,
        agent_ports: dict[str, int] | None = None,
    ):
        binary = find_haproxy()
        if binary is None:
            raise FileNotFoundError("haproxy not found: apt-get install haproxy")
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.root = Path(tempfile.mkdtemp(prefix="sam2-haproxy-"))
        self.admin_socket = self.root / "admin.sock"
        self.config_path = self.root / "haproxy.cfg"
        self.config_path.write_text(
            local_config(workers, self.port, self.admin_socket, agent_ports=agent_ports)
        )
        self.log_path = Path(log_path)
        self.log = open(self.log_path, "ab")  # noqa: SIM115 - lives as long as the proxy
        # -db: stay in the foreground, logs to stdout; -W: master-worker (reloads, clean exit).
        self.process = subprocess.Popen(
            [binary, "-W", "-db", "-f", str(self.config_path)],
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"haproxy exited early:\n{self.log_text()}")
            states = self._try_states()
            if states and all(s == "UP" for s in states.values()):
                return
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"haproxy did not see every worker up:\n{self.log_text()}")

    def __enter__(self) -> LocalHAProxy:  # noqa: PYI034
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def _admin(self, command: str) -> str:
        with socket.socket(socket.AF_UNIX) as s:
            s.settimeout(5)
            s.connect(str(self.admin_socket))
            s.sendall(command.encode() + b"\n")
            chunks = []
            while chunk := s.recv(65536):
                chunks.append(chunk)
        return b"".join(chunks).decode()

    def _try_states(self) -> dict[str, str] | None:
        try:
            return self.server_states()
        except OSError:
            return None

    def server_states(self) -> dict[str, str]:
        """Each worker's state as the health checks see it: "UP", "DOWN" (or "UP 1/2", ...)."""
        return self._server_stats("sessions", "status")

    def weights(self) -> dict[str, int]:
        """Each worker's weight for new sessions now (100 scaled by its load agent's report)."""
        return {name: int(w) for name, w in self._server_stats("new_sessions", "weight").items()}

    def _server_stats(self, backend: str, column: str) -> dict[str, str]:
        header, *rows = self._admin("show stat").splitlines()
        names = header.lstrip("# ").split(",")
        found = {}
        for row in rows:
            fields = dict(zip(names, row.split(","), strict=False))
            if fields.get("pxname") == backend and fields.get("svname") not in ("BACKEND", "FRONTEND", None):
                found[fields["svname"]] = fields[column]
        return found

    def get(self, path: str, **kwargs) -> requests.Response:
        return requests.get(f"{self.url}{path}", timeout=kwargs.pop("timeout", 10), **kwargs)

    def log_text(self) -> str:
        if not self.log.closed:
            self.log.flush()
        return self.log_path.read_text(errors="replace")[-5000:]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGUSR1)  # soft stop: finish what is in flight
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()
        shutil.rmtree(self.root, ignore_errors=True)
