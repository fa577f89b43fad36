"""Replay a golden parity fixture through the onnxruntime predictors.

    python tools/replay_onnx.py ../shared/golden/micro [--only image|video] [-k SUBSTR] [--export DIR]

Uses the fixture's own replayer (``<fixture>/../replay.py``): it makes the fixture's weights,
this tool exports them to ONNX (or reads ``--export DIR``, made from those weights), and the
steps run on :class:`sam2.onnx.SAM2ImagePredictorONNX` / :class:`SAM2VideoPredictorONNX`
with the fixture's tolerances. Returned types are checked where the reference returns NumPy;
where it returns torch tensors (video masks, image embeddings) these predictors return NumPy.
Prints one line per step and ``N passed, M failed``; exit code 1 on any failure.
"""

import argparse
import importlib.util
import os
import sys
import tempfile
import time

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _load_replay(fixture: str):
    path = os.path.join(os.path.dirname(os.path.abspath(fixture)), "replay.py")
    spec = importlib.util.spec_from_file_location("golden_replay", path)
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, os.path.dirname(path))
    spec.loader.exec_module(module)
    return module


def run(fixture: str, only=None, substr=None, export_dir=None, threads: int = 2, log=print) -> int:
    """Replay ``fixture``; returns the number of failed steps."""
    if REPO_ROOT not in sys.path:
        sys.path.insert(0, REPO_ROOT)
    replay = _load_replay(fixture)
    from sam2.onnx.image_predictor import build_sam2_image_predictor_onnx
    from sam2.onnx.video_predictor import build_sam2_video_predictor_onnx

    fx = replay.Fixture(fixture)
    runner = replay.Runner(fx, device="cpu", log=log)
    runner.make_checkpoint()
    tmp = None
    if export_dir is None:
        from sam2.onnx.export import export_onnx

        tmp = tempfile.TemporaryDirectory(prefix="sam2onnx_")
        export_dir = tmp.name
        t0 = time.time()
        export_onnx(fx.config, runner.ckpt, export_dir)
        log(f"exported {fx.config} to ONNX in {time.time() - t0:.1f}s")
    runner.image_predictor = build_sam2_image_predictor_onnx(export_dir, threads=threads)
    runner.video_predictor = build_sam2_video_predictor_onnx(export_dir, threads=threads)

    steps = [s for s in fx.meta["steps"] if not only or s["api"] == only]
    report = {s["name"] for s in steps if not substr or substr in s["name"]}
    npass = nfail = 0
    broken = {}
    for step in steps:
        name = step["name"]
        if step["api"] in broken:
            if name in report:
                nfail += 1
                log(f"FAIL {name}: not run, earlier step failed ({broken[step['api']]})")
            continue
        ts = time.time()
        try:
            got = runner.run(step)
        except Exception as e:
            broken[step["api"]] = f"{name} raised {type(e).__name__}: {e}"
            if name in report:
                nfail += 1
                log(f"FAIL {name}: raised {type(e).__name__}: {e}")
            continue
        chk = replay.Check()
        # Types are checked where the reference returns NumPy; where it returns torch tensors
        # (video masks, image embeddings) these predictors return NumPy arrays by design.
        types = {
            f: t
            for f, t in runner.types.items()
            if not str(fx.expected.get(f"{name}/{f}::type", "numpy")).startswith("torch.")
        }
        replay.compare(step, got, fx, chk, types)
        if name not in report:
            continue
        dt = time.time() - ts
        if chk.fail:
            nfail += 1
            log(f"FAIL {name}: {'; '.join(chk.fail[:3])} [{dt:.1f}s]")
        else:
            npass += 1
            text = max(chk.worst, key=lambda x: (x[1], x[2]))[0] if chk.worst else "no outputs to compare"
            log(f"PASS {name}: worst {text} [{dt:.1f}s]")
    log(f"{npass} passed, {nfail} failed")
    if tmp is not None:
        tmp.cleanup()
    return nfail


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("fixture")
    ap.add_argument("--only", choices=["image", "video"])
    ap.add_argument("-k", dest="substr")
    ap.add_argument("--export", help="export folder made from the fixture's weights (default: export now)")
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args(argv)
    return 1 if run(a.fixture, a.only, a.substr, a.export, a.threads) else 0


if __name__ == "__main__":
    sys.exit(main())
