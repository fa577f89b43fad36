"""Loading official ``{"model": state_dict}`` checkpoints, with errors a person can act on.

Loading is strict: a checkpoint that loads has exactly the model's keys and shapes.
Each failure is reported as one paragraph (:class:`CheckpointError`) instead of a
traceback listing hundreds of keys.
"""

import os
from typing import Dict, List, Optional

import torch

# Hiera trunk (embed_dim, number of blocks) -> size name of the official models.
_TRUNK_SIZES = {
    (96, 12): "tiny (sam2.1_hiera_t.yaml)",
    (96, 16): "small (sam2.1_hiera_s.yaml)",
    (112, 24): "base_plus (sam2.1_hiera_b+.yaml)",
    (144, 48): "large (sam2.1_hiera_l.yaml)",
}


class CheckpointError(RuntimeError):
    """A checkpoint file that cannot be loaded into the model built from the config."""


def _few(names: List[str], count: int = 5) -> str:
    shown = ", ".join(names[:count])
    return shown + (f", ... ({len(names) - count} more)" if len(names) > count else "")


def describe_checkpoint_model(state_dict: Dict[str, torch.Tensor]) -> str:
    """Guess which official config a state dict was made for (family and size)."""
    embed = state_dict.get("image_encoder.trunk.patch_embed.proj.weight")
    if embed is None or not hasattr(embed, "shape"):
        return "an unknown model (no Hiera patch embedding in it)"
    blocks = {k.split(".")[3] for k in state_dict if k.startswith("image_encoder.trunk.blocks.")}
    size = _TRUNK_SIZES.get((int(embed.shape[0]), len(blocks)))
    family = "SAM 2.1" if "no_obj_embed_spatial" in state_dict else "SAM 2"
    if size is None:
        return f"a {family} model with a Hiera trunk of width {int(embed.shape[0])} and {len(blocks)} blocks"
    if family == "SAM 2":
        size = size.replace("sam2.1_hiera", "sam2_hiera")
    return f"the {family} {size} model"


def read_state_dict(ckpt_path: str) -> Dict[str, torch.Tensor]:
    """Read ``torch.load(ckpt_path)["model"]`` safely (weights only), or raise CheckpointError."""
    if not os.path.exists(ckpt_path):
        raise CheckpointError(
            f"checkpoint file {ckpt_path!r} does not exist. Download the official checkpoint "
            "(e.g. `make checkpoints`) or pass the right path."
        )
    if os.path.isdir(ckpt_path):
        raise CheckpointError(f"checkpoint path {ckpt_path!r} is a folder, not a checkpoint file.")
    try:
        content = torch.load(ckpt_path, map_location="cpu", weights_only=True)
    except Exception as e:  # torch.load raises many types for damaged or foreign files
        size = os.path.getsize(ckpt_path)
        raise CheckpointError(
            f"{ckpt_path!r} ({size} bytes) is not a readable PyTorch checkpoint: it may be truncated "
            f"(an interrupted download) or not a checkpoint at all. Download it again. "
            f"(torch.load said: {str(e).splitlines()[0] if str(e) else type(e).__name__})"
        ) from None
    if not isinstance(content, dict) or "model" not in content or not isinstance(content["model"], dict):
        keys = list(content)[:5] if isinstance(content, dict) else type(content).__name__
        raise CheckpointError(
            f"{ckpt_path!r} is a PyTorch file but not a SAM 2 checkpoint: expected a dict with a "
            f"'model' state dict, found {keys}."
        )
    return content["model"]


def load_checkpoint(model: torch.nn.Module, ckpt_path: str, config_name: Optional[str] = None) -> None:
    """Load an official checkpoint into ``model`` strictly, or raise CheckpointError."""
    state_dict = read_state_dict(ckpt_path)
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state_dict))
    unexpected = sorted(set(state_dict) - set(expected))
    mismatched = sorted(
        k
        for k in set(expected) & set(state_dict)
        if tuple(getattr(state_dict[k], "shape", ())) != tuple(expected[k].shape)
    )
    config_text = f"config {config_name!r}" if config_name else "the config"
    if mismatched:
        k = mismatched[0]
        raise CheckpointError(
            f"checkpoint {os.path.basename(ckpt_path)!r} does not fit {config_text}: "
            f"{len(mismatched)} tensors have other shapes (e.g. {k}: checkpoint "
            f"{tuple(state_dict[k].shape)}, model {tuple(expected[k].shape)}). The checkpoint looks like "
            f"{describe_checkpoint_model(state_dict)}; build it with the matching config."
        )
    if missing or unexpected:
        parts = []
        if missing:
            parts.append(f"{len(missing)} missing keys ({_few(missing)})")
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected keys ({_few(unexpected)})")
        raise CheckpointError(
            f"checkpoint {os.path.basename(ckpt_path)!r} does not match {config_text}: "
            f"{' and '.join(parts)}. It looks like {describe_checkpoint_model(state_dict)}; "
            "a SAM 2 checkpoint needs the SAM 2 config of the same size (SAM 2.1 configs have "
            "no_obj_embed_spatial and obj_ptr_tpos_proj, SAM 2 configs do not)."
        )
    model.load_state_dict(state_dict, strict=True)
