#!/usr/bin/env bash
# Everything the GPU machine lacks, gathered here into .gpu/ (ignored by git), for a device
# session that has minutes, not hours: the machine has no network, python 3.12 with torch,
# numpy, pillow, scipy, requests, jinja2, werkzeug, click, pyyaml, tqdm, portalocker, and no
# ../shared beside the checkout. Run here, at the repository root (after `make venv`):
#
#   bash tools/gpu_prepare.sh
#
# then carry `.gpu` and run `bash tools/gpu_benchmarks.sh` there (see that script). .gpu/ holds:
# - whl/: cp312 manylinux x86-64 wheels of this project's runtime, demo and benchmark needs,
#   wheels built here of the two PyPI ships as sources only (antlr4 runtime, iopath), and the
#   official sam2==1.1.0 source archive (the device compiles its CUDA kernel with nvcc);
# - shared/: the gallery clips, the golden weights' scripts and the micro and tiny parity
#   fixtures, which the benchmarks and the replay step read from ../shared.
# PYVER (default 3.12) picks the wheels' Python; another value is for a dry run elsewhere.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 1

PY=${PY:-.venv/bin/python}  # any pip; this project's venv has the torch the sdist step needs
PYVER=${PYVER:-3.12}
DEST=.gpu/whl
SHARED=../shared
rm -rf .gpu
mkdir -p "$DEST" .gpu/shared/data .gpu/shared/golden

# One version each (two of one package stop the whole install there); the versions CI tests.
# portalocker (iopath's need) is on the GPU machine already; carried too for dry runs elsewhere.
BINARY=(
  av==18.1.0 hydra-core==1.3.8 omegaconf==2.3.1
  flask==3.1.3 flask-cors==6.0.5 werkzeug==3.1.9 itsdangerous==2.2.0 blinker==1.9.0
  strawberry-graphql==0.341.2 graphql-core==3.3.2 cross-web==0.9.0 gunicorn==27.0.1
  pycocotools==2.0.11 portalocker==3.2.0
)
PLATFORMS=()
for p in manylinux_2_28_x86_64 manylinux_2_27_x86_64 manylinux_2_17_x86_64 manylinux2014_x86_64 manylinux1_x86_64; do
  PLATFORMS+=(--platform "$p")
done
"$PY" -m pip download -q --no-deps --only-binary=:all: --python-version "$PYVER" --implementation cp \
  "${PLATFORMS[@]}" -d "$DEST" "${BINARY[@]}"
"$PY" -m pip wheel -q --no-deps -w "$DEST" antlr4-python3-runtime==4.9.3 iopath==0.1.10
# The sdist's metadata step imports torch: without build isolation it uses this environment's.
SAM2_BUILD_CUDA=0 "$PY" -m pip download -q --no-deps --no-binary=:all: --no-build-isolation \
  -d "$DEST" sam2==1.1.0

cp -r "$SHARED/data/gallery" .gpu/shared/data/
cp "$SHARED"/golden/*.py .gpu/shared/golden/
cp -r "$SHARED/golden/micro" "$SHARED/golden/tiny" .gpu/shared/golden/  # the parity fixtures (4 MB)

du -sh .gpu "$DEST"
ls "$DEST"
