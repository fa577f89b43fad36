"""Shared test fixtures: paths to ../shared (test media, golden fixtures) and a micro model."""

import os
from pathlib import Path

import pytest
import torch
from shared_paths import DATA, GOLDEN, MICRO_CONFIG, require

# Keep test runs predictable on the 2-core machines.
torch.set_num_threads(min(2, os.cpu_count() or 1))


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
