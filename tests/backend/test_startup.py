"""Start-up: a missing checkpoint or a bad setting stops the server with a message that says what to do."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from demo.backend.app import create_app
from demo.backend.inference import ModelUnavailable
from demo.backend.settings import Settings

from .conftest import REPO


def test_missing_checkpoint_names_make_checkpoints(tmp_path):
    settings = Settings.from_env(
        {"DATA_PATH": str(tmp_path), "CHECKPOINT_DIR": str(tmp_path), "SAM2_DEMO_DEVICE": "cpu"}
    )
    with pytest.raises(ModelUnavailable, match="make checkpoints"):
        create_app(settings)


@pytest.mark.parametrize(
    "env, words",
    [
        ({"CHECKPOINT_DIR": "nowhere"}, "make checkpoints"),
        ({"SAM2_DEMO_RANDOM_WEIGHTS": "1", "MAX_SESSIONS": "none"}, "MAX_SESSIONS"),
    ],
)
def test_python_m_demo_backend_fails_with_one_clear_line(tmp_path, env, words):
    full = {
        **os.environ,
        "DATA_PATH": str(tmp_path),
        "SAM2_DEMO_DEVICE": "cpu",
        "PYTHONPATH": str(REPO),
        **env,
    }
    if "SAM2_DEMO_RANDOM_WEIGHTS" not in env:  # the caller's environment must not switch it on
        full.pop("SAM2_DEMO_RANDOM_WEIGHTS", None)
    done = subprocess.run(  # noqa: PLW1510 - the exit code is asserted below
        [sys.executable, "-m", "demo.backend"],
        cwd=tmp_path,
        env=full,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode != 0
    assert words in done.stderr and "Traceback" not in done.stderr


def test_random_weights_app_serves_without_a_checkpoint(tmp_path):
    dist = tmp_path / "dist"
    (dist / "assets").mkdir(parents=True)
    (dist / "index.html").write_text("<html>app</html>")
    (dist / "assets" / "app.js").write_text("console.log(1)")
    settings = Settings.from_env(
        {
            "DATA_PATH": str(tmp_path / "data"),
            "SAM2_DEMO_RANDOM_WEIGHTS": "1",
            "SAM2_DEMO_DEVICE": "cpu",
            "SAM2_DEMO_CONFIG": "configs/sam2.1/sam2.1_hiera_micro.yaml",
            "FRONTEND_DIST": str(dist),
        }
    )
    client = create_app(settings).test_client()
    assert client.get("/healthy").json["status"] == "ok"
    info = client.post("/graphql", json={"query": "{ serverInfo { randomWeights modelConfig } }"}).json
    assert info["data"]["serverInfo"] == {
        "randomWeights": True,
        "modelConfig": "configs/sam2.1/sam2.1_hiera_micro.yaml",
    }
    missing = client.post("/graphql", json={"query": "{ defaultVideo { path } }"}).json
    assert "no videos" in missing["errors"][0]["message"]
    # The built frontend on the same port: files, the app shell for app routes, 404 for missing assets.
    assert client.get("/").get_data(as_text=True) == "<html>app</html>"
    assert client.get("/assets/app.js").get_data(as_text=True) == "console.log(1)"
    assert client.get("/some/app/route").get_data(as_text=True) == "<html>app</html>"
    assert client.get("/assets/missing.js").status_code == 404
    assert client.get("/../secret.txt").status_code == 404


def test_uploads_stream_into_the_data_folder_and_leave_nothing(tmp_path):
    from .conftest import UPLOADS, need_media

    need_media()
    settings = Settings.from_env(
        {
            "DATA_PATH": str(tmp_path / "data"),
            "SAM2_DEMO_RANDOM_WEIGHTS": "1",
            "SAM2_DEMO_DEVICE": "cpu",
            "SAM2_DEMO_CONFIG": "configs/sam2.1/sam2.1_hiera_micro.yaml",
        }
    )
    app = create_app(settings)
    incoming = settings.uploads_dir / ".incoming"
    with app.test_request_context():
        from flask import request

        part = request._get_file_stream(None, "video/mp4", "a.mp4")
        assert Path(part.name).parent == incoming  # the parser writes to the data disk, not memory
        part.close()
    query = "mutation($f: Upload!) { uploadVideo(file: $f) { path numFrames } }"
    data = {
        "operations": json.dumps({"query": query, "variables": {"f": None}}),
        "map": json.dumps({"0": ["variables.f"]}),
        "0": ((UPLOADS / "vp8_640x360.webm").open("rb"), "clip.webm"),
    }
    result = app.test_client().post("/graphql", data=data, content_type="multipart/form-data").json
    assert result["data"]["uploadVideo"]["numFrames"] == 50
    assert list(incoming.iterdir()) == []
    assert (tmp_path / "data" / result["data"]["uploadVideo"]["path"]).is_file()
