"""Fixtures: test media from ../shared/data, a temporary DATA_PATH, real gunicorn servers."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:  # `demo` is not an installed package: import it from the checkout
    sys.path.insert(0, str(REPO))

from demo.testing.client import DemoClient  # noqa: E402
from demo.testing.local_server import LocalServer  # noqa: E402
from demo.testing.postgres import LocalPostgres, find_binaries  # noqa: E402

SHARED_DATA = REPO.parent / "shared" / "data"
GALLERY = SHARED_DATA / "gallery"
UPLOADS = SHARED_DATA / "uploads"


def need_media() -> None:
    if not GALLERY.is_dir() or not UPLOADS.is_dir():
        pytest.skip("test media ../shared/data is not present")


@pytest.fixture(scope="session")
def media_dir() -> Path:
    need_media()
    return SHARED_DATA


ServerProcess = LocalServer  # the real server under gunicorn, on a free port


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


@pytest.fixture(scope="session")
def postgres() -> LocalPostgres:
    """One throwaway PostgreSQL server for the run (tests make their own databases on it)."""
    if find_binaries() is None:
        pytest.skip("PostgreSQL binaries (initdb, postgres) are not installed: apt-get install postgresql")
    server = LocalPostgres()
    yield server
    server.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_env(request) -> dict[str, str]:
    """The server environment of each database backend: SQLite under DATA_PATH (the default),
    or a fresh database on the test PostgreSQL server."""
    if request.param == "sqlite":
        return {}
    pg = request.getfixturevalue("postgres")
    return {"DATABASE_URL": pg.create_database()}
