"""Paths the tests share (../shared beside the repository, the micro config) and `require`.

A module of its own, imported as `shared_paths`, not `from conftest import ...`: several test
folders have a conftest.py, and which one the name `conftest` means depends on what pytest
collected last.
"""

from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED = REPO_ROOT.parent / "shared"
GOLDEN = SHARED / "golden"
DATA = SHARED / "data"
MICRO_CONFIG = "configs/sam2.1/sam2.1_hiera_micro.yaml"


def require(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"{path} is absent (the shared test data sits beside the repository)")
    return path
