"""`pip install ".[torch]"` gives a library that runs the README's lines (no scipy, no dev tools).

Offline and quick: the package is built into a wheel from a copy of its sources (setuptools of
this venv, no build isolation), installed with --no-deps into a fresh venv without pip, and the
declared runtime dependencies (pyproject's [project].dependencies, its `torch` extra, and what
they require in turn)
are borrowed from this venv by linking just their files into a folder the fresh venv reads
through a .pth file. Anything else, scipy and the dev extra included, is not importable there,
so a missing runtime dependency in pyproject fails this test.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import venv
from importlib import metadata
from pathlib import Path

import numpy as np
import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

REPO = Path(__file__).resolve().parents[2]
tomllib = pytest.importorskip("tomllib", reason="reading pyproject.toml needs Python 3.11")

README_LINES = """
import importlib.util, sys
assert importlib.util.find_spec("scipy") is None, "scipy must not be importable in the clean venv"
import sam2
assert sam2.__file__.startswith(sys.prefix), sam2.__file__  # the installed wheel, not the sources

from sam2.build_sam import build_sam2_video_predictor

predictor = build_sam2_video_predictor("configs/sam2.1/sam2.1_hiera_micro.yaml", None, device="auto")
state = predictor.init_state(VIDEO)
predictor.add_new_points_or_box(state, frame_idx=0, obj_id=1, points=[[40, 30]], labels=[1])
masks = {f: (m > 0).cpu().numpy() for f, _, m in predictor.propagate_in_video(state)}

assert sorted(masks) == list(range(6)) and masks[0].shape == (1, 1, 48, 64), (sorted(masks), masks[0].shape)
assert predictor.fill_hole_area > 0  # hole filling ran, without scipy
print("README lines ran; scipy imported:", "scipy" in sys.modules)
"""


def runtime_distributions() -> list[metadata.Distribution]:
    """pyproject's runtime dependencies with the torch extra and, recursively, theirs, as installed
    in this venv."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    declared = project["dependencies"] + project["optional-dependencies"]["torch"]
    todo = [Requirement(r) for r in declared]
    found: dict[str, metadata.Distribution] = {}
    while todo:
        req = todo.pop()
        if req.marker is not None and not req.marker.evaluate({"extra": ""}):
            continue
        name = canonicalize_name(req.name)
        if name in found:
            continue
        try:
            dist = metadata.distribution(req.name)
        except metadata.PackageNotFoundError:
            pytest.fail(f"runtime dependency {req.name} is not installed in this venv")
        found[name] = dist
        todo.extend(Requirement(r) for r in dist.requires or [])
    return list(found.values())


def link_distributions(dists, folder: Path) -> None:
    """Symlink the top-level files and folders of each distribution into `folder`."""
    folder.mkdir()
    for dist in dists:
        root = Path(dist.locate_file(""))
        tops = {Path(f).parts[0] for f in dist.files or []}
        for top in tops - {"..", "__pycache__"}:
            target = folder / top
            if not target.exists() and (root / top).exists() and not top.endswith(".pth"):
                target.symlink_to(root / top)


def make_clip(path: Path) -> None:
    import av

    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        yy, xx = np.mgrid[0:48, 0:64]
        for i in range(6):
            rgb = np.stack([(xx * 4 + i * 9) % 256, (yy * 5) % 256, np.full_like(xx, 40 * i)], -1).astype(np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)


def run(cmd, **kwargs):
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=600, **kwargs)
    assert out.returncode == 0, f"{cmd[:2]} failed:\n{out.stdout[-3000:]}\n{out.stderr[-3000:]}"
    return out.stdout


def test_torch_install_runs_the_readme_library_lines_without_scipy(tmp_path):
    # A copy of what the wheel is built from, so the build leaves nothing in the checkout.
    src = tmp_path / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy2(REPO / name, src / name)
    shutil.copytree(REPO / "sam2", src / "sam2", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    wheels = tmp_path / "wheels"
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--no-input"]
    run(pip + ["wheel", "--no-deps", "--no-build-isolation", "--no-index", "-w", str(wheels), str(src)])
    (wheel,) = wheels.glob("sam2-*.whl")

    env = tmp_path / "clean"
    venv.EnvBuilder(with_pip=False).create(env)
    python = env / "bin" / "python"
    run(pip + ["--python", str(python), "install", "--no-deps", "--no-index", str(wheel)])
    site = Path(run([str(python), "-I", "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]).strip())
    deps = tmp_path / "runtime-deps"
    link_distributions(runtime_distributions(), deps)
    (site / "runtime_deps.pth").write_text(f"{deps}\n")

    clip = tmp_path / "clip.mp4"
    make_clip(clip)
    # -I: no PYTHONPATH, no user site, not the current folder: only the venv and the .pth.
    out = run([str(python), "-I", "-c", f"VIDEO = {str(clip)!r}\n" + README_LINES], cwd=tmp_path)
    assert "README lines ran; scipy imported: False" in out

    # The batch job's console script, embedded: its manifest schema is packaged, Ray is not needed.
    manifest = tmp_path / "manifest.jsonl"
    manifest.write_text(
        f'{{"video": "{clip}", "objects": [{{"id": 1, "prompts": [{{"frame": 2, "box": [5, 5, 40, 30]}}]}}]}}\n'
    )
    clean_env = {"PATH": str(env / "bin"), "HOME": str(tmp_path)}
    run([str(env / "bin" / "sam2-batch"), str(manifest), "--out", str(tmp_path / "out"), "--config", "micro",
         "--device", "cpu", "--no-progress"], cwd=tmp_path, env=clean_env)  # fmt: skip
    doc = json.loads((tmp_path / "out" / "masks" / "clip.json").read_text())
    assert doc["num_frames"] == 6 and len(doc["annotations"]) == 6
    schema = "import os, sam2.batch.manifest as m; assert os.path.isfile(m.SCHEMA_PATH); import ray"
    assert "No module named 'ray'" in subprocess.run([str(python), "-I", "-c", schema], capture_output=True,
                                                      text=True).stderr  # fmt: skip
