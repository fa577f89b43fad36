"""Check the onnxruntime automatic mask generator against the golden AMG fixture.

    python tools/check_amg_onnx.py ../shared/golden/amg [--export DIR] [-k SUBSTR] [--verbose]

Runs the fixture's own checker (``<fixture>/check_amg.py``, its cases and tolerances) with the
model replaced by :class:`sam2.onnx.image_predictor.SAM2ImagePredictorONNX` on an export of
the fixture's micro model with the golden weights (exported here, which needs torch, or read
from ``--export DIR``) and the generator by
:class:`sam2.onnx.automatic_mask_generator.SAM2AutomaticMaskGeneratorONNX`. Prints the
checker's lines (``N passed, M failed``); exit code 1 on any failure.
"""

import argparse
import importlib.util
import os
import sys
import tempfile

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _load_checker(fixture: str):
    path = os.path.join(os.path.abspath(fixture), "check_amg.py")
    spec = importlib.util.spec_from_file_location("golden_check_amg", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def export_fixture_model(checker, out_dir: str) -> None:
    """Export the fixture's micro model with the golden weights (the checker's own checkpoint)."""
    import torch

    from sam2.onnx.export import export_onnx

    meta, _ = checker.load_fixture()
    config = os.path.join(checker.HERE, meta["config"])
    model = checker.build_model(config)
    ckpt = os.path.join(out_dir, "golden.pt")
    torch.save({"model": model.state_dict()}, ckpt)
    export_onnx(config, ckpt, os.path.join(out_dir, "export"))


def run(fixture: str, export_dir=None, substr=None, verbose=False, threads: int = 2) -> int:
    if REPO_ROOT not in sys.path:
        sys.path.insert(0, REPO_ROOT)
    from sam2.onnx.automatic_mask_generator import SAM2AutomaticMaskGeneratorONNX
    from sam2.onnx.image_predictor import build_sam2_image_predictor_onnx

    checker = _load_checker(fixture)
    tmp = None
    if export_dir is None:
        tmp = tempfile.TemporaryDirectory(prefix="sam2onnx_amg_")
        export_fixture_model(checker, tmp.name)
        export_dir = os.path.join(tmp.name, "export")
    predictor = build_sam2_image_predictor_onnx(export_dir, threads=threads)
    checker.build_model = lambda config, device="cpu": predictor
    checker.generate = lambda model, params, image: SAM2AutomaticMaskGeneratorONNX(model, **params).generate(
        image
    )
    argv = (["-k", substr] if substr else []) + (["--verbose"] if verbose else [])
    try:
        return checker.main(argv)
    finally:
        if tmp is not None:
            tmp.cleanup()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("fixture", help="the AMG fixture folder (../shared/golden/amg)")
    ap.add_argument("--export", help="an export folder of the fixture's micro model with the golden weights")
    ap.add_argument("-k", dest="substr", help="only cases whose name contains SUBSTR")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--verbose", action="store_true")
    a = ap.parse_args(argv)
    return run(a.fixture, a.export, a.substr, a.verbose, a.threads)


if __name__ == "__main__":
    sys.exit(main())
