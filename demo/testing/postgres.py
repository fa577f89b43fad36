"""A throwaway PostgreSQL server for tests and tools, from the distribution's binaries.

    with LocalPostgres() as pg:
        url = pg.create_database("work")   # postgresql+psycopg://postgres@127.0.0.1:<port>/work

`initdb` into a fresh temporary folder (trust authentication: it listens on 127.0.0.1 and a
socket in that folder only), `postgres` on a free port; `stop()` removes everything. PostgreSQL
refuses to run as root, and CI runs as root: there the server runs as the unprivileged `nobody`
(`setpriv`), in a folder that user owns. Debian puts the binaries in
/usr/lib/postgresql/<version>/bin (`apt-get install postgresql`); `find_binaries()` is None
where there are none (tests skip then).
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg

from .local_server import free_port

UNPRIVILEGED_USER = "nobody"


def find_binaries() -> Path | None:
    """The newest /usr/lib/postgresql/<version>/bin holding initdb and postgres, else PATH's."""
    versions = sorted(
        Path("/usr/lib/postgresql").glob("*/bin"),
        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
    )
    for bin_dir in reversed(versions):
        if (bin_dir / "initdb").exists() and (bin_dir / "postgres").exists():
            return bin_dir
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb and shutil.which("postgres") else None


class LocalPostgres:
    """PostgreSQL on 127.0.0.1:<free port>, its data in a temporary folder.

    durable=False turns fsync off: only the clients are ever killed in the tests, never this
    server, and the tests run faster; measurements that count commit costs pass durable=True.
    """

    def __init__(self, bin_dir: Path | None = None, durable: bool = False, timeout: float = 30.0):
        self.bin_dir = bin_dir or find_binaries()
        if self.bin_dir is None:
            raise FileNotFoundError(
                "PostgreSQL binaries (initdb, postgres) not found: apt-get install postgresql"
            )
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="sam2-postgres-"))
        self.data = self.root / "data"
        self.log_path = self.root / "server.log"
        self._as_user: list[str] = []
        self._databases = 0
        if os.geteuid() == 0:
            user = pwd.getpwnam(UNPRIVILEGED_USER)
            os.chown(self.root, user.pw_uid, user.pw_gid)
            self._as_user = ["setpriv", f"--reuid={user.pw_uid}", f"--regid={user.pw_gid}", "--clear-groups"]
        self._run(
            [str(self.bin_dir / "initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust",
             "--encoding=UTF8", "--no-sync"]
        )  # fmt: skip
        settings = [
            f"port={self.port}",
            "listen_addresses=127.0.0.1",
            f"unix_socket_directories={self.root}",
            "max_connections=200",  # several workers, each with a pool
        ]
        if not durable:
            settings += ["fsync=off", "full_page_writes=off"]
        args = [arg for s in settings for arg in ("-c", s)]
        self.log = open(self.log_path, "ab")  # noqa: SIM115 - lives as long as the server
        self.process = subprocess.Popen(
            [*self._as_user, str(self.bin_dir / "postgres"), "-D", str(self.data), *args],
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self._wait_ready(timeout)

    def _run(self, command: list[str]) -> None:
        result = subprocess.run([*self._as_user, *command], capture_output=True, text=True, cwd=self.root)
        if result.returncode != 0:
            shutil.rmtree(self.root, ignore_errors=True)
            raise RuntimeError(f"{command[0]} failed:\n{result.stdout}\n{result.stderr}")

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"postgres exited early:\n{self.log_text()}")
            try:
                with psycopg.connect(self.dsn("postgres"), connect_timeout=2):
                    return
            except psycopg.OperationalError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"postgres did not start:\n{self.log_text()}")

    def __enter__(self) -> LocalPostgres:  # noqa: PYI034
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def dsn(self, database: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def url(self, database: str) -> str:
        """The SQLAlchemy URL (the server's DATABASE_URL) of a database here."""
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str | None = None) -> str:
        """A new empty database (named `db<n>` unless named); returns its URL."""
        self._databases += 1
        name = name or f"db{self._databases}"
        if not name.replace("_", "").isalnum():
            raise ValueError(f"database name must be letters, digits and _: {name!r}")
        with psycopg.connect(self.dsn("postgres"), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")[-5000:] if self.log_path.exists() else ""

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)  # "fast" shutdown: rolls back, closes, exits
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()
        shutil.rmtree(self.root, ignore_errors=True)
