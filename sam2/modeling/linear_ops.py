"""Linear layers as the model computes them: ``linear(x, layer, activation)``.

Everywhere but one case this is ``layer(x)``, then the activation. The exception is bf16
inference on a CPU, where attention also runs as GEMMs (``attention_ops``): there oneDNN runs
the layer from a bf16 copy of its weight, packed once into oneDNN's own layout, and applies the
bias and a following ReLU or exact GELU in the GEMM's output stage. Under autocast, by contrast,
each call casts the weight, copies the bias into the output before the GEMM, and the activation
then reads and writes the output once more. Measured on a 2-core AMD EPYC with AVX-512 BF16, the
tiny image encoder at 1024 px: 1.25-1.28 s -> 1.15-1.17 s.

Without an activation the output has the same bits as autocast's ``layer(x)``. A fused activation
works on the float32 accumulators before the rounding to bf16 instead of after it. The packed
copy costs 2 bytes per weight and follows the layer's weights (it is packed again if they
change).
"""

from typing import Callable, Optional, Union

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from sam2.modeling.attention_ops import attends_by_gemms

Activation = Union[nn.Module, Callable[[Tensor], Tensor], None]

_ONEDNN = all(hasattr(torch.ops.mkldnn, op) for op in ("_linear_pointwise", "_reorder_linear_weight"))


def linear(x: Tensor, layer: nn.Linear, activation: Activation = None) -> Tensor:
    """``activation(layer(x))`` (or ``layer(x)`` when activation is None)."""
    if _runs_packed(x, layer):
        fused = _fused_name(activation)
        out = _packed_linear(x, layer, fused or "none")
        return out if fused is not None or activation is None else activation(out)
    out = layer(x)
    return out if activation is None else activation(out)


def _runs_packed(x: Tensor, layer: nn.Module) -> bool:
    dtype = torch.get_autocast_dtype("cpu") if torch.is_autocast_enabled("cpu") else x.dtype
    return (
        _ONEDNN
        and type(layer) is nn.Linear  # not int8 (quantised) layers
        and attends_by_gemms(dtype, x.device)
        and not torch.compiler.is_compiling()
    )


def _fused_name(activation: Activation) -> Optional[str]:
    """oneDNN's name for an activation it can apply in the GEMM, or None."""
    if activation is F.relu or isinstance(activation, nn.ReLU):
        return "relu"
    if activation is F.gelu or (isinstance(activation, nn.GELU) and activation.approximate == "none"):
        return "gelu"
    return None


def _packed_linear(x: Tensor, layer: nn.Linear, fused: str) -> Tensor:
    weight, bias = _packed_weights(layer, x.numel() // x.shape[-1])
    # oneDNN spells exact GELU's algorithm "none"; the other activations take none.
    algorithm = "none" if fused == "gelu" else ""
    return torch.ops.mkldnn._linear_pointwise(x.to(torch.bfloat16), weight, bias, fused, [], algorithm)


def _packed_weights(layer: nn.Linear, rows: int) -> tuple[Tensor, Optional[Tensor]]:
    """The layer's bf16 weight in oneDNN's layout and bf16 bias, packed once per weight version."""
    params = [p for p in (layer.weight, layer.bias) if p is not None]
    key = tuple((p.data_ptr(), p._version, p.device) for p in params)
    cached = getattr(layer, "_onednn_bf16", None)
    if cached is None or cached[0] != key:
        # Packed outside inference mode, so the copies are ordinary tensors whatever the caller's mode.
        with torch.inference_mode(False), torch.no_grad():
            weight = torch.ops.mkldnn._reorder_linear_weight(layer.weight.detach().to(torch.bfloat16), rows)
            bias = None if layer.bias is None else layer.bias.detach().to(torch.bfloat16)
        cached = (key, weight, bias)
        layer._onednn_bf16 = cached
    return cached[1], cached[2]
