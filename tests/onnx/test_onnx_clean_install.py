"""`pip install ".[onnx]"`'s runtime, without torch, tracks a video from an export folder.

Like tests/packaging/test_clean_install.py (offline, quick): the wheel is built from a copy of
the sources and installed with --no-deps into a fresh venv, and only the onnx extra's
dependencies (numpy, pillow, av, onnxruntime and what they require) are borrowed from this
venv. torch, hydra and scipy are not importable there, so the README's ONNX lines prove the
runtime needs none of them. The export itself is made by the torch side in this test run.

Set SAM2_TEST_ONNX_TINY=1 to also export tiny (golden weights) and track the tiny fixture's frames.
"""

import importlib.util
import os
import shutil
import sys
import venv
from pathlib import Path

import pytest
from packaging.requirements import Requirement

REPO = Path(__file__).resolve().parents[2]
GOLDEN = REPO.parent / "shared" / "golden"
tomllib = pytest.importorskip("tomllib", reason="reading pyproject.toml needs Python 3.11")
pytest.importorskip("onnxruntime")

README_ONNX_LINES = """
import importlib.util, sys
for name in ("torch", "hydra", "scipy"):
    assert importlib.util.find_spec(name) is None, name + " must not be importable in this venv"

from sam2.onnx import build_sam2_video_predictor_onnx

predictor = build_sam2_video_predictor_onnx(EXPORT)
state = predictor.init_state(VIDEO)
predictor.add_new_points_or_box(state, frame_idx=0, obj_id=1, points=[POINT], labels=[1])
masks = {f: m > 0 for f, _, m in predictor.propagate_in_video(state)}

assert sorted(masks) == list(range(state["num_frames"])), sorted(masks)
print("tracked", len(masks), "frames without torch; mask share", float(masks[len(masks) - 1].mean()))
"""


def _packaging_helpers():
    spec = importlib.util.spec_from_file_location(
        "clean_install_helpers", REPO / "tests" / "packaging" / "test_clean_install.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def onnx_extra_distributions():
    from importlib import metadata

    declared = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["optional-dependencies"][
        "onnx"
    ]
    todo = [Requirement(r) for r in declared]
    found = {}
    while todo:
        req = todo.pop()
        if req.marker is not None and not req.marker.evaluate({"extra": ""}):
            continue
        name = req.name.lower().replace("_", "-")
        if name in found:
            continue
        found[name] = metadata.distribution(req.name)
        todo.extend(Requirement(r) for r in found[name].requires or [])
    return list(found.values())


@pytest.fixture(scope="module")
def clean_python(tmp_path_factory) -> Path:
    helpers = _packaging_helpers()
    tmp = tmp_path_factory.mktemp("onnx_clean")
    src = tmp / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy2(REPO / name, src / name)
    shutil.copytree(REPO / "sam2", src / "sam2", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    wheels = tmp / "wheels"
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--no-input"]
    helpers.run(
        pip + ["wheel", "--no-deps", "--no-build-isolation", "--no-index", "-w", str(wheels), str(src)]
    )
    (wheel,) = wheels.glob("sam2-*.whl")
    env = tmp / "clean"
    venv.EnvBuilder(with_pip=False).create(env)
    python = env / "bin" / "python"
    helpers.run(pip + ["--python", str(python), "install", "--no-deps", "--no-index", str(wheel)])
    site = Path(
        helpers.run(
            [str(python), "-I", "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]
        ).strip()
    )
    deps = tmp / "onnx-deps"
    helpers.link_distributions(onnx_extra_distributions(), deps)
    (site / "onnx_deps.pth").write_text(f"{deps}\n")
    return python


def _track(python: Path, export: Path, video: Path, point, cwd: Path) -> str:
    helpers = _packaging_helpers()
    code = f"EXPORT = {str(export)!r}\nVIDEO = {str(video)!r}\nPOINT = {list(point)!r}\n" + README_ONNX_LINES
    return helpers.run([str(python), "-I", "-c", code], cwd=cwd)


def test_onnx_extra_tracks_without_torch(clean_python, micro_export, tmp_path):
    video = GOLDEN / "micro" / "frames"
    if not video.exists():
        video = tmp_path / "clip.mp4"
        _packaging_helpers().make_clip(video)
    out = _track(clean_python, micro_export, video, (60, 40), tmp_path)
    assert "frames without torch" in out


@pytest.mark.skipif(
    os.environ.get("SAM2_TEST_ONNX_TINY") != "1", reason="set SAM2_TEST_ONNX_TINY=1 (slow: exports tiny)"
)
def test_onnx_extra_tracks_the_tiny_fixture(clean_python, tmp_path):
    if not (GOLDEN / "tiny" / "frames").exists():
        pytest.skip("golden fixtures absent")
    import torch

    sys.path.insert(0, str(GOLDEN))
    from weights import make_state_dict

    from sam2.build_sam import build_sam2
    from sam2.onnx.export import export_onnx

    config = str(GOLDEN / "tiny" / "sam2.1_hiera_t.yaml")
    ckpt = tmp_path / "tiny.pt"
    torch.save({"model": make_state_dict(build_sam2(config, device="cpu").state_dict())}, ckpt)
    export_onnx(config, str(ckpt), str(tmp_path / "export"))
    out = _track(clean_python, tmp_path / "export", GOLDEN / "tiny" / "frames", (160, 90), tmp_path)
    assert "tracked 8 frames without torch" in out
