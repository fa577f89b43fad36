"""Shared test fixtures: paths to ../shared (test media, golden fixtures) and a micro model."""

import os
from pathlib import Path

import pytest
import torch

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED = REPO_ROOT.parent / "shared"
GOLDEN = SHARED / "golden"
DATA = SHARED / "data"
MICRO_CONFIG = "configs/sam2.1/sam2.1_hiera_micro.yaml"

# Keep test runs predictable on the 2-core machines.
torch.set_num_threads(min(2, os.cpu_count() or 1))


def require(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"{path} is absent (the shared test data sits beside the repository)")
    return path


@pytest.fixture(scope="session")
def golden_dir() -> Path:
    return require(GOLDEN)


@pytest.fixture(scope="session")
def data_dir() -> Path:
    return require(DATA)


@pytest.fixture(scope="session")
def micro_video_predictor():
    """A micro video predictor on seeded random weights (shared: tests must reset their state)."""
    from sam2.build_sam import build_sam2_video_predictor

    torch.manual_seed(0)
    return build_sam2_video_predictor(MICRO_CONFIG, device="cpu")
