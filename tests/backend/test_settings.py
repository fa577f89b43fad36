from pathlib import Path

import pytest

from demo.backend.settings import Settings, SettingsError


def test_defaults():
    s = Settings.from_env({"SAM2_DEMO_DEVICE": "cpu"})
    assert s.model.size == "tiny"
    assert s.model.config_file == "configs/sam2.1/sam2.1_hiera_t.yaml"
    assert s.model.checkpoint_path == Path("checkpoints") / "sam2.1_hiera_tiny.pt"
    assert not s.model.random_weights
    assert s.model.precision == "auto"
    assert Settings.from_env({"SAM2_DEMO_DEVICE": "cpu", "SAM2_DEMO_PRECISION": "FP32"}).model.precision == "fp32"
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
    # A config of one's own is reported as "custom", not as the size it replaced.
    assert s.model.size == "custom" and s.model.device == "cuda"
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
        ({"SAM2_DEMO_PRECISION": "fp16"}, "SAM2_DEMO_PRECISION"),
        ({"CORS_ORIGINS": " , "}, "CORS_ORIGINS"),  # fails closed, never "any origin"
        ({"CORS_ORIGINS": "example.org"}, "CORS_ORIGINS"),
        ({"CORS_ORIGINS": "https://a.org,,https://b.org"}, "CORS_ORIGINS"),
        ({"UPLOADS_MAX_MB": "0"}, "UPLOADS_MAX_MB"),
        ({"SHARE_UPLOADS": "sometimes"}, "SHARE_UPLOADS"),
        ({"CLIENT_HEADER_TIMEOUT_SEC": "-1"}, "CLIENT_HEADER_TIMEOUT_SEC"),
        ({"CLIENT_WRITE_TIMEOUT_SEC": "inf"}, "CLIENT_WRITE_TIMEOUT_SEC"),
    ],
)
def test_bad_values_name_the_variable(env, name):
    with pytest.raises(SettingsError, match=name):
        Settings.from_env({"SAM2_DEMO_DEVICE": "cpu", **env})


def test_origins_default_to_same_origin_only_and_parse_lists():
    assert Settings.from_env({"SAM2_DEMO_DEVICE": "cpu"}).cors_origins == ()
    assert Settings.from_env({"SAM2_DEMO_DEVICE": "cpu", "CORS_ORIGINS": "*"}).cors_origins == ("*",)
    s = Settings.from_env({"SAM2_DEMO_DEVICE": "cpu", "CORS_ORIGINS": "https://a.org/, http://localhost:5173"})
    assert s.cors_origins == ("https://a.org", "http://localhost:5173")


def test_upload_and_client_settings():
    s = Settings.from_env(
        {
            "SAM2_DEMO_DEVICE": "cpu",
            "UPLOAD_TTL_HOURS": "0.5",
            "UPLOADS_MAX_MB": "10",
            "SHARE_UPLOADS": "1",
            "CLIENT_HEADER_TIMEOUT_SEC": "3",
            "CLIENT_MIN_UPLOAD_KBPS": "8",
        }
    )
    assert s.limits.upload_ttl_sec == 1800 and s.limits.uploads_max_bytes == 10 << 20
    assert s.limits.share_uploads and s.timeouts.header_sec == 3
    assert s.timeouts.min_upload_bytes_per_sec == 8192
    assert Settings.from_env({"SAM2_DEMO_DEVICE": "cpu"}).model.size == "tiny"


def test_allowed_hosts_default_to_local_names_and_the_configured_origins():
    s = Settings.from_env({"SAM2_DEMO_DEVICE": "cpu", "HOST": "10.0.0.5", "API_URL": "https://api.example.org/sam",
                           "CORS_ORIGINS": "http://ui.example:5173", "ALLOWED_HOSTS": "Demo.Example, .lab.org"})  # fmt: skip
    assert s.allowed_hosts == (
        "localhost", "127.0.0.1", "[::1]", "demo.example", ".lab.org", "10.0.0.5", "api.example.org", "ui.example",
    )  # fmt: skip
    everywhere = Settings.from_env({"SAM2_DEMO_DEVICE": "cpu", "HOST": "0.0.0.0"}).allowed_hosts
    assert everywhere[:3] == ("localhost", "127.0.0.1", "[::1]") and len(everywhere) > 3  # + this machine's names
    assert Settings.from_env({"SAM2_DEMO_DEVICE": "cpu", "ALLOWED_HOSTS": "*"}).allowed_hosts == ("*",)
    with pytest.raises(SettingsError, match="ALLOWED_HOSTS"):
        Settings.from_env({"SAM2_DEMO_DEVICE": "cpu", "ALLOWED_HOSTS": "example.org:80"})
