"""Multi-head attention with a fused path (SDPA) and an explicit-softmax path that returns weights.

Shapes: ``B`` batch, ``H`` heads, ``Nq`` queries, ``Nk`` keys, ``d = C / H`` head width.
The parameter layout is timm/MAE's (``qkv`` = one ``Linear(C, 3C)`` ordered q, k, v; ``proj``),
so pretrained ViT blocks load without renaming.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from trackers.common.packed_linear import linear


def attention(
    q: Tensor, k: Tensor, v: Tensor, key_mask: Tensor | None = None, need_weights: bool = False
) -> tuple[Tensor, Tensor | None]:
    """Scaled dot-product attention ``softmax(q k^T / sqrt(d)) v``.

    Args:
        q: ``(B, H, Nq, d)``; k, v: ``(B, H, Nk, d)``.
        key_mask: optional ``(B, Nk)`` bool, True = the key may be attended. Every query must keep
            at least one key (HCTrack always keeps the template keys).
        need_weights: use the explicit path and also return the weights.
    Returns:
        ``(out (B, H, Nq, d), weights (B, H, Nq, Nk) or None)``.
    """
    mask = key_mask[:, None, None, :] if key_mask is not None else None  # (B, 1, 1, Nk)
    if not need_weights:
        return F.scaled_dot_product_attention(q, k, v, attn_mask=mask), None
    logits = (q * q.shape[-1] ** -0.5) @ k.transpose(-2, -1)            # (B, H, Nq, Nk)
    if mask is not None:
        logits = logits.masked_fill(~mask, float("-inf"))
    weights = logits.softmax(dim=-1)
    return weights @ v, weights


class Attention(nn.Module):
    """Multi-head attention whose queries come from ``x`` and whose keys/values are ``x`` plus
    optional precomputed extra keys/values (the template tokens of a CSA block).

    Args:
        dim: token width C.
        num_heads: H (C divisible by H).
        qkv_bias: bias on the q/k/v projection (ViT-B: True).

    At CPU inference ``qkv`` and ``proj`` may run packed (`trackers.common.packed_linear`).
    """

    packable_linears = ("qkv", "proj")

    def __init__(self, dim: int, num_heads: int, qkv_bias: bool = True) -> None:
        super().__init__()
        if dim % num_heads:
            raise ValueError(f"dim={dim} must be divisible by num_heads={num_heads}")
        self.dim, self.num_heads = dim, num_heads
        self.qkv = nn.Linear(dim, dim * 3, bias=qkv_bias)
        self.proj = nn.Linear(dim, dim)
        self.fused = True  # False: explicit-softmax path everywhere (reference for tests)

    def extra_repr(self) -> str:
        return f"dim={self.dim}, num_heads={self.num_heads}"

    def _heads(self, x: Tensor) -> Tensor:
        B, N, C = x.shape
        return x.reshape(B, N, self.num_heads, C // self.num_heads).transpose(1, 2)  # (B, H, N, d)

    def project_q(self, x: Tensor) -> Tensor:
        """Queries of tokens ``x (B, N, C)`` -> ``(B, H, N, d)`` (first third of ``qkv``)."""
        C = self.dim
        b = self.qkv.bias[:C] if self.qkv.bias is not None else None
        return self._heads(F.linear(x, self.qkv.weight[:C], b))

    def project_kv(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """Keys and values of tokens ``x (B, N, C)`` -> two ``(B, H, N, d)`` (last two thirds of ``qkv``)."""
        C = self.dim
        b = self.qkv.bias[C:] if self.qkv.bias is not None else None
        k, v = F.linear(x, self.qkv.weight[C:], b).chunk(2, dim=-1)
        return self._heads(k), self._heads(v)

    def forward(
        self,
        x: Tensor,
        extra_kv: tuple[Tensor, Tensor] | None = None,
        key_mask: Tensor | None = None,
        need_weights: bool = False,
    ) -> tuple[Tensor, Tensor, Tensor | None]:
        """Attend from ``x`` to ``[x ; extra]``.

        Args:
            x: ``(B, N, C)`` (already normalised).
            extra_kv: ``(k, v)``, each ``(B, H, Ne, d)``, appended after x's own keys/values.
            key_mask: ``(B, N + Ne)`` bool, True = attend.
            need_weights: explicit-softmax path; weights are returned.
        Returns:
            ``(out (B, N, C), keys_of_x (B, H, N, d), weights (B, H, N, N + Ne) or None)``; weights
            are also returned when ``self.fused`` is False.
        """
        B, N, C = x.shape
        q, k, v = linear(self.qkv, x).reshape(B, N, 3, self.num_heads, C // self.num_heads).permute(2, 0, 3, 1, 4)
        k_x = k                                                           # (B, H, N, d)
        if extra_kv is not None:
            k = torch.cat([k, extra_kv[0]], dim=2)
            v = torch.cat([v, extra_kv[1]], dim=2)
        out, weights = attention(q, k, v, key_mask, need_weights or not self.fused)
        out = out.transpose(1, 2).reshape(B, N, C)                        # (B, H, N, d) -> (B, N, C)
        return linear(self.proj, out), k_x, weights
