# syntax=docker/dockerfile:1
# SAM 2.1 web demo: one image serving the API and the built UI on port 7262.
#
#   docker compose up                                                   # CPU (any host)
#   docker compose -f docker-compose.yaml -f docker-compose.gpu.yaml up # NVIDIA GPU host
#
# Stage 1 builds the React frontend with Node; stage 2 is a slim Python runtime with a
# CUDA-capable torch (the default PyPI wheel for Linux x86_64 bundles the CUDA runtime, so
# the host only needs the NVIDIA driver and the container toolkit). It also runs on CPU.

ARG NODE_IMAGE=node:20-bookworm-slim
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# ---- stage 1: frontend ------------------------------------------------------------------------
FROM ${NODE_IMAGE} AS frontend
WORKDIR /src/demo/frontend
# Dependencies first so the layer is cached while only sources change.
COPY demo/frontend/package.json demo/frontend/package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY demo/frontend/ ./
RUN npm run build

# ---- stage 2: runtime -------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS runtime

# TORCH_INDEX_URL picks another wheel flavour, e.g. https://download.pytorch.org/whl/cu126
# for an older driver, or .../whl/cpu for a small CPU-only image.
ARG TORCH_VERSION=2.13.0
ARG TORCH_INDEX_URL=
ARG APP_UID=1000

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DATA_PATH=/data \
    CHECKPOINT_DIR=/checkpoints \
    FRONTEND_DIST=/app/demo/frontend/dist \
    PORT=7262

WORKDIR /app

# torch alone and first: the biggest layer, rebuilt only when its version changes.
RUN if [ -n "${TORCH_INDEX_URL}" ]; then \
      pip install --no-cache-dir --index-url "${TORCH_INDEX_URL}" "torch==${TORCH_VERSION}"; \
    else \
      pip install --no-cache-dir "torch==${TORCH_VERSION}"; \
    fi

COPY pyproject.toml README.md ./
COPY sam2/ ./sam2/
# Versions are bounded in pyproject.toml; hadolint cannot see that for a local path.
# hadolint ignore=DL3013
RUN pip install --no-cache-dir ".[demo]"

COPY demo/__init__.py ./demo/__init__.py
COPY demo/backend/ ./demo/backend/
COPY tools/ ./tools/
COPY docker/entrypoint.sh /usr/local/bin/sam2-entrypoint
COPY --from=frontend /src/demo/frontend/dist ./demo/frontend/dist

# Unprivileged user; the data and checkpoint folders are volumes it owns.
RUN useradd --uid "${APP_UID}" --create-home --shell /usr/sbin/nologin sam2 \
    && mkdir -p /data/gallery /data/posters /data/uploads /checkpoints \
    && chown -R sam2:sam2 /data /checkpoints \
    && chmod 0755 /usr/local/bin/sam2-entrypoint
USER ${APP_UID}
VOLUME ["/data", "/checkpoints"]

EXPOSE 7262
# Model loading takes a while on first start (and a checkpoint download may run before it).
HEALTHCHECK --interval=30s --timeout=5s --start-period=300s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthy' % os.environ.get('PORT', '7262'), timeout=4)"]

ENTRYPOINT ["sam2-entrypoint"]
CMD ["gunicorn", "-c", "demo/backend/gunicorn.conf.py", "demo.backend.app:create_app()"]
