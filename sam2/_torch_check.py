"""One clear error when a torch-side entry point is imported in a torch-free install.

The base install (``pip install sam2``, or ``sam2[onnx]`` for onnxruntime) carries no torch: the
model builders, the torch predictors, the batch job and the ONNX exporter need the ``torch``
extra. Each of them imports torch in a ``try`` and raises :func:`torch_missing`'s error, so a
missing extra reads as one ImportError that says what to install, not as a ModuleNotFoundError
deep in an import.
"""

import importlib.util

# What the torch side imports beyond the base dependencies (pyproject's `torch` extra).
TORCH_SIDE_MODULES = ("torch", "hydra", "omegaconf", "tqdm")
INSTALL_HINT = 'pip install "sam2[torch]"'


def torch_missing(entry_point: str) -> ImportError:
    """The ImportError to raise when importing ``entry_point`` failed for want of the torch extra."""
    missing = [name for name in TORCH_SIDE_MODULES if importlib.util.find_spec(name) is None]
    return ImportError(
        f"{entry_point} needs PyTorch and its companions ({', '.join(missing) or 'torch'} not installed): "
        f'`{INSTALL_HINT}` (from a clone: `pip install ".[torch]"`). Without torch, sam2.onnx runs '
        "exported graphs on onnxruntime (docs/onnx.md).",
        name=missing[0] if missing else "torch",
    )
