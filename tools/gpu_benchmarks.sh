#!/usr/bin/env bash
# Every GPU measurement of the tracker, side by side with the official package, in one run.
# Results are appended to $OUT/results.txt as each step finishes (a cut-short run keeps what
# it measured). Run from the repository root on a machine with an NVIDIA GPU:
#
#   REF_PY=/path/to/refvenv/bin/python OUT=gpu-results bash tools/gpu_benchmarks.sh
#
# REF_PY: python of a virtualenv with sam2==1.1.0 (built with its CUDA extension) and torch.
# PY (default .venv/bin/python): this project's environment with a CUDA build of torch.
# FRAMES (default 100): frames of the 1280x720 gallery clip to track.
# STEPS: which groups to run (default "eager compiled objects memory server").
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 1

PY=${PY:-.venv/bin/python}
REF_PY=${REF_PY:?set REF_PY to the python of a venv with sam2==1.1.0}
OUT=${OUT:-gpu-results}
FRAMES=${FRAMES:-100}
STEPS=${STEPS:-eager compiled objects memory server}
mkdir -p "$OUT"
RESULTS="$OUT/results.txt"

log() { tee -a "$RESULTS"; }
want() { [[ " $STEPS " == *" $1 "* ]]; }
video() {  # benchmark_video.py, both implementations in one invocation
  echo "### benchmark_video $*" | log
  timeout 1200 "$PY" tools/benchmark_video.py --device cuda --frames "$FRAMES" --reference-python "$REF_PY" \
    --workdir "$OUT/work" "$@" 2>&1 | tail -22 | log
}

{ date; nvidia-smi -L; "$PY" -c "import torch; print('torch', torch.__version__, torch.version.cuda)"; } 2>&1 | log

if want eager; then
  for size in t s b+ l; do video --config "configs/sam2.1/sam2.1_hiera_${size}.yaml" --objects 1; done
fi
if want compiled; then
  for size in t l; do video --config "configs/sam2.1/sam2.1_hiera_${size}.yaml" --objects 1 --vos-optimized; done
fi
if want objects; then
  for n in 3 16; do
    video --config configs/sam2.1/sam2.1_hiera_t.yaml --objects "$n"
    video --config configs/sam2.1/sam2.1_hiera_t.yaml --objects "$n" --vos-optimized
  done
fi
if want memory; then
  echo "### benchmark_memory: 10-minute clip, device memory while tracking 1000 frames" | log
  timeout 1800 "$PY" tools/benchmark_memory.py --device cuda --track 1000 2>&1 | tail -12 | log
fi
if want server; then
  for users in 1 8; do
    echo "### loadtest --config tiny --sessions $users (SAM2_DEMO_DEVICE=cuda)" | log
    SAM2_DEMO_DEVICE=cuda timeout 1200 "$PY" tools/loadtest.py --config tiny --sessions "$users" 2>&1 | tail -3 | log
  done
fi
echo "### done" | log
