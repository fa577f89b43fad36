"""Fixtures of the batch tests (helpers in batch_support.py)."""

from pathlib import Path

import pytest
import torch

from .batch_support import (
    MICRO_CONFIG,
    WORKER_THREADS,
    mixed_lines,
    reference_annotations,
    save_golden_checkpoint,
    write_clips,
)


@pytest.fixture(scope="session")
def golden_checkpoint(tmp_path_factory) -> str:
    return save_golden_checkpoint(tmp_path_factory.mktemp("weights") / "micro_golden.pt")


@pytest.fixture(scope="session")
def clip_dir(tmp_path_factory) -> Path:
    return write_clips(tmp_path_factory.mktemp("clips"))


@pytest.fixture(scope="session")
def reference(golden_checkpoint, clip_dir) -> dict[str, list]:
    """Each mixed line's masks from one process and the public API, by video file stem."""
    from sam2.build_sam import build_sam2_video_predictor

    predictor = build_sam2_video_predictor(MICRO_CONFIG, ckpt_path=golden_checkpoint, device="cpu")
    threads = torch.get_num_threads()
    torch.set_num_threads(WORKER_THREADS)
    try:
        return {
            Path(line["video"]).stem: reference_annotations(predictor, line) for line in mixed_lines(clip_dir)
        }
    finally:
        torch.set_num_threads(threads)
