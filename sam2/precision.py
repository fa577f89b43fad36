"""Numeric precision of the model's compute: fp32, bf16 (autocast), int8 (quantised linears).

``precision="auto" | "fp32" | "bf16" | "int8"`` is accepted by the builders and predictors;
:func:`set_precision` resolves it for the model's device and records it on the model
(``model.precision``); the predictors run their model calls inside :func:`compute_context`.

- ``fp32``: plain float32, the library default (the official API's numbers, the parity replays).
- ``bf16``: ``torch.autocast`` in bfloat16 around the model calls; weights stay float32 and
  the outputs the predictors return are float32 (memories are stored in bfloat16 anyway).
- ``int8``: the ``nn.Linear`` layers dynamically quantised to int8 (CPU only); the rest fp32.
- ``auto``: bf16 where the hardware computes it natively (CUDA with bf16; a CPU with AVX-512
  BF16, AMX or Arm BF16 instructions), else fp32.

The CPU check reads the instruction-set flags the kernel reports (/proc/cpuinfo), never the
model name, and asks torch whether its oneDNN backend runs bf16. ``SAM2_CPU_NO_BF16=1`` makes
a CPU count as one without bf16 (to see what such a machine would get).
"""

import contextlib
import logging
import os
import warnings
from typing import Iterable, Optional

import torch

logger = logging.getLogger(__name__)

PRECISIONS = ("auto", "fp32", "bf16", "int8")
NO_BF16_ENV = "SAM2_CPU_NO_BF16"

# Flags of native bf16 arithmetic, best first: Intel AMX, AVX-512 BF16 (Intel Cooper Lake and
# later, AMD Zen 4 and later), Arm's BF16 extension (listed as "bf16" in the Features line).
_CPU_BF16_FLAGS = ("amx_bf16", "avx512_bf16", "bf16")

_logged = set()


def cpu_flags(cpuinfo_path: str = "/proc/cpuinfo") -> frozenset:
    """The instruction-set flags of the first CPU (x86 ``flags``, Arm ``Features``); empty if unknown."""
    try:
        with open(cpuinfo_path) as f:
            for line in f:
                key, _, value = line.partition(":")
                if key.strip().lower() in ("flags", "features"):
                    return frozenset(value.split())
    except OSError:
        pass
    return frozenset()


def cpu_bf16_feature(flags: Optional[Iterable[str]] = None, env=None) -> Optional[str]:
    """The flag that shows this CPU computes bf16 natively (e.g. "avx512_bf16"), or None.

    None also when torch's oneDNN cannot run bf16 here, or when ``SAM2_CPU_NO_BF16`` is set.
    """
    env = os.environ if env is None else env
    if env.get(NO_BF16_ENV, "").strip().lower() in ("1", "true", "yes", "on"):
        return None
    flags = cpu_flags() if flags is None else frozenset(flags)
    found = next((f for f in _CPU_BF16_FLAGS if f in flags), None)
    if found is None:
        return None
    mkldnn = torch.backends.mkldnn
    if not mkldnn.is_available() or not torch.ops.mkldnn._is_mkldnn_bf16_supported():
        return None
    return found


def resolve_precision(precision: str, device) -> str:
    """``precision`` for a model on ``device``: "fp32", "bf16" or "int8" (never "auto")."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}; got {precision!r}")
    device = torch.device(device)
    if precision == "int8" and device.type != "cpu":
        raise ValueError(f"precision='int8' runs on the CPU only (quantised linears); device is {device}")
    if precision != "auto":
        return precision
    if device.type == "cuda":
        return "bf16" if torch.cuda.is_bf16_supported() else "fp32"
    if device.type == "cpu":
        return "bf16" if cpu_bf16_feature() else "fp32"
    return "fp32"


def describe(precision: str, device) -> str:
    """One line for logs and the demo, e.g. "CPU: bf16 (avx512_bf16)"."""
    device = torch.device(device)
    if device.type == "cpu":
        feature = cpu_bf16_feature()
        why = feature or "no native bf16"
        if precision == "int8":
            why = "dynamic int8 linears"
        return f"CPU: {precision} ({why})"
    return f"{device.type.upper()}: {precision}"


def set_precision(model: torch.nn.Module, precision: str = "fp32") -> str:
    """Resolve ``precision`` for the model's device, apply it, record it as ``model.precision``.

    int8 replaces the model's ``nn.Linear`` layers by dynamically quantised ones (in place,
    so it cannot be undone; its state_dict then holds packed weights, not official keys).
    Returns the resolved precision. Logged once per process and setting.
    """
    device = next(model.parameters()).device
    resolved = resolve_precision(precision, device)
    current = getattr(model, "precision", "fp32")
    if current == "int8" and resolved != "int8":
        raise ValueError("this model's linears are quantised to int8; build a new model for another precision")
    if resolved == "int8" and current != "int8":
        _quantize_linears(model)
    model.precision = resolved
    line = describe(resolved, device)
    if (precision, line) not in _logged:
        _logged.add((precision, line))
        logger.info("precision %s -> %s", precision, line)
    return resolved


def _quantize_linears(model: torch.nn.Module) -> None:
    from torch.ao.quantization import quantize_dynamic

    # Packed weights cannot be created from inference tensors; quantise outside inference mode.
    # torch.ao.quantization warns that it is deprecated (torchao succeeds it); it still works and
    # needs no extra package, so the warning is not repeated to every user.
    with torch.inference_mode(False), torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", UserWarning)
        quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8, inplace=True)


def compute_context(model: torch.nn.Module):
    """The context model calls run in: bf16 autocast for "bf16", else none (a caller's own
    autocast, if any, still applies: fp32 does not switch it off)."""
    if getattr(model, "precision", "fp32") != "bf16":
        return contextlib.nullcontext()
    device_type = next(model.parameters()).device.type
    return torch.autocast(device_type, dtype=torch.bfloat16)
