"""Scaled dot-product attention as the model computes it: ``attend``.

Everywhere but one case this is ``torch.nn.functional.scaled_dot_product_attention``. The
exception is bf16 inference on a CPU, where torch's fused CPU kernel computes bf16 at about its
float32 rate while oneDNN's bf16 GEMMs use the CPU's bf16 units. There attention runs as two
GEMMs with a softmax between them, over blocks of queries so that the scores stay small.
Measured per call on a 2-core AMD EPYC with AVX-512 BF16 (median of 3-5, other jobs on the
machine at a lower priority), GEMMs against the fused kernel:

- memory cross-attention, 4096 queries x 16,448 keys (4 memories), values of 64 channels:
  234 ms against 480 ms for the fused kernel with the projected 256-channel values;
- memory self-attention, 4096 x 4096, width 256: 65 ms against 98 ms;
- Hiera's global attention, 4 heads x 4096 x 4096, width 96: 131-155 ms against 166 ms;
- Hiera's windows (1024 windows of 64 tokens, width 96): 9 ms against 19 ms.
"""

import torch
import torch.nn.functional as F
from torch import Tensor

# Scores of one block are at most this many elements (32 MB in bf16), and a block has at most
# _MAX_BLOCK_ROWS queries: larger GEMMs run faster, larger blocks no longer did.
_MAX_BLOCK_SCORES = 1 << 24
_MAX_BLOCK_ROWS = 512


def attends_by_gemms(dtype: torch.dtype, device: torch.device) -> bool:
    """Whether inference attention on ``device`` in ``dtype`` runs as GEMMs (``attend``)."""
    return dtype == torch.bfloat16 and device.type == "cpu" and not torch.is_grad_enabled()


def attend(q: Tensor, k: Tensor, v: Tensor, dropout_p: float = 0.0) -> Tensor:
    """Softmax attention of q (B, H, Nq, C) over k (B, H, Nk, C) and v (B, H, Nk, Cv), scale
    1/sqrt(C); returns (B, H, Nq, Cv)."""
    if dropout_p == 0.0 and attends_by_gemms(q.dtype, q.device):
        return _attention_by_gemms(q, k, v)
    return F.scaled_dot_product_attention(q, k, v, dropout_p=dropout_p)


def _attention_by_gemms(q: Tensor, k: Tensor, v: Tensor) -> Tensor:
    """``attend`` as ``softmax(q k^T / sqrt(C)) v``, a block of queries (and of batch x heads,
    when rows are short) at a time. Softmax reads bf16 scores and accumulates in float32."""
    *lead, num_q, width = q.shape
    num_k = k.shape[-2]
    with torch.autocast("cpu", enabled=False):  # the dtypes here are chosen, not cast
        # Contiguous rows once here: the GEMMs would copy strided operands (Hiera's heads are
        # interleaved in memory) at every block.
        q = (q * width**-0.5).reshape(-1, num_q, width).contiguous()
        k_t = k.expand(*lead, num_k, width).reshape(-1, num_k, width).contiguous().transpose(1, 2)
        v = v.expand(*lead, num_k, v.shape[-1]).reshape(-1, num_k, v.shape[-1]).contiguous()
        out = torch.empty(q.shape[0], num_q, v.shape[-1], dtype=q.dtype, device=q.device)
        rows = min(num_q, _MAX_BLOCK_ROWS, max(64, _MAX_BLOCK_SCORES // max(num_k, 1)))
        groups = max(1, _MAX_BLOCK_SCORES // (rows * max(num_k, 1))) if rows == num_q else 1
        groups = min(groups, q.shape[0])
        # One scores and one weights buffer for every block of the call: a fresh pair per block
        # came from fresh pages each time (glibc hands back large blocks to the system), which
        # cost more than the softmax itself.
        scores = torch.empty(groups, rows, num_k, dtype=q.dtype, device=q.device)
        weights = torch.empty_like(scores)
        for g in range(0, q.shape[0], groups):
            g_end = min(g + groups, q.shape[0])
            for start in range(0, num_q, rows):
                stop = min(start + rows, num_q)
                block_scores = scores[: g_end - g, : stop - start]
                block_weights = weights[: g_end - g, : stop - start]
                torch.bmm(q[g:g_end, start:stop], k_t[g:g_end], out=block_scores)
                torch.softmax(block_scores, dim=-1, out=block_weights)
                torch.bmm(block_weights, v[g:g_end], out=out[g:g_end, start:stop])
    return out.reshape(*lead, num_q, out.shape[-1])
