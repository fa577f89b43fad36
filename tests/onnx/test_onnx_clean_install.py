"""`pip install ".[onnx]"` in a clean venv installs no torch, and its runtime tracks a video.

A real pip resolve of the onnx extra, offline and quick: the sam2 wheel is built from a copy of
the sources, every distribution the base dependencies and the onnx extra need (numpy, pillow, av,
onnxruntime and what they require, as installed in this venv) is repacked into a wheel in a
local folder, and `pip install --no-index --find-links <folder> "<sam2 wheel>[onnx]"` installs
into a fresh venv from that folder alone. torch, hydra-core, omegaconf and tqdm are never put
there: should the base dependencies or the onnx extra ask for one of them again, pip fails to
resolve and so does this test. The venv then has no torch, hydra or scipy, the torch entry
points raise the one ImportError that names `sam2[torch]`, and the README's ONNX lines track a
video from an export made by the torch side in this test run: micro's frames, and the first
frames of the tiny fixture from a tiny export with the golden weights (their masks checked
against the torch tracker's). SAM2_TEST_ONNX_TINY=1 tracks all 8 tiny frames.
"""

import base64
import csv
import hashlib
import importlib.util
import io
import os
import shutil
import sys
import venv
import zipfile
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


# The torch side (pyproject's `torch` extra): never offered to the clean install's resolver.
TORCH_SIDE = {"torch", "hydra-core", "omegaconf", "tqdm", "sam2"}


def _canonical(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")


def onnx_install_distributions():
    """This venv's distributions that `sam2[onnx]` resolves to (base dependencies + onnx extra)."""
    from importlib import metadata

    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    declared = project["dependencies"] + project["optional-dependencies"]["onnx"]
    todo = [Requirement(r) for r in declared]
    found = {}
    while todo:
        req = todo.pop()
        if req.marker is not None and not req.marker.evaluate({"extra": ""}):
            continue
        name = _canonical(req.name)
        if name in found or name in TORCH_SIDE:
            continue
        found[name] = metadata.distribution(req.name)
        todo.extend(Requirement(r) for r in found[name].requires or [])
    return list(found.values())


def _record_hash(data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"sha256={digest}"


def repack_wheel(dist, folder: Path) -> Path:
    """A wheel of an installed distribution, from its RECORD (its files in site-packages; scripts,
    bytecode and the installer's own marks left out), so pip can install it offline."""
    root = Path(dist.locate_file(""))
    info = next(Path(f).parts[0] for f in dist.files if Path(f).parts[0].endswith(".dist-info"))
    wheel_meta = (root / info / "WHEEL").read_text()
    tags = [
        line.split(":", 1)[1].strip().split("-")
        for line in wheel_meta.splitlines()
        if line.startswith("Tag:")
    ]
    # The compressed tag set (py2.py3-none-any) of the tags the wheel was installed with.
    tag = "-".join(".".join(dict.fromkeys(t[i] for t in tags)) for i in range(3))
    name, version = info[: -len(".dist-info")].rsplit("-", 1)
    path = folder / f"{name}-{version}-{tag}.whl"
    skip = {"RECORD", "INSTALLER", "REQUESTED", "direct_url.json"}
    rows = []
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as whl:
        for rel in sorted({str(f) for f in dist.files}):
            parts = Path(rel).parts
            if parts[0] == ".." or "__pycache__" in parts or rel.endswith(".pyc"):
                continue
            if parts[0] == info and parts[-1] in skip:
                continue
            source = root / rel
            if not source.is_file():
                continue
            data = source.read_bytes()
            whl.writestr(rel, data)
            rows.append((rel, _record_hash(data), str(len(data))))
        record = io.StringIO()
        csv.writer(record, lineterminator="\n").writerows(rows + [(f"{info}/RECORD", "", "")])
        whl.writestr(f"{info}/RECORD", record.getvalue())
    return path


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
    for dist in onnx_install_distributions():
        repack_wheel(dist, wheels)
    env = tmp / "clean"
    venv.EnvBuilder(with_pip=False).create(env)
    python = env / "bin" / "python"
    # The resolver sees only the folder: the onnx extra, as a user would ask for it.
    helpers.run(
        pip
        + ["--python", str(python), "install", "--no-index", "--find-links", str(wheels), "--no-compile"]
        + [f"{wheel}[onnx]"]
    )
    return python


def test_onnx_extra_installs_no_torch(clean_python):
    code = """
import importlib.metadata as md, importlib.util
names = sorted(d.metadata["Name"].lower() for d in md.distributions())
print("installed:", " ".join(names))
for name in ("torch", "hydra-core", "omegaconf", "tqdm", "scipy"):
    assert name not in names, name
assert {"sam2", "numpy", "pillow", "av", "onnxruntime"} <= set(names), names
for entry in ("sam2.build_sam", "sam2.sam2_video_predictor", "sam2.sam2_image_predictor",
              "sam2.automatic_mask_generator", "sam2.batch", "sam2.onnx.export"):
    try:
        importlib.import_module(entry)
    except ImportError as e:
        assert 'pip install "sam2[torch]"' in str(e), (entry, str(e))
        assert e.__cause__ is None and e.__suppress_context__, entry
    else:
        raise AssertionError(entry + " imported without torch")
import sam2.onnx.automatic_mask_generator  # the onnxruntime generator needs no torch
print("torch entry points refused")
"""
    out = _packaging_helpers().run([str(clean_python), "-I", "-c", "import importlib\n" + code])
    assert "torch entry points refused" in out


def _track(python: Path, export: Path, video: Path, point, cwd: Path, save_to: Path = None) -> str:
    helpers = _packaging_helpers()
    code = f"EXPORT = {str(export)!r}\nVIDEO = {str(video)!r}\nPOINT = {list(point)!r}\n" + README_ONNX_LINES
    if save_to is not None:
        code += f"import numpy\nnumpy.save({str(save_to)!r}, numpy.stack([masks[f] for f in sorted(masks)]))\n"
    return helpers.run([str(python), "-I", "-c", code], cwd=cwd)


def test_onnx_extra_tracks_without_torch(clean_python, micro_export, tmp_path):
    video = GOLDEN / "micro" / "frames"
    if not video.exists():
        video = tmp_path / "clip.mp4"
        _packaging_helpers().make_clip(video)
    out = _track(clean_python, micro_export, video, (60, 40), tmp_path)
    assert "frames without torch" in out


def test_onnx_extra_tracks_the_tiny_fixture(clean_python, tmp_path):
    """A tiny export (golden weights) tracks the tiny fixture's frames like the torch tracker."""
    if not (GOLDEN / "tiny" / "frames").exists():
        pytest.skip("golden fixtures absent")
    import numpy as np
    import torch

    sys.path.insert(0, str(GOLDEN))
    from weights import make_state_dict

    from sam2.build_sam import build_sam2, build_sam2_video_predictor
    from sam2.onnx.export import export_onnx

    frames = sorted((GOLDEN / "tiny" / "frames").glob("*.jpg"))
    if os.environ.get("SAM2_TEST_ONNX_TINY") != "1":
        frames = frames[:3]  # 1024-px frames take seconds each on a small CPU
    video = tmp_path / "frames"
    video.mkdir()
    for frame in frames:
        shutil.copy(frame, video / frame.name)
    config = str(GOLDEN / "tiny" / "sam2.1_hiera_t.yaml")
    ckpt = tmp_path / "tiny.pt"
    torch.save({"model": make_state_dict(build_sam2(config, device="cpu").state_dict())}, ckpt)
    export_onnx(config, str(ckpt), str(tmp_path / "export"))
    out = _track(clean_python, tmp_path / "export", video, (160, 90), tmp_path, save_to=tmp_path / "onnx.npy")
    assert f"tracked {len(frames)} frames without torch" in out

    predictor = build_sam2_video_predictor(config, str(ckpt), device="cpu")
    with torch.inference_mode():
        state = predictor.init_state(str(video))
        predictor.add_new_points_or_box(state, frame_idx=0, obj_id=1, points=[(160, 90)], labels=[1])
        torch_masks = np.stack([(m > 0).numpy() for _, _, m in predictor.propagate_in_video(state)])
    onnx_masks = np.load(tmp_path / "onnx.npy")
    assert torch_masks.any() and onnx_masks.shape == torch_masks.shape
    assert (onnx_masks == torch_masks).mean() >= 0.999
