"""bf16 inference on a CPU runs linear layers from packed bf16 weights (``sam2.modeling.linear_ops``):
the same bits as autocast's ``layer(x)`` without an activation, the activation fused to bf16's
precision, the packed copy following the layer's weights, and every other case left to the layer."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from sam2.modeling import linear_ops
from sam2.modeling.linear_ops import linear

pytestmark = pytest.mark.skipif(not linear_ops._ONEDNN, reason="this torch build has no oneDNN linear")


def layer_and_input(rows: int, width: int = 96, out: int = 384, lead: tuple = ()):
    torch.manual_seed(rows)
    return nn.Linear(width, out), torch.randn(*lead, rows, width)


@pytest.mark.parametrize("rows,lead", [(1, ()), (7, (2,)), (4096, ()), (300, (1, 3))])
def test_packed_linear_gives_autocast_bits(rows, lead):
    layer, x = layer_and_input(rows, lead=lead)
    with torch.inference_mode(), torch.autocast("cpu", torch.bfloat16):
        expected = layer(x)
        ours = linear(x, layer)
    assert ours.dtype == torch.bfloat16 and torch.equal(ours, expected)
    assert getattr(layer, "_onednn_bf16", None) is not None  # the packed path ran


@pytest.mark.parametrize("activation", [nn.GELU(), nn.ReLU(), F.relu, F.gelu])
def test_fused_activation_is_the_activation_to_bf16_precision(activation):
    layer, x = layer_and_input(2048)
    with torch.inference_mode():
        exact = activation(layer(x))  # float32
        with torch.autocast("cpu", torch.bfloat16):
            unfused = activation(layer(x))
            fused = linear(x, layer, activation)
    fused_error = (fused.float() - exact).abs().max().item()
    unfused_error = (unfused.float() - exact).abs().max().item()
    assert fused.dtype == torch.bfloat16 and fused_error <= unfused_error * 1.01


def test_an_activation_onednn_cannot_fuse_runs_after_the_layer():
    layer, x = layer_and_input(64)
    tanh_gelu = nn.GELU(approximate="tanh")
    with torch.inference_mode(), torch.autocast("cpu", torch.bfloat16):
        assert torch.equal(linear(x, layer, tanh_gelu), tanh_gelu(layer(x)))
        assert torch.equal(linear(x, layer, torch.sigmoid), torch.sigmoid(layer(x)))


def test_packed_weights_follow_the_layer_weights():
    layer, x = layer_and_input(64)
    with torch.inference_mode(), torch.autocast("cpu", torch.bfloat16):
        before = linear(x, layer)
    with torch.no_grad():
        layer.weight.mul_(-1)  # in place: same storage, new version
    with torch.inference_mode(), torch.autocast("cpu", torch.bfloat16):
        after = linear(x, layer)
        assert torch.equal(after, layer(x)) and not torch.equal(after, before)
    layer.load_state_dict({"weight": torch.zeros(384, 96), "bias": torch.ones(384)})
    with torch.inference_mode(), torch.autocast("cpu", torch.bfloat16):
        assert torch.equal(linear(x, layer), torch.ones(64, 384, dtype=torch.bfloat16))


@pytest.mark.filterwarnings("ignore::UserWarning")  # torch's deprecation of quantised tensors
def test_float32_training_and_quantised_layers_run_the_layer_itself():
    layer, x = layer_and_input(64)
    with torch.inference_mode():
        assert torch.equal(linear(x, layer, nn.ReLU()), F.relu(layer(x)))  # float32: untouched
    with torch.autocast("cpu", torch.bfloat16):  # gradients on: autocast's own path
        out = linear(x, layer, nn.GELU())
        out.float().sum().backward()
    assert layer.weight.grad is not None
    assert getattr(layer, "_onednn_bf16", None) is None
    quantised = torch.ao.nn.quantized.dynamic.Linear(96, 384)
    with torch.inference_mode(), torch.autocast("cpu", torch.bfloat16):
        assert torch.equal(linear(x, quantised), quantised(x))
