#!/bin/sh
# Container start: make sure the gallery has a video and the checkpoint is there, then run
# the command (the gunicorn server by default). Every step is skipped when already done.
set -eu
app_dir="${APP_DIR:-/app}"

python "$app_dir/tools/fetch_gallery.py" --data-path "${DATA_PATH:-/data}"

# Same spellings as the server accepts (1/true/yes/on, any case).
random_weights=$(printf '%s' "${SAM2_DEMO_RANDOM_WEIGHTS:-0}" | tr '[:upper:]' '[:lower:]')
case "$random_weights" in
  1|true|yes|on)
    echo "SAM2_DEMO_RANDOM_WEIGHTS is set: starting without a checkpoint (random weights)" ;;
  *)
    # MODEL_SIZE unset means "auto": base_plus with CUDA, tiny without, as the server picks.
    # shellcheck disable=SC2086  # MODEL_SIZE may hold several sizes, or none
    if ! python "$app_dir/tools/download_checkpoints.py" --dir "${CHECKPOINT_DIR:-/checkpoints}" ${MODEL_SIZE:-}; then
      echo "No checkpoint in ${CHECKPOINT_DIR:-/checkpoints} and none could be downloaded." >&2
      echo "Put sam2.1_hiera_<size>.pt into the checkpoints volume, or set SAM2_DEMO_RANDOM_WEIGHTS=1." >&2
      exit 1
    fi ;;
esac

# The server's gunicorn config binds to $HOST:$PORT (0.0.0.0:7262 unless set).
exec "$@"
