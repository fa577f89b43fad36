"""Check that ``training.jf`` gives the numbers of the DAVIS 2017 evaluation code.

    python -m training.compare_davis2017 --davis-code PATH/davis2017-evaluation \
        --davis-python PATH/python [--work DIR] [--pred-dir PRED --gt-root ROOT]

``--davis-code`` is a checkout of https://github.com/davisvideochallenge/davis2017-evaluation
and ``--davis-python`` an interpreter with its requirements (numpy, scipy, pillow, pandas,
opencv-python, scikit-image). Without ``--pred-dir`` the script makes its own case: synthetic
videos at two resolutions and predictions degraded from the truth in many ways (shifts,
erosion, dilation, holes, blobs, missing and spurious objects, empty frames). It lays them
out as DAVIS does (JPEGImages/480p, Annotations/480p, ImageSets/2017/val.txt), runs the DAVIS
code's semi-supervised evaluation in a subprocess and ``training.jf`` here, and prints the
largest per-object difference of mean J and mean F. Exit status 1 when it exceeds 1e-3.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np
from PIL import Image
from scipy import ndimage

from training.jf import evaluate
from training.palette import davis_palette
from training.synthetic import write_vos_folder
from training.vos_layout import write_davis_layout

# Runs in the DAVIS code's interpreter: its own evaluation API, results as JSON on stdout.
DRIVER = """
import json, sys
sys.path.insert(0, sys.argv[1])
from davis2017.evaluation import DAVISEvaluation
res = DAVISEvaluation(davis_root=sys.argv[2], task="semi-supervised", gt_set="val").evaluate(sys.argv[3])
print(json.dumps({"J": res["J"]["M_per_object"], "F": res["F"]["M_per_object"]}))
"""


def degrade(ids: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A plausible wrong prediction of an id mask (H, W)."""
    out = np.zeros_like(ids)
    for obj in [v for v in np.unique(ids) if v]:
        m = ids == obj
        kind = rng.integers(8)
        if kind == 0:
            m = np.roll(m, (int(rng.integers(-6, 7)), int(rng.integers(-6, 7))), axis=(0, 1))
        elif kind == 1:
            m = ndimage.binary_erosion(m, iterations=int(rng.integers(1, 4)))
        elif kind == 2:
            m = ndimage.binary_dilation(m, iterations=int(rng.integers(1, 6)))
        elif kind == 3:
            m = m & (rng.random(m.shape) > 0.1)  # speckle holes
        elif kind == 4:
            m = np.zeros_like(m)  # object lost
        elif kind == 5:
            y, x = int(rng.integers(m.shape[0])), int(rng.integers(m.shape[1]))
            m = m.copy()
            m[max(0, y - 8):y + 8, max(0, x - 8):x + 8] = True  # spurious blob
        out[m] = obj
    if rng.random() < 0.1:
        out[:] = 0  # an empty frame
    return out


def make_case(work: str, seed: int = 0):
    raw = os.path.join(work, "raw")
    rng = np.random.default_rng(seed)
    names = write_vos_folder(raw, 4, 8, (96, 128), 3, seed, prefix="small")
    names += write_vos_folder(raw, 3, 6, (240, 427), 3, seed + 1, prefix="large")
    davis_root = os.path.join(work, "davis")
    write_davis_layout(raw, davis_root, names)
    pred = os.path.join(work, "pred")
    for name in names:
        os.makedirs(os.path.join(pred, name), exist_ok=True)
        for f in sorted(os.listdir(os.path.join(raw, "Annotations", name))):
            ids = np.asarray(Image.open(os.path.join(raw, "Annotations", name, f)))
            im = Image.fromarray(degrade(ids, rng), mode="P")
            im.putpalette(davis_palette())
            im.save(os.path.join(pred, name, f))
    return davis_root, pred


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--davis-code", required=True)
    parser.add_argument("--davis-python", required=True)
    parser.add_argument("--work", help="scratch folder (default: a temporary one)")
    parser.add_argument("--gt-root", help="an existing VOS root (JPEGImages/, Annotations/) to score")
    parser.add_argument("--pred-dir", help="predictions for --gt-root")
    args = parser.parse_args(argv)
    work = args.work or tempfile.mkdtemp(prefix="jf_compare_")
    if args.pred_dir:
        names = sorted(os.listdir(os.path.join(args.gt_root, "Annotations")))
        davis_root = os.path.join(work, "davis")
        write_davis_layout(args.gt_root, davis_root, names)
        pred = args.pred_dir
    else:
        davis_root, pred = make_case(work)
    done = subprocess.run([args.davis_python, "-c", DRIVER, args.davis_code, davis_root, pred],
                          capture_output=True, text=True)
    if done.returncode:
        print(done.stderr, file=sys.stderr)
        return 2
    theirs = json.loads(done.stdout.strip().splitlines()[-1])
    ours = evaluate(os.path.join(davis_root, "Annotations", "480p"), pred, workers=2)
    worst = 0.0
    rows = []
    for video in ours["videos"]:
        for obj, s in video["objects"].items():
            key = f"{video['video']}_{obj}"
            dj, df = abs(s["J"] - theirs["J"][key]), abs(s["F"] - theirs["F"][key])
            worst = max(worst, dj, df)
            rows.append(f"{key:<16} J {s['J']:.6f} vs {theirs['J'][key]:.6f}   F {s['F']:.6f} vs {theirs['F'][key]:.6f}")
    missing = set(theirs["J"]) - {f"{v['video']}_{o}" for v in ours["videos"] for o in v["objects"]}
    print("\n".join(rows))
    their_j, their_f = np.mean(list(theirs["J"].values())), np.mean(list(theirs["F"].values()))
    o = ours["overall"]
    print(f"overall  ours J&F {o['J&F']:.6f} J {o['J']:.6f} F {o['F']:.6f}   "
          f"DAVIS J&F {(their_j + their_f) / 2:.6f} J {their_j:.6f} F {their_f:.6f}")
    print(f"objects compared: {len(rows)}, missing on our side: {sorted(missing)}; largest difference {worst:.2e}")
    if not args.work:
        shutil.rmtree(work, ignore_errors=True)
    return 0 if worst <= 1e-3 and not missing else 1


if __name__ == "__main__":
    sys.exit(main())
