"""What the benchmarks share: resident memory, and checkpoints of the golden deterministic weights."""

import os
import sys

GOLDEN = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                      "shared", "golden")


def rss_mb() -> float:
    """Current resident set size in MB (Linux /proc; NaN elsewhere)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def golden_checkpoint(config: str, workdir: str) -> str:
    """Path of an official-style checkpoint of the golden deterministic weights in ``workdir``.

    Made on first use with whichever ``sam2`` is importable (ours or the reference: the same
    keys), then shared by every process of a side-by-side run.
    """
    path = os.path.join(workdir, "weights.pt")
    if os.path.exists(path):
        return path
    import torch

    sys.path.insert(0, GOLDEN)
    from weights import make_state_dict

    from sam2.build_sam import build_sam2

    model = build_sam2(config, device="cpu")
    torch.save({"model": make_state_dict(model.state_dict())}, path)
    return path
