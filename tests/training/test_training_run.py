"""The training model, optimiser set-up, and real runs of the CLI: resume and torchrun."""

import importlib.util
import json
import os
import shutil
import socket
import subprocess
import sys

import numpy as np
import pytest
import torch
from training_test_support import SUBPROCESS_ENV

from sam2.build_sam import build_sam2, build_sam2_video_predictor
from training import eval_vos, jf
from training.config import load_train_config
from training.losses import LossWeights, clip_loss
from training.model import SAM2Train
from training.optim import is_no_decay, lr_factor, param_groups
from training.prompts import PromptConfig, PromptPlan

MICRO = "configs/sam2.1/sam2.1_hiera_micro.yaml"
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture(scope="module")
def micro():
    torch.manual_seed(0)
    return build_sam2(MICRO, device="cpu", mode="train", apply_postprocessing=False)


def toy_clip(t=3, k=2, size=256):
    g = torch.Generator().manual_seed(0)
    images = torch.randn(t, 3, size, size, generator=g)
    masks = torch.zeros(t, k, size, size, dtype=torch.bool)
    for i in range(t):
        masks[i, 0, 40 + 4 * i:120 + 4 * i, 50:130] = True
        masks[i, 1, 150:200, 160 + 3 * i:220 + 3 * i] = True
    return images, masks


def test_clicks_and_corrections_give_the_planned_steps(micro):
    model = SAM2Train(micro, PromptConfig(num_correction_clicks=2))
    images, masks = toy_clip()
    plan = PromptPlan(use_points=True, use_box=False, init_cond_frames=[0], frames_to_correct=[0, 2])
    frames = model(images, masks, torch.Generator().manual_seed(0), plan)
    assert [f.frame_idx for f in frames] == [0, 1, 2]
    assert [len(f.steps) for f in frames] == [3, 1, 3]
    first = frames[0].steps[0]
    assert first.multimasks.shape == (2, 3, 256, 256)  # one click: three candidates
    assert first.ious.shape == (2, 3) and first.object_score_logits.shape == (2, 1)
    assert frames[0].steps[1].multimasks.shape == (2, 1, 256, 256)  # two clicks: one mask
    loss = clip_loss(frames, masks, LossWeights())["total"]
    micro.zero_grad()
    loss.backward()
    grads = {n: p.grad for n, p in micro.named_parameters()}
    # Later frames read memory: the memory attention and encoder are trained through them.
    assert grads["memory_attention.layers.0.cross_attn_image.q_proj.weight"].abs().sum() > 0
    assert grads["memory_encoder.out_proj.weight"].abs().sum() > 0
    assert grads["image_encoder.trunk.patch_embed.proj.weight"].abs().sum() > 0
    micro.zero_grad()


def test_mask_prompt_and_box_plans(micro):
    model = SAM2Train(micro, PromptConfig())
    images, masks = toy_clip(t=2)
    frames = model(images, masks, torch.Generator().manual_seed(0), PromptPlan(False, False, [0], []))
    # A mask prompt is the output itself (logits +-10), as in the video predictor.
    assert torch.equal(frames[0].final_logits > 0, masks[0][:, None])
    frames = model(images, masks, torch.Generator().manual_seed(0), PromptPlan(True, True, [0, 1], [0]))
    assert [len(f.steps) for f in frames] == [8, 1]


def test_frozen_image_encoder_gets_no_gradient_or_optimiser_group(micro):
    torch.manual_seed(0)
    sam = build_sam2(MICRO, device="cpu", mode="train", apply_postprocessing=False)
    model = SAM2Train(sam, PromptConfig(), freeze_image_encoder=True)
    images, masks = toy_clip(t=2)
    clip_loss(model(images, masks, torch.Generator().manual_seed(0)), masks, LossWeights())["total"].backward()
    assert all(p.grad is None for p in sam.image_encoder.parameters())
    groups = param_groups(sam, 1e-3, 1e-3, 0.9, 0.1)
    assert not any(n.startswith("image_encoder.") for g in groups for n in g["names"])


def test_param_groups_layer_decay_and_no_decay(micro):
    groups = param_groups(micro, lr=1e-3, vision_lr=1e-4, layer_decay=0.5, weight_decay=0.1)
    by_name = {n: g for g in groups for n in g["names"]}
    assert len(by_name) == sum(1 for p in micro.parameters() if p.requires_grad)
    num_blocks = 8  # micro: stages [1, 2, 3, 2]
    assert by_name["image_encoder.neck.convs.0.conv.weight"]["lr"] == pytest.approx(1e-4)
    assert by_name["image_encoder.trunk.blocks.7.attn.qkv.weight"]["lr"] == pytest.approx(1e-4 * 0.5)
    assert by_name["image_encoder.trunk.blocks.0.attn.qkv.weight"]["lr"] == pytest.approx(1e-4 * 0.5 ** num_blocks)
    assert by_name["image_encoder.trunk.patch_embed.proj.weight"]["lr"] == pytest.approx(1e-4 * 0.5 ** (num_blocks + 1))
    assert by_name["sam_mask_decoder.iou_prediction_head.layers.0.weight"]["lr"] == 1e-3
    for name in ("image_encoder.trunk.pos_embed", "no_mem_embed", "maskmem_tpos_enc",
                 "sam_prompt_encoder.point_embeddings.0.weight", "sam_mask_decoder.iou_token.weight",
                 "image_encoder.trunk.blocks.0.norm1.weight", "memory_attention.layers.0.linear1.bias"):
        assert by_name[name]["weight_decay"] == 0.0, name
    assert by_name["memory_attention.layers.0.linear1.weight"]["weight_decay"] == 0.1
    assert is_no_decay("x.bias", torch.zeros(3, 3))


def test_lr_schedule():
    assert lr_factor(0, 100, 10, 0.1) == pytest.approx(0.1)
    assert lr_factor(9, 100, 10, 0.1) == pytest.approx(1.0)
    assert lr_factor(10, 100, 10, 0.1) == pytest.approx(1.0)
    assert lr_factor(55, 100, 10, 0.1) == pytest.approx(0.1 + 0.9 * 0.5)
    assert lr_factor(100, 100, 10, 0.1) == pytest.approx(0.1)


def test_config_errors():
    with pytest.raises(ValueError, match="root"):
        load_train_config("micro")
    with pytest.raises(FileNotFoundError, match="micro"):
        load_train_config("no_such_config")
    cfg = load_train_config("sam2.1_hiera_b+_finetune", ["data.sources.0.root=/x"])
    assert cfg.model.config.endswith("sam2.1_hiera_b+.yaml") and cfg.data.num_frames == 8


# ----------------------------------------------------------------------------- real runs
RUN_ARGS = ["data.num_frames=2", "data.batch_size=2", "prompts.num_correction_clicks=1", "train.steps=4",
            "train.save_every=2", "train.log_every=1", "optim.warmup_steps=1"]


def run_cli(args, nproc=1):
    if nproc == 1:
        cmd = [sys.executable, "-m", "training.train"] + args
    else:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        cmd = [sys.executable, "-m", "torch.distributed.run", "--nnodes", "1", "--nproc_per_node", str(nproc),
               "--master_addr", "127.0.0.1", "--master_port", str(port), "-m", "training.train"] + args
    done = subprocess.run(cmd, cwd=REPO, env=SUBPROCESS_ENV, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    return done


def read_log(out_dir):
    with open(os.path.join(out_dir, "log.jsonl")) as f:
        return {r["step"]: r for r in map(json.loads, f)}


def state(path):
    return torch.load(path, map_location="cpu", weights_only=True)["model"]


@pytest.fixture(scope="module")
def full_run(vos_root, tmp_path_factory):
    out = str(tmp_path_factory.mktemp("full"))
    run_cli(["--config", "micro", f"data.sources.0.root={vos_root}", f"train.out_dir={out}",
             "train.tensorboard=true"] + RUN_ARGS)
    return out


def test_run_writes_logs_and_official_checkpoints(full_run):
    log = read_log(full_run)
    assert sorted(log) == [1, 2, 3, 4]
    assert all(np.isfinite(r["loss"]) and r["loss"] > 0 for r in log.values())
    if importlib.util.find_spec("tensorboard") is not None:
        events = os.listdir(os.path.join(full_run, "tensorboard"))
        assert any(e.startswith("events.out.tfevents") for e in events)
    ckpts = os.path.join(full_run, "checkpoints")
    assert sorted(os.listdir(ckpts)) == ["checkpoint_0000002.pt", "checkpoint_0000004.pt", "latest.pt"]
    # The file loads as an official checkpoint: into the model and into the video predictor.
    latest = os.path.join(ckpts, "latest.pt")
    model = build_sam2(MICRO, ckpt_path=latest, device="cpu")
    assert torch.equal(model.state_dict()["no_mem_embed"], state(latest)["no_mem_embed"])
    build_sam2_video_predictor(MICRO, ckpt_path=latest, device="cpu")


def test_resume_reproduces_the_uninterrupted_run(full_run, vos_root, tmp_path):
    out = str(tmp_path / "resumed")
    os.makedirs(os.path.join(out, "checkpoints"))
    shutil.copy(os.path.join(full_run, "checkpoints", "checkpoint_0000002.pt"),
                os.path.join(out, "checkpoints", "latest.pt"))
    run_cli(["--config", "micro", f"data.sources.0.root={vos_root}", f"train.out_dir={out}", "--resume",
             "train.tensorboard=false"] + RUN_ARGS)
    full, resumed = read_log(full_run), read_log(out)
    assert sorted(resumed) == [3, 4]
    for step in (3, 4):
        assert resumed[step]["loss"] == pytest.approx(full[step]["loss"], rel=1e-6, abs=1e-6)
    a, b = state(os.path.join(full_run, "checkpoints", "latest.pt")), state(os.path.join(out, "checkpoints", "latest.pt"))
    for k in a:
        assert torch.allclose(a[k], b[k], atol=1e-6), k


def test_two_process_torchrun_matches_one_process(full_run, vos_root, tmp_path):
    out = str(tmp_path / "ddp")
    run_cli(["--config", "micro", f"data.sources.0.root={vos_root}", f"train.out_dir={out}",
             "train.tensorboard=false"] + RUN_ARGS, nproc=2)
    full, ddp = read_log(full_run), read_log(out)
    assert sorted(ddp) == [1, 2, 3, 4]
    # Same clips, same seeds, gradients summed in the same order: equal up to float rounding
    # (bitwise equal on our machine).
    for step in ddp:
        assert ddp[step]["loss"] == pytest.approx(full[step]["loss"], rel=1e-5), step
    a, b = state(os.path.join(full_run, "checkpoints", "latest.pt")), state(os.path.join(out, "checkpoints", "latest.pt"))
    worst = max(float((a[k] - b[k]).abs().max()) for k in a)
    assert worst < 1e-5


def test_eval_vos_then_jf(full_run, vos_root, tmp_path):
    out = str(tmp_path / "pred")
    names = eval_vos.run(MICRO, os.path.join(full_run, "checkpoints", "latest.pt"), vos_root, out,
                         videos=["video000", "video001"], device="cpu")
    assert names == ["video000", "video001"]
    for video in names:
        files = sorted(os.listdir(os.path.join(out, video)))
        assert files == sorted(os.listdir(os.path.join(vos_root, "Annotations", video)))
    scores = jf.evaluate(vos_root, out, videos=names, workers=1)
    assert 0.0 <= scores["overall"]["J&F"] <= 1.0 and scores["overall"]["objects"] >= 2
    # The first frame is the prompt itself: scored with all frames, it is near perfect there.
    first = jf.evaluate(vos_root, out, videos=names, workers=1, skip_first_last=False)
    assert first["overall"]["J"] >= scores["overall"]["J"] * 0.5


def test_accumulation_and_loader_workers_match_the_plain_run(full_run, vos_root, tmp_path):
    # Two accumulation rounds of one clip, loaded by a worker process = one round of two clips.
    out = str(tmp_path / "accum")
    run_cli(["--config", "micro", f"data.sources.0.root={vos_root}", f"train.out_dir={out}", "optim.accum=2",
             "data.num_workers=1", "train.tensorboard=false"] + RUN_ARGS)
    full, accum = read_log(full_run), read_log(out)
    for step in (1, 2, 3, 4):
        assert accum[step]["loss"] == pytest.approx(full[step]["loss"], rel=1e-5), step


def test_activation_checkpointing_gives_the_same_gradients():
    images, masks = toy_clip(t=2)
    plan = PromptPlan(True, False, [0], [0])
    grads = []
    for use_ckpt in (False, True):
        torch.manual_seed(0)
        sam = build_sam2(MICRO, device="cpu", mode="eval", apply_postprocessing=False)  # eval: no dropout
        model = SAM2Train(sam, PromptConfig(num_correction_clicks=1), checkpoint_image_encoder=use_ckpt)
        frames = model(images, masks, torch.Generator().manual_seed(0), plan)
        clip_loss(frames, masks, LossWeights())["total"].backward()
        grads.append(sam.image_encoder.trunk.patch_embed.proj.weight.grad.clone())
    assert torch.allclose(grads[0], grads[1], atol=1e-6, rtol=1e-5)


def test_cli_reports_bad_data_without_a_traceback(tmp_path):
    cmd = [sys.executable, "-m", "training.train", "--config", "micro", f"data.sources.0.root={tmp_path}/absent"]
    done = subprocess.run(cmd, cwd=REPO, env=SUBPROCESS_ENV, capture_output=True, text=True, timeout=300)
    assert done.returncode == 2
    assert "JPEGImages" in done.stderr and "Traceback" not in done.stderr


def test_init_checkpoint_is_loaded(full_run, vos_root):
    from training.train import build_model

    latest = os.path.join(full_run, "checkpoints", "latest.pt")
    cfg = load_train_config("micro", [f"data.sources.0.root={vos_root}", f"model.init_checkpoint={latest}",
                                      "train.seed=123"])
    model = build_model(cfg, torch.device("cpu"))
    saved = state(latest)
    assert all(torch.equal(v, saved[k]) for k, v in model.sam.state_dict().items())


@pytest.mark.parametrize("size", ["t", "s", "b+", "l"])
def test_official_size_configs_compose(size):
    from sam2.build_sam import resolve_config_path

    cfg = load_train_config(f"sam2.1_hiera_{size}_finetune", ["data.sources.0.root=x"])
    assert os.path.isfile(resolve_config_path(cfg.model.config))
    assert cfg.model.init_checkpoint.startswith("checkpoints/sam2.1_hiera_")
    assert cfg.optim.lr == 5e-6 and cfg.optim.vision_lr == 3e-6 and cfg.data.num_frames == 8
