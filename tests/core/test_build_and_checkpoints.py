"""Configs, model keys and checkpoint loading errors (issue: sam2 core)."""

import os
from pathlib import Path

import pytest
import torch
from shared_paths import MICRO_CONFIG

from sam2.build_sam import (
    build_sam2,
    build_sam2_video_predictor,
    find_pretrained_checkpoint,
    load_config,
    resolve_config_path,
    resolve_device,
)
from sam2.checkpoint import CheckpointError, load_checkpoint

OFFICIAL = {
    "sam2.1_hiera_t": "configs/sam2.1/sam2.1_hiera_t.yaml",
    "sam2.1_hiera_s": "configs/sam2.1/sam2.1_hiera_s.yaml",
    "sam2.1_hiera_b+": "configs/sam2.1/sam2.1_hiera_b+.yaml",
    "sam2.1_hiera_l": "configs/sam2.1/sam2.1_hiera_l.yaml",
    "sam2_hiera_t": "configs/sam2/sam2_hiera_t.yaml",
    "sam2_hiera_s": "configs/sam2/sam2_hiera_s.yaml",
    "sam2_hiera_b+": "configs/sam2/sam2_hiera_b+.yaml",
    "sam2_hiera_l": "configs/sam2/sam2_hiera_l.yaml",
}


def read_keys(tsv: Path):
    rows = []
    for line in tsv.read_text().splitlines():
        if line.strip():
            key, shape, dtype = line.split("\t")
            rows.append((key, tuple(int(s) for s in shape.split("x")) if shape != "scalar" else (), dtype))
    return rows


@pytest.mark.parametrize("name", sorted(OFFICIAL))
def test_official_config_has_exactly_the_checkpoint_keys(name, golden_dir):
    """Every packaged config builds a model whose state_dict matches the official checkpoint."""
    expected = read_keys(golden_dir / "keys" / f"{name}.tsv")
    model = build_sam2(OFFICIAL[name], device="cpu", mode="eval")
    got = [(k, tuple(v.shape), str(v.dtype).replace("torch.", "")) for k, v in model.state_dict().items()]
    assert sorted(got) == sorted(expected)
    assert [k for k, _, _ in got] == [k for k, _, _ in expected], "state_dict order differs"


def test_config_names_resolve_every_way():
    packaged = resolve_config_path("configs/sam2.1/sam2.1_hiera_t.yaml")
    assert resolve_config_path("sam2.1_hiera_t.yaml") == packaged
    assert resolve_config_path("sam2.1_hiera_t") == packaged
    assert resolve_config_path("sam2_hiera_l.yaml").endswith(os.path.join("configs", "sam2", "sam2_hiera_l.yaml"))
    assert resolve_config_path(packaged) == packaged  # a file path
    with pytest.raises(FileNotFoundError, match="not found.*configs/sam2.1/sam2.1_hiera_t.yaml"):
        resolve_config_path("configs/sam2.1/no_such_model.yaml")


def test_hydra_overrides_apply():
    cfg = load_config(MICRO_CONFIG, ["++model.num_maskmem=3", "++model.image_size=224"])
    assert cfg.model.num_maskmem == 3 and cfg.model.image_size == 224
    model = build_sam2(MICRO_CONFIG, device="cpu", hydra_overrides_extra=["++model.num_maskmem=3"])
    assert model.num_maskmem == 3 and model.maskmem_tpos_enc.shape[0] == 3


def test_postprocessing_defaults_match_the_release():
    model = build_sam2(MICRO_CONFIG, device="cpu")
    assert model.sam_mask_decoder.dynamic_multimask_via_stability
    predictor = build_sam2_video_predictor(MICRO_CONFIG, device="cpu")
    assert predictor.fill_hole_area == 8 and predictor.binarize_mask_from_pts_for_mem_enc
    bare = build_sam2_video_predictor(MICRO_CONFIG, device="cpu", apply_postprocessing=False)
    assert bare.fill_hole_area == 0 and not bare.binarize_mask_from_pts_for_mem_enc


def test_devices():
    assert resolve_device("cpu").type == "cpu"
    assert resolve_device("auto").type in ("cuda", "mps", "cpu")
    if not torch.cuda.is_available():
        with pytest.raises(RuntimeError, match="CUDA is not available"):
            build_sam2(MICRO_CONFIG, device="cuda")


# ----------------------------------------------------------------------------- checkpoints
@pytest.fixture(scope="module")
def micro_model():
    torch.manual_seed(0)
    return build_sam2(MICRO_CONFIG, device="cpu")


def test_checkpoint_round_trip(tmp_path, micro_model):
    path = tmp_path / "micro.pt"
    torch.save({"model": micro_model.state_dict()}, path)
    torch.manual_seed(1)
    other = build_sam2(MICRO_CONFIG, ckpt_path=str(path), device="cpu")
    for key, value in micro_model.state_dict().items():
        assert torch.equal(value, other.state_dict()[key]), key


def test_missing_checkpoint_file(tmp_path):
    with pytest.raises(CheckpointError, match="does not exist.*make checkpoints"):
        build_sam2(MICRO_CONFIG, ckpt_path=str(tmp_path / "absent.pt"), device="cpu")


def test_truncated_checkpoint(tmp_path, micro_model):
    full = tmp_path / "full.pt"
    torch.save({"model": micro_model.state_dict()}, full)
    cut = tmp_path / "cut.pt"
    cut.write_bytes(full.read_bytes()[: full.stat().st_size // 2])
    with pytest.raises(CheckpointError, match="not a readable PyTorch checkpoint.*truncated"):
        build_sam2(MICRO_CONFIG, ckpt_path=str(cut), device="cpu")


def test_non_checkpoint_files(tmp_path):
    text = tmp_path / "notes.pt"
    text.write_text("this is not a checkpoint")
    with pytest.raises(CheckpointError, match="not a readable PyTorch checkpoint"):
        build_sam2(MICRO_CONFIG, ckpt_path=str(text), device="cpu")
    wrong = tmp_path / "wrong.pt"
    torch.save({"weights": {}}, wrong)
    with pytest.raises(CheckpointError, match="not a SAM 2 checkpoint.*'model'"):
        build_sam2(MICRO_CONFIG, ckpt_path=str(wrong), device="cpu")


def test_missing_and_unexpected_keys_are_summarised(tmp_path, micro_model):
    sd = dict(micro_model.state_dict())
    removed = [k for k in sd if k.startswith("memory_encoder.")]
    for k in removed:
        del sd[k]
    sd["extra.weight"] = torch.zeros(1)
    path = tmp_path / "partial.pt"
    torch.save({"model": sd}, path)
    with pytest.raises(CheckpointError) as info:
        build_sam2(MICRO_CONFIG, ckpt_path=str(path), device="cpu")
    message = str(info.value)
    assert f"{len(removed)} missing keys" in message and "1 unexpected keys (extra.weight)" in message
    assert message.count("memory_encoder.") <= 5, "the message must not list hundreds of keys"


def test_shape_mismatch_names_the_fitting_model(tmp_path):
    """A tiny SAM 2.1 checkpoint given with the large config names the tiny config."""
    tiny = build_sam2("configs/sam2.1/sam2.1_hiera_t.yaml", device="cpu")
    sd = {k: torch.zeros(v.shape) for k, v in tiny.state_dict().items() if k.startswith("image_encoder.trunk.")}
    sd["no_obj_embed_spatial"] = torch.zeros(1, 64)
    large = build_sam2("configs/sam2.1/sam2.1_hiera_l.yaml", device="cpu")
    path = tmp_path / "tiny.pt"
    torch.save({"model": sd}, path)
    with pytest.raises(CheckpointError, match=r"other shapes.*SAM 2\.1 tiny \(sam2\.1_hiera_t\.yaml\)"):
        load_checkpoint(large, str(path), config_name="configs/sam2.1/sam2.1_hiera_l.yaml")


def test_from_pretrained_offline_names_file_and_place(tmp_path, monkeypatch):
    monkeypatch.setenv("SAM2_CHECKPOINT_DIR", str(tmp_path))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(FileNotFoundError, match=r"sam2\.1_hiera_tiny\.pt.*SAM2_CHECKPOINT_DIR"):
        find_pretrained_checkpoint("facebook/sam2.1-hiera-tiny")
    with pytest.raises(ValueError, match="unknown model id"):
        find_pretrained_checkpoint("facebook/sam3")


def test_from_pretrained_uses_local_checkpoint(tmp_path, monkeypatch):
    monkeypatch.setenv("SAM2_CHECKPOINT_DIR", str(tmp_path))
    (tmp_path / "sam2.1_hiera_tiny.pt").write_bytes(b"x")
    config, path = find_pretrained_checkpoint("facebook/sam2.1-hiera-tiny")
    assert config == "configs/sam2.1/sam2.1_hiera_t.yaml" and path == str(tmp_path / "sam2.1_hiera_tiny.pt")
