"""Training configs: Hydra-composed YAMLs from training/configs (or any path) plus overrides."""

import os
import threading
from typing import Sequence

from hydra import compose, initialize_config_dir
from omegaconf import DictConfig, OmegaConf

CONFIG_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "configs")
_LOCK = threading.Lock()


def resolve_train_config(name: str) -> str:
    """A config name from training/configs ("micro") or a path to a YAML file."""
    for path in (name, os.path.join(CONFIG_DIR, name), os.path.join(CONFIG_DIR, name + ".yaml")):
        if os.path.isfile(path):
            return os.path.abspath(path)
    known = sorted(f[:-5] for f in os.listdir(CONFIG_DIR) if f.endswith(".yaml"))
    raise FileNotFoundError(f"training config {name!r} not found; give a YAML path or one of {known}")


def load_train_config(name: str, overrides: Sequence[str] = ()) -> DictConfig:
    """Compose a training config; overrides are Hydra's ``key=value`` (``+key=value`` to add)."""
    path = resolve_train_config(name)
    folder, file = os.path.split(path)
    with _LOCK, initialize_config_dir(config_dir=folder, version_base="1.2"):
        # A config outside training/configs can still say `defaults: [base]`.
        cfg = compose(config_name=file[: -len(".yaml")], overrides=list(overrides)) if folder == CONFIG_DIR else None
    if cfg is None:
        with _LOCK, initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.2"):
            base = compose(config_name="base")
        user = OmegaConf.load(path)
        user.pop("defaults", None)
        cfg = OmegaConf.merge(base, user, OmegaConf.from_dotlist([o.lstrip("+") for o in overrides]))
    missing = OmegaConf.missing_keys(cfg)
    if missing:
        raise ValueError(f"training config {name!r} leaves required values unset: {sorted(missing)} "
                         "(set them with key=value on the command line)")
    return cfg
