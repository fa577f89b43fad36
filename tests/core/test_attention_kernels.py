"""bf16 attention on a CPU runs as GEMMs over blocks of queries (``sam2.modeling.attention_ops``):
the same attention as SDPA, to bf16's precision, for every shape the model gives it (several
objects, heads, windows, keys not a multiple of the block, values narrower than the keys), and
float32 or training attention is left to SDPA untouched. Memory attention's narrow values are
averaged before their projection, and give the same result as projecting them first."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from sam2.modeling import attention_ops
from sam2.modeling.attention_ops import attend
from sam2.modeling.sam.transformer import Attention, RoPEAttention


def qkv(batch: int, heads: int, queries: int, keys: int, width: int, v_width: int | None = None, dtype=torch.bfloat16):
    g = torch.Generator().manual_seed(queries + keys + heads)
    shapes = [(queries, width), (keys, width), (keys, v_width or width)]
    return [torch.randn(batch, heads, n, c, generator=g).to(dtype) for n, c in shapes]


@pytest.mark.parametrize(
    "batch,heads,queries,keys,width,v_width",
    [
        (1, 1, 1100, 8256, 64, None),  # queries not a multiple of the block
        (3, 1, 600, 2 * 4096 + 64, 64, 16),  # several objects, narrow values
        (256, 2, 16, 16, 32, None),  # Hiera's windows: many short rows, grouped
        (1, 4, 700, 700, 24, None),  # heads
    ],
)
def test_bf16_attention_by_gemms_matches_float32_attention_as_closely_as_sdpa(batch, heads, queries, keys, width, v_width):
    q, k, v = qkv(batch, heads, queries, keys, width, v_width)
    with torch.inference_mode():
        exact = F.scaled_dot_product_attention(q.float(), k.float(), v.float())
        ours = attend(q, k, v)
        flash = F.scaled_dot_product_attention(q, k, v)
    assert ours.dtype == torch.bfloat16 and ours.shape == exact.shape
    our_error = (ours.float() - exact).abs().max().item()
    flash_error = (flash.float() - exact).abs().max().item()
    # The GEMMs round the scores to bf16 before the softmax (the fused kernel keeps them in
    # float32): a few times the fused kernel's error, where a wrong block would be off by ~1.
    assert our_error <= max(6 * flash_error, 1e-2), (our_error, flash_error)


def test_blocks_bound_the_scores_memory(monkeypatch):
    """Many keys: the queries go in blocks whose scores stay under the cap."""
    monkeypatch.setattr(attention_ops, "_MAX_BLOCK_SCORES", 64 * 1000)
    seen = []
    real_softmax = torch.softmax
    monkeypatch.setattr(
        torch, "softmax", lambda x, dim, out: seen.append(x.numel()) or real_softmax(x, dim=dim, out=out)
    )
    q, k, v = qkv(2, 1, 300, 1000, 16)
    with torch.inference_mode():
        ours = attend(q, k, v)
        exact = F.scaled_dot_product_attention(q.float(), k.float(), v.float())
    assert len(seen) > 2 and max(seen) <= 64 * 1000
    assert sum(seen) == 2 * 300 * 1000  # every score once, the last block of each object a short one
    assert (ours.float() - exact).abs().max().item() < 0.05


def test_gemms_are_used_only_for_bf16_inference_on_the_cpu(monkeypatch):
    calls = []
    by_gemms = attention_ops._attention_by_gemms
    monkeypatch.setattr(attention_ops, "_attention_by_gemms", lambda *a: calls.append(1) or by_gemms(*a))
    bf16 = qkv(1, 1, 64, 128, 32)
    with torch.inference_mode():
        attend(*bf16)
        assert calls == [1]
        attend(*qkv(1, 1, 64, 128, 32, dtype=torch.float32))  # fp32: SDPA (parity)
        attend(*bf16, dropout_p=0.1)  # training-time dropout: SDPA
    q, k, v = (t.requires_grad_() for t in bf16)
    attend(q, k, v).float().sum().backward()  # with autograd: SDPA
    assert calls == [1] and q.grad is not None


@pytest.mark.parametrize("cls,heads", [(RoPEAttention, 1), (Attention, 2)])
def test_narrow_values_are_averaged_before_their_projection(monkeypatch, cls, heads):
    """kv_in_dim 16 < head width 32: under bf16 the raw values are averaged, then projected by
    each head's slice of v_proj; the result matches float32 attention with projected values."""
    torch.manual_seed(0)
    extra = {"rope_k_repeat": True, "feat_sizes": (4, 4)} if cls is RoPEAttention else {}
    attn = cls(32 * heads, heads, kv_in_dim=16, **extra).eval()
    used = []
    raw = Attention._attend_raw_values
    monkeypatch.setattr(Attention, "_attend_raw_values", lambda self, *a: used.append(1) or raw(self, *a))
    q, k, v = torch.randn(2, 16, 32 * heads), torch.randn(2, 3 * 16, 16), torch.randn(2, 3 * 16, 16)
    with torch.inference_mode():
        exact = attn(q, k, v)
        assert used == []  # float32: the official order of operations
        with torch.autocast("cpu", torch.bfloat16):
            ours = attn(q, k, v)
    assert used == [1]
    assert (ours.float() - exact).abs().max().item() < 0.05 * exact.abs().max().item()


def test_groups_of_short_rows_give_the_bits_of_one_block(monkeypatch):
    """Short rows (Hiera's windows) go several batch x heads at a time; a last, smaller group reuses
    the same buffers and every block gives the bits it gives on its own."""
    q, k, v = qkv(4, 2, 16, 16, 32)
    with torch.inference_mode():
        whole = attend(q, k, v)
        monkeypatch.setattr(attention_ops, "_MAX_BLOCK_SCORES", 3 * 16 * 16)  # groups of 3 of the 8
        grouped = attend(q, k, v)
    assert torch.equal(grouped, whole)
