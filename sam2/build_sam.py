"""Build SAM 2 models from config files and load official checkpoints.

``build_sam2`` gives the bare model (used by :class:`SAM2ImagePredictor`),
``build_sam2_video_predictor`` the video predictor. Configs are the official Hydra YAMLs,
named as packaged (``configs/sam2.1/sam2.1_hiera_t.yaml``), by their legacy top-level
name (``sam2_hiera_l.yaml``) or by a filesystem path.
"""

import logging
import os
import threading
from typing import Dict, List, Optional, Sequence, Tuple

try:
    import torch
    from hydra import compose, initialize_config_dir
    from hydra.utils import instantiate
    from omegaconf import OmegaConf
except ImportError:
    from sam2._torch_check import torch_missing

    raise torch_missing("sam2.build_sam") from None

from sam2.checkpoint import load_checkpoint
from sam2.precision import PRECISIONS, set_precision

logger = logging.getLogger(__name__)

PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))

# Hugging Face model ids -> (packaged config, checkpoint file name), as published.
HF_MODEL_ID_TO_FILENAMES: Dict[str, Tuple[str, str]] = {
    "facebook/sam2-hiera-tiny": ("configs/sam2/sam2_hiera_t.yaml", "sam2_hiera_tiny.pt"),
    "facebook/sam2-hiera-small": ("configs/sam2/sam2_hiera_s.yaml", "sam2_hiera_small.pt"),
    "facebook/sam2-hiera-base-plus": ("configs/sam2/sam2_hiera_b+.yaml", "sam2_hiera_base_plus.pt"),
    "facebook/sam2-hiera-large": ("configs/sam2/sam2_hiera_l.yaml", "sam2_hiera_large.pt"),
    "facebook/sam2.1-hiera-tiny": ("configs/sam2.1/sam2.1_hiera_t.yaml", "sam2.1_hiera_tiny.pt"),
    "facebook/sam2.1-hiera-small": ("configs/sam2.1/sam2.1_hiera_s.yaml", "sam2.1_hiera_small.pt"),
    "facebook/sam2.1-hiera-base-plus": ("configs/sam2.1/sam2.1_hiera_b+.yaml", "sam2.1_hiera_base_plus.pt"),
    "facebook/sam2.1-hiera-large": ("configs/sam2.1/sam2.1_hiera_l.yaml", "sam2.1_hiera_large.pt"),
}

# Settings the official release applies on top of the config files ("post-processing").
IMAGE_POSTPROCESSING = {
    "model.sam_mask_decoder_extra_args.dynamic_multimask_via_stability": True,
    "model.sam_mask_decoder_extra_args.dynamic_multimask_stability_delta": 0.05,
    "model.sam_mask_decoder_extra_args.dynamic_multimask_stability_thresh": 0.98,
}
VIDEO_POSTPROCESSING = {
    **IMAGE_POSTPROCESSING,
    "model.binarize_mask_from_pts_for_mem_enc": True,
    "model.fill_hole_area": 8,
}
VIDEO_PREDICTOR_TARGET = "sam2.sam2_video_predictor.SAM2VideoPredictor"
VOS_PREDICTOR_TARGET = "sam2.sam2_video_predictor.SAM2VideoPredictorVOS"

# Hydra keeps global state; composing from several threads at once must not interleave.
_HYDRA_LOCK = threading.Lock()


# ----------------------------------------------------------------------------- devices
def resolve_device(device) -> torch.device:
    """"auto" -> CUDA, else MPS, else CPU. Asking for an absent accelerator is an error."""
    name = str(device)
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        mps = getattr(torch.backends, "mps", None)
        if mps is not None and mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    dev = torch.device(name)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(
            f"device={name!r} was requested but CUDA is not available on this machine "
            "(torch.cuda.is_available() is False). Use device='cpu' or device='auto'."
        )
    if dev.type == "mps":
        mps = getattr(torch.backends, "mps", None)
        if mps is None or not mps.is_available():
            raise RuntimeError(f"device={name!r} was requested but MPS is not available.")
    return dev


# ----------------------------------------------------------------------------- configs
def resolve_config_path(config_file: str) -> str:
    """Find a config by filesystem path, packaged name or legacy top-level name."""
    candidates = [config_file]
    if not os.path.isabs(config_file):
        name = config_file[len("sam2/"):] if config_file.startswith("sam2/") else config_file
        candidates.append(os.path.join(PACKAGE_DIR, name))
        if not name.endswith(".yaml"):
            candidates.append(os.path.join(PACKAGE_DIR, name + ".yaml"))
        base = os.path.basename(name)
        # Legacy names (sam2_hiera_l.yaml) and bare file names of packaged configs.
        for family in ("sam2.1", "sam2"):
            candidates.append(os.path.join(PACKAGE_DIR, "configs", family, base))
            if not base.endswith(".yaml"):
                candidates.append(os.path.join(PACKAGE_DIR, "configs", family, base + ".yaml"))
    for path in candidates:
        if os.path.isfile(path):
            return os.path.abspath(path)
    raise FileNotFoundError(
        f"config {config_file!r} not found: give a file path or a packaged name such as "
        f"'configs/sam2.1/sam2.1_hiera_t.yaml' (available: {', '.join(available_configs())})"
    )


def available_configs() -> List[str]:
    found = []
    for family in ("sam2.1", "sam2"):
        folder = os.path.join(PACKAGE_DIR, "configs", family)
        if os.path.isdir(folder):
            found += [f"configs/{family}/{f}" for f in sorted(os.listdir(folder)) if f.endswith(".yaml")]
    return found


def _overrides_from_settings(settings: Dict[str, object]) -> List[str]:
    return [f"++{key}={str(value).lower() if isinstance(value, bool) else value}" for key, value in settings.items()]


def load_config(config_file: str, overrides: Sequence[str] = ()):
    """Compose a config with Hydra-style overrides (``++model.x=y``); returns an OmegaConf node."""
    path = resolve_config_path(config_file)
    with _HYDRA_LOCK, initialize_config_dir(config_dir=os.path.dirname(path), version_base="1.2"):
        cfg = compose(config_name=os.path.basename(path)[: -len(".yaml")], overrides=list(overrides))
    OmegaConf.resolve(cfg)
    if "model" not in cfg:
        raise ValueError(f"config {config_file!r} has no 'model' section; is it a SAM 2 model config?")
    return cfg


def _instantiate(config_file, ckpt_path, device, mode, overrides, precision="fp32"):
    if precision not in PRECISIONS:  # before the (slow) build
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}; got {precision!r}")
    cfg = load_config(config_file, overrides)
    dev = resolve_device(device)
    model = instantiate(cfg.model, _recursive_=True)
    if ckpt_path is not None:
        load_checkpoint(model, ckpt_path, config_name=config_file)
    model = model.to(dev)
    if mode == "eval":
        model.eval()
    elif mode != "train":
        raise ValueError(f"mode must be 'eval' or 'train', got {mode!r}")
    set_precision(model, precision)
    return model


def build_sam2(
    config_file: str,
    ckpt_path: Optional[str] = None,
    device="cuda",
    mode: str = "eval",
    hydra_overrides_extra: Sequence[str] = (),
    apply_postprocessing: bool = True,
    precision: str = "fp32",
    **kwargs,
):
    """SAM 2 model (``SAM2Base``) from a config, with weights from ``ckpt_path`` if given.

    ``precision``: "fp32" (default, the official numbers), "bf16", "int8" or "auto" (bf16
    where the device computes it natively, else fp32); see :mod:`sam2.precision`.
    """
    overrides = _overrides_from_settings(IMAGE_POSTPROCESSING) if apply_postprocessing else []
    overrides += list(hydra_overrides_extra)
    return _instantiate(config_file, ckpt_path, device, mode, overrides, precision)


def build_sam2_video_predictor(
    config_file: str,
    ckpt_path: Optional[str] = None,
    device="cuda",
    mode: str = "eval",
    hydra_overrides_extra: Sequence[str] = (),
    apply_postprocessing: bool = True,
    vos_optimized: bool = False,
    precision: str = "fp32",
    **kwargs,
):
    """``SAM2VideoPredictor`` (a ``SAM2Base`` with the video API) from a config.

    ``precision``: as for :func:`build_sam2` ("fp32" by default).
    """
    target = VOS_PREDICTOR_TARGET if vos_optimized else VIDEO_PREDICTOR_TARGET
    overrides = [f"++model._target_={target}"]
    if vos_optimized:
        overrides.append("++model.compile_image_encoder=True")
    if apply_postprocessing:
        overrides += _overrides_from_settings(VIDEO_POSTPROCESSING)
    overrides += list(hydra_overrides_extra)
    return _instantiate(config_file, ckpt_path, device, mode, overrides, precision)


# ----------------------------------------------------------------------------- pretrained
def checkpoint_search_dirs() -> List[str]:
    dirs = []
    env = os.environ.get("SAM2_CHECKPOINT_DIR")
    if env:
        dirs.append(env)
    dirs.append(os.path.join(os.getcwd(), "checkpoints"))
    return dirs


def find_pretrained_checkpoint(model_id: str) -> Tuple[str, str]:
    """(config name, checkpoint path) for a Hugging Face model id.

    Looks in $SAM2_CHECKPOINT_DIR and ./checkpoints first; then tries the Hugging Face hub
    (when ``huggingface_hub`` is installed and the network answers).
    """
    if model_id not in HF_MODEL_ID_TO_FILENAMES:
        raise ValueError(f"unknown model id {model_id!r}; known: {', '.join(HF_MODEL_ID_TO_FILENAMES)}")
    config_name, file_name = HF_MODEL_ID_TO_FILENAMES[model_id]
    for folder in checkpoint_search_dirs():
        path = os.path.join(folder, file_name)
        if os.path.isfile(path):
            return config_name, path
    hub_error = "huggingface_hub is not installed"
    try:
        from huggingface_hub import hf_hub_download

        return config_name, hf_hub_download(repo_id=model_id, filename=file_name)
    except ImportError:
        pass
    except Exception as e:  # offline, hub refused, ...
        hub_error = f"download failed: {type(e).__name__}: {e}"
    places = " or ".join(checkpoint_search_dirs())
    raise FileNotFoundError(
        f"checkpoint {file_name!r} for {model_id!r} was not found in {places}, and fetching it "
        f"from the Hugging Face hub did not work ({hub_error}). Download {file_name} "
        "(e.g. `make checkpoints`) and put it in one of those folders, or set SAM2_CHECKPOINT_DIR."
    )


def build_sam2_hf(model_id: str, **kwargs):
    config_name, ckpt_path = find_pretrained_checkpoint(model_id)
    return build_sam2(config_file=config_name, ckpt_path=ckpt_path, **kwargs)


def build_sam2_video_predictor_hf(model_id: str, **kwargs):
    config_name, ckpt_path = find_pretrained_checkpoint(model_id)
    return build_sam2_video_predictor(config_file=config_name, ckpt_path=ckpt_path, **kwargs)
