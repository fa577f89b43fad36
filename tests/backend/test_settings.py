from pathlib import Path

import pytest

from demo.backend.settings import Settings, SettingsError


def test_defaults():
    s = Settings.from_env({"SAM2_DEMO_DEVICE": "cpu"})
    assert s.model.size == "tiny"
    assert s.model.config_file == "configs/sam2.1/sam2.1_hiera_t.yaml"
    assert s.model.checkpoint_path == Path("checkpoints") / "sam2.1_hiera_tiny.pt"
    assert not s.model.random_weights
    assert s.limits.max_upload_bytes == 200 * 1024 * 1024
    assert s.limits.max_duration_sec == 10
    assert s.limits.max_objects == 16
    assert s.public_url == ""


def test_cuda_defaults_to_base_plus_and_overrides_apply(tmp_path):
    s = Settings.from_env(
        {
            "SAM2_DEMO_DEVICE": "cuda",
            "DATA_PATH": str(tmp_path),
            "MAX_DURATION_SEC": "120",
            "SAM2_DEMO_RANDOM_WEIGHTS": "yes",
            "SAM2_DEMO_CONFIG": "x.yaml",
            "API_URL": "http://h:1/",
            "CHECKPOINT_DIR": str(tmp_path),
        }
    )
    assert s.model.size == "base_plus" and s.model.device == "cuda"
    assert s.model.checkpoint_path == tmp_path / "sam2.1_hiera_base_plus.pt"
    assert s.model.random_weights and s.model.config_file == "x.yaml"
    assert s.limits.max_duration_sec == 120
    assert s.public_url == "http://h:1"
    assert s.gallery_dir == tmp_path / "gallery"


@pytest.mark.parametrize(
    "env, name",
    [
        ({"MODEL_SIZE": "huge"}, "MODEL_SIZE"),
        ({"MAX_UPLOAD_MB": "lots"}, "MAX_UPLOAD_MB"),
        ({"MAX_SESSIONS": "0"}, "MAX_SESSIONS"),
        ({"MAX_DURATION_SEC": "inf"}, "MAX_DURATION_SEC"),
        ({"SAM2_DEMO_RANDOM_WEIGHTS": "maybe"}, "SAM2_DEMO_RANDOM_WEIGHTS"),
        ({"SAM2_DEMO_DEVICE": "tpu"}, "SAM2_DEMO_DEVICE"),
    ],
)
def test_bad_values_name_the_variable(env, name):
    with pytest.raises(SettingsError, match=name):
        Settings.from_env({"SAM2_DEMO_DEVICE": "cpu", **env})
