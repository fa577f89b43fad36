"""Acceptance run (slow, RUN_SLOW=1): fine-tuning micro on synthetic videos helps on held-out ones.

Trains the micro config from random weights for STEPS steps on synthetic DAVIS-style
videos (one textured shape over a textured background), then tracks held-out videos with
the video predictor from their first-frame masks and scores them with J&F.
"""

import json
import os
import subprocess
import sys

import numpy as np
import torch
from training_test_support import SUBPROCESS_ENV, slow

from sam2.build_sam import build_sam2
from training import eval_vos, jf
from training.synthetic import write_vos_folder

MICRO = "configs/sam2.1/sam2.1_hiera_micro.yaml"
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
STEPS = 1000


def held_out_jf(checkpoint, val_root, out):
    eval_vos.run(MICRO, checkpoint, val_root, out, device="cpu")
    return jf.evaluate(val_root, out, workers=2)["overall"]


@slow
def test_micro_finetune_lowers_loss_and_raises_heldout_jf(tmp_path):
    train_root, val_root = str(tmp_path / "train"), str(tmp_path / "val")
    write_vos_folder(train_root, num_videos=120, num_frames=8, size=(96, 128), max_objects=1, seed=1)
    write_vos_folder(val_root, num_videos=8, num_frames=12, size=(96, 128), max_objects=1, seed=2, prefix="heldout")

    torch.manual_seed(0)  # the same random start as the run (train.seed=0)
    untrained = str(tmp_path / "untrained.pt")
    torch.save({"model": build_sam2(MICRO, device="cpu", mode="train", apply_postprocessing=False).state_dict()},
               untrained)
    before = held_out_jf(untrained, val_root, str(tmp_path / "pred_before"))

    out = str(tmp_path / "run")
    cmd = [sys.executable, "-m", "training.train", "--config", "micro", f"data.sources.0.root={train_root}",
           f"train.out_dir={out}", f"train.steps={STEPS}", "data.batch_size=1", "prompts.num_correction_clicks=2",
           "data.augment.affine=null", "data.augment.crop=null", "train.save_every=500"]
    done = subprocess.run(cmd, cwd=REPO, env=SUBPROCESS_ENV, capture_output=True, text=True, timeout=7200)
    assert done.returncode == 0, done.stderr[-3000:]

    with open(os.path.join(out, "log.jsonl")) as f:
        losses = np.array([json.loads(line)["loss"] for line in f])
    first, last = losses[:100].mean(), losses[-100:].mean()
    after = held_out_jf(os.path.join(out, "checkpoints", "latest.pt"), val_root, str(tmp_path / "pred_after"))
    seconds = np.median([json.loads(line)["seconds"] for line in open(os.path.join(out, "log.jsonl"))])
    print(f"\nloss first 100 steps {first:.3f} -> last 100 {last:.3f}; held-out J&F {before['J&F']:.3f} -> "
          f"{after['J&F']:.3f} (J {before['J']:.3f} -> {after['J']:.3f}); {1 / seconds:.2f} steps/s")
    assert last < 0.6 * first
    assert after["J&F"] > before["J&F"] + 0.2
