#!/usr/bin/env bash
# The GPU measurements of the tracker, side by side with the official sam2==1.1.0, inside one
# device call's time. Prepare here with `bash tools/gpu_prepare.sh`, then on the device (a run
# call that carries `.gpu`, with timeout_s a little above BUDGET_S):
#
#   BUDGET_S=540 bash tools/gpu_benchmarks.sh
#
# It installs the carried wheels into /tmp/site, builds the reference from its source archive
# with its CUDA kernel into /tmp/refsite (REF_PY skips that: the python of a venv that has it),
# puts the carried clips and golden scripts at ../shared, then runs STEPS in order. A step
# starts only when the time it needs is left; each appends its table to $OUT/results.txt as it
# ends, so a cut-short run keeps what it measured. Steps (name: what, seconds it may take):
#   t1 t3 t16: tiny, 1 / 3 / 16 objects, eager          t1c l1c t16c: the same compiled (vos_optimized)
#   l1 s1 b1: large / small / base+, 1 object, eager   server: loadtest, tiny, 1 then 8 users
#   t1h: t1 with our caches in host memory (feature_cache_on_host: fps and peak memory against t1)
#   memory: our device memory over 1000 tracked frames
#   replay: the micro and tiny parity fixtures replayed on the device in float32 (our numbers there)
# FRAMES (default 100; 50 for 16 objects), DEVICE (default cuda; cpu for a dry run), PY (python3).
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 1

START=$(date +%s)
BUDGET_S=${BUDGET_S:-540}
OUT=${OUT:-gpu-results}
FRAMES=${FRAMES:-100}
DEVICE=${DEVICE:-cuda}
PY=${PY:-python3}
STEPS=${STEPS:-replay t1 t1c t1h t16 t3 l1c t16c server memory l1 s1 b1}
RESULTS="$OUT/results.txt"
WORK=/tmp/gpu-work  # frames and weights stay out of $OUT: only a few files come back from there
mkdir -p "$OUT" "$WORK"
export PYTHONUNBUFFERED=1

left() { echo $((BUDGET_S - ($(date +%s) - START))); }
log() { tee -a "$RESULTS"; }

{ date; nvidia-smi -L 2>/dev/null; "$PY" -c "import sys, torch; print(sys.version.split()[0], 'torch', torch.__version__, torch.version.cuda)"; } 2>&1 | log

# ---- set-up
if [ -d .gpu/whl ]; then
  "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .gpu/whl/*.whl 2>&1 | tail -3 | log
  export PYTHONPATH=/tmp/site${PYTHONPATH:+:$PYTHONPATH}
fi
[ -d ../shared ] || cp -r .gpu/shared ../shared
if [ -z "${REF_PY:-}" ]; then
  echo "### building the reference (SAM2_BUILD_CUDA=1) at $(left) s left" | log
  SAM2_BUILD_CUDA=1 TORCH_CUDA_ARCH_LIST=${TORCH_CUDA_ARCH_LIST:-9.0} timeout 300 "$PY" -m pip install -q --no-index \
    --no-deps --no-build-isolation --no-cache-dir --target /tmp/refsite .gpu/whl/sam2-*.tar.gz 2>&1 | tail -5 | log
  printf '#!/bin/sh\nPYTHONPATH=/tmp/refsite:/tmp/site exec %s "$@"\n' "$("$PY" -c 'import sys; print(sys.executable)')" > /tmp/ref-python
  chmod +x /tmp/ref-python
  REF_PY=/tmp/ref-python
fi
# From /tmp: run from the checkout, `import sam2` would find ours.
(cd /tmp && "$REF_PY" -c "import sam2, importlib.util as u; print('reference', sam2.__file__, 'kernel', u.find_spec('sam2._C') is not None)") 2>&1 | log

# ---- steps
video() {  # step name, seconds it may take, config letter, benchmark_video arguments...
  local name=$1 need=$2 size=$3
  shift 3
  if (($(left) < need)); then echo "### $name skipped: $(left) s left, it may take $need" | log; return; fi
  echo "### $name: benchmark_video --config sam2.1_hiera_$size $* ($(left) s left)" | log
  # One workdir per config: it caches that config's golden weights.
  timeout $(($(left) - 10)) "$PY" tools/benchmark_video.py --device "$DEVICE" --reference-python "$REF_PY" \
    --config "configs/sam2.1/sam2.1_hiera_$size.yaml" --workdir "$WORK/$size" "$@" 2>&1 | tail -24 | log
}

for step in $STEPS; do
  case $step in
    t1) video t1 90 t --objects 1 --frames "$FRAMES" ;;
    t3) video t3 90 t --objects 3 --frames "$FRAMES" ;;
    t16) video t16 120 t --objects 16 --frames $((FRAMES / 2)) ;;
    l1) video l1 120 l --objects 1 --frames "$FRAMES" ;;
    s1) video s1 100 s --objects 1 --frames "$FRAMES" ;;
    b1) video b1 100 b+ --objects 1 --frames "$FRAMES" ;;
    t1c) video t1c 240 t --objects 1 --frames "$FRAMES" --vos-optimized ;;
    t1h) video t1h 90 t --objects 1 --frames "$FRAMES" --host-caches ;;
    l1c) video l1c 300 l --objects 1 --frames "$FRAMES" --vos-optimized ;;
    t16c) video t16c 300 t --objects 16 --frames $((FRAMES / 2)) --vos-optimized ;;
    replay)
      for fixture in micro tiny; do
        if (($(left) < 60)); then echo "### replay $fixture skipped: $(left) s left" | log; continue; fi
        echo "### replay: golden $fixture on $DEVICE, float32 ($(left) s left)" | log
        timeout 120 "$PY" ../shared/golden/replay.py "../shared/golden/$fixture" --device "$DEVICE" 2>&1 \
          | grep -E "^FAIL|passed, .* failed|^ERROR" | log
      done
      ;;
    memory)
      if (($(left) < 120)); then echo "### memory skipped: $(left) s left" | log; continue; fi
      echo "### memory: benchmark_memory, device memory over 1000 tracked frames ($(left) s left)" | log
      timeout $(($(left) - 10)) "$PY" tools/benchmark_memory.py --device "$DEVICE" --track 1000 2>&1 | tail -12 | log
      ;;
    server)
      for users in 1 8; do
        if (($(left) < 90)); then echo "### server $users skipped: $(left) s left" | log; continue; fi
        echo "### server: loadtest --config tiny --sessions $users, SAM2_DEMO_DEVICE=$DEVICE ($(left) s left)" | log
        SAM2_DEMO_DEVICE=$DEVICE timeout $(($(left) - 10)) "$PY" tools/loadtest.py --config tiny --sessions "$users" 2>&1 | tail -3 | log
      done
      ;;
    *) echo "### unknown step $step" | log ;;
  esac
done
echo "### done after $(($(date +%s) - START)) s" | log
