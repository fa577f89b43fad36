"""The golden AMG fixture through the onnxruntime image path (tools/check_amg_onnx.py).

The fixture's own checker and tolerances (mask IoU >= 0.999, predicted IoU within 1e-4, boxes
identical, ...) with the generator on the ONNX image predictor of the micro export (golden
weights), in NumPy, no torch on the generator's side.
"""

import importlib.util

import numpy as np
import pytest
from shared_paths import GOLDEN, REPO_ROOT, require

pytest.importorskip("onnxruntime")


def _tool():
    spec = importlib.util.spec_from_file_location("check_amg_onnx", REPO_ROOT / "tools" / "check_amg_onnx.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_golden_amg_fixture_passes_on_onnxruntime(micro_export, capsys):
    fixture = require(GOLDEN / "amg")
    require(GOLDEN / "weights.py")
    failed = _tool().run(str(fixture), export_dir=str(micro_export))
    out = capsys.readouterr().out
    assert failed == 0, out
    assert "8 passed, 0 failed" in out, out


def test_onnx_generator_refuses_what_it_cannot_do(micro_export):
    from sam2.onnx.automatic_mask_generator import SAM2AutomaticMaskGeneratorONNX

    with pytest.raises(NotImplementedError, match="SAM2AutomaticMaskGenerator"):
        SAM2AutomaticMaskGeneratorONNX(str(micro_export), min_mask_region_area=10)
    with pytest.raises(ValueError, match="output_mode"):
        SAM2AutomaticMaskGeneratorONNX(str(micro_export), output_mode="png")
    gen = SAM2AutomaticMaskGeneratorONNX(str(micro_export), points_per_side=2)
    with pytest.raises(ValueError, match="uint8"):
        gen.generate(np.zeros((8, 8, 3), dtype=np.float32))
