"""Shared fixtures of the packaging tests."""

from __future__ import annotations

import socket

import pytest


@pytest.fixture
def unreachable_base_url() -> str:
    """An http:// URL on loopback where nothing listens (connection refused at once)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/checkpoints/"
