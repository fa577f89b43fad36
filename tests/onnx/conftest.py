"""Fixtures of the ONNX tests: one export of the micro model per test session.

The export uses the golden fixture's deterministic weights when ../shared is present (so the
parity replay can run on it), else seeded random weights.
"""

import sys
from pathlib import Path

import pytest
import torch

REPO_ROOT = Path(__file__).resolve().parents[2]
GOLDEN = REPO_ROOT.parent / "shared" / "golden"
MICRO_CONFIG = "configs/sam2.1/sam2.1_hiera_micro.yaml"


def _micro_checkpoint(folder: Path) -> Path:
    from sam2.build_sam import build_sam2_video_predictor

    model = build_sam2_video_predictor(MICRO_CONFIG, device="cpu")
    if (GOLDEN / "weights.py").exists():
        sys.path.insert(0, str(GOLDEN))
        from weights import make_state_dict

        state_dict = make_state_dict(model.state_dict())
    else:
        torch.manual_seed(0)
        state_dict = model.state_dict()
    path = folder / "micro.pt"
    torch.save({"model": state_dict}, path)
    return path


@pytest.fixture(scope="session")
def micro_checkpoint(tmp_path_factory) -> Path:
    return _micro_checkpoint(tmp_path_factory.mktemp("onnx_ckpt"))


@pytest.fixture(scope="session")
def micro_export(tmp_path_factory, micro_checkpoint) -> Path:
    """An export folder of the micro model (about half a minute on 2 cores)."""
    from sam2.onnx.export import export_onnx

    out = tmp_path_factory.mktemp("onnx_micro")
    export_onnx(MICRO_CONFIG, str(micro_checkpoint), str(out))
    return out


@pytest.fixture(scope="session")
def micro_model(micro_checkpoint):
    """The torch video predictor the export was made from."""
    from sam2.build_sam import build_sam2_video_predictor

    return build_sam2_video_predictor(MICRO_CONFIG, ckpt_path=str(micro_checkpoint), device="cpu")
