"""Long bf16 attention on a CPU runs as blocked GEMMs: the same attention as SDPA, to bf16's
precision, for every shape the tracker gives it (several objects, keys not a multiple of the
block, pointer tokens), and short or float32 attention is left to SDPA untouched."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from sam2.modeling.sam import transformer
from sam2.modeling.sam.transformer import BLOCKED_ATTENTION_MIN_KEYS, attend


def qkv(batch: int, queries: int, keys: int, width: int, dtype=torch.bfloat16):
    g = torch.Generator().manual_seed(queries + keys)
    return [torch.randn(batch, 1, n, width, generator=g).to(dtype) for n in (queries, keys, keys)]


@pytest.mark.parametrize("batch,queries,keys", [(1, 1100, BLOCKED_ATTENTION_MIN_KEYS), (3, 600, 2 * 4096 + 64)])
def test_blocked_bf16_attention_matches_float32_attention_as_closely_as_sdpa_does(batch, queries, keys):
    q, k, v = qkv(batch, queries, keys, 64)
    with torch.inference_mode():
        exact = F.scaled_dot_product_attention(q.float(), k.float(), v.float())
        blocked = attend(q, k, v)
        flash = F.scaled_dot_product_attention(q, k, v)
    assert blocked.dtype == torch.bfloat16 and blocked.shape == exact.shape
    blocked_error = (blocked.float() - exact).abs().max().item()
    flash_error = (flash.float() - exact).abs().max().item()
    assert blocked_error <= max(4 * flash_error, 1e-3), (blocked_error, flash_error)


def test_blocked_attention_is_used_only_for_long_bf16_inference(monkeypatch):
    calls = []
    blocked = transformer._attention_by_blocks
    monkeypatch.setattr(transformer, "_attention_by_blocks", lambda *a: calls.append(1) or blocked(*a))
    long_bf16 = qkv(1, 64, BLOCKED_ATTENTION_MIN_KEYS, 32)
    with torch.inference_mode():
        attend(*long_bf16)
        assert calls == [1]
        attend(*qkv(1, 64, BLOCKED_ATTENTION_MIN_KEYS - 1, 32))  # short: SDPA
        attend(*qkv(1, 64, BLOCKED_ATTENTION_MIN_KEYS, 32, dtype=torch.float32))  # fp32: SDPA (parity)
        attend(*long_bf16, dropout_p=0.1)  # training-time dropout: SDPA
    q, k, v = (t.requires_grad_() for t in long_bf16)
    attend(q, k, v).float().sum().backward()  # with autograd: SDPA
    assert calls == [1] and q.grad is not None
