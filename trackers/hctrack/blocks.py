"""The two encoder blocks of HFEI: semantic self-association (SSA) and cross-layer semantic association (CSA).

Both are pre-norm ViT blocks with the timm/MAE parameter names (``norm1, attn.qkv, attn.proj,
norm2, mlp.fc1, mlp.fc2``), so MAE layers initialise either kind::

    SSA:  x = x + DropPath(MHSA(LN1(x)));               x = x + DropPath(MLP(LN2(x)))
    CSA:  s = s + DropPath(MHCA(LN1(s), LN1([t...])));  s = s + DropPath(MLP(LN2(s)))

MHCA (Fig. 3): query = s, keys/values = concat[s ; template tokens chosen by the association
mode]. The template tokens go through the block's own ``LN1`` and k/v projections, exactly like
the search tokens; `CSABlock.template_kv` computes them once so the tracker can cache them.
"""
from __future__ import annotations

from torch import Tensor, nn
from torchvision.ops import stochastic_depth

from trackers.common.packed_linear import linear
from trackers.hctrack.attention import Attention


class Mlp(nn.Module):
    """``fc1 -> GELU -> fc2`` on ``(B, N, C)`` tokens, hidden width ``mlp_ratio * C``.

    At CPU inference the two linears may run packed, GELU fused into fc1 (`trackers.common.packed_linear`).
    """

    packable_linears = ("fc1", "fc2")

    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x: Tensor) -> Tensor:
        return linear(self.fc2, linear(self.fc1, x, self.act))


class SSABlock(nn.Module):
    """Semantic self-association: multi-head self-attention + skip + MLP (a ViT block).

    Args:
        dim: token width C.
        num_heads: attention heads.
        mlp_ratio: MLP hidden width / C.
        qkv_bias: bias in the q/k/v projection.
        drop_path: stochastic-depth probability of both residual branches ("row" mode).
        eps: LayerNorm epsilon (1e-6 as timm ViT / MAE).
    """

    def __init__(
        self, dim: int, num_heads: int, mlp_ratio: float = 4.0, qkv_bias: bool = True,
        drop_path: float = 0.0, eps: float = 1e-6,
    ) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=eps)
        self.attn = Attention(dim, num_heads, qkv_bias)
        self.norm2 = nn.LayerNorm(dim, eps=eps)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))
        self.drop_path = drop_path

    def extra_repr(self) -> str:
        return f"drop_path={self.drop_path}"

    def _dp(self, x: Tensor) -> Tensor:
        return stochastic_depth(x, self.drop_path, "row", self.training) if self.drop_path > 0 else x

    def forward(self, x: Tensor) -> Tensor:
        """``(B, N, C) -> (B, N, C)``."""
        x = x + self._dp(self.attn(self.norm1(x))[0])
        return x + self._dp(self.mlp(self.norm2(x)))


class CSABlock(SSABlock):
    """Cross-layer semantic association: search queries attend to ``[search ; templates]``."""

    def template_kv(self, templates: Tensor) -> tuple[Tensor, Tensor]:
        """Keys/values of the template tokens ``(B, Nt, C)`` -> two ``(B, H, Nt, d)`` (cacheable)."""
        return self.attn.project_kv(self.norm1(templates))

    def template_q(self, templates: Tensor) -> Tensor:
        """Queries of template tokens ``(B, Nc, C)`` -> ``(B, H, Nc, d)`` (RIP energy)."""
        return self.attn.project_q(self.norm1(templates))

    def forward(
        self,
        s: Tensor,
        template_kv: tuple[Tensor, Tensor],
        key_mask: Tensor | None = None,
        need_weights: bool = False,
    ) -> tuple[Tensor, Tensor, Tensor | None]:
        """One CSA layer.

        Args:
            s: search tokens ``(B, Ns, C)``.
            template_kv: from `template_kv`, each ``(B, H, Nt, d)``.
            key_mask: ``(B, Ns + Nt)`` bool, True = attend (pruned search tokens are False).
            need_weights: explicit-softmax attention, weights returned.
        Returns:
            ``(s_out (B, Ns, C), search_keys (B, H, Ns, d), weights (B, H, Ns, Ns + Nt) or None)``.
        """
        out, k_s, weights = self.attn(self.norm1(s), template_kv, key_mask, need_weights)
        s = s + self._dp(out)
        s = s + self._dp(self.mlp(self.norm2(s)))
        return s, k_s, weights
