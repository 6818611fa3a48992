"""Redundant information pruning (RIP, Sec. 3.4, Eq. 1-2).

Energy. For the CSA block of the RIP layer ``l``, the queries of the *central* template tokens (the
target region of T and DT: the middle ``c x c`` window of each template grid, ``c = grid /
template_factor``, i.e. 4x4 of 8x8 for a 2x crop) attend to the block's search keys with a softmax
over the search tokens only; ``e_i`` is that attention weight averaged over heads and over the
central tokens. Queries and keys come from the block's own ``LN1`` and q/k projections, applied to
its inputs: the search keys of ``s_{l-1}`` (exactly the keys its MHCA uses) and the template at the
same depth (level ``l - 1``). So ``sum_i e_i = 1`` per sample and no parameter is added (the
criterion is OSTrack's candidate-elimination score, template-centre -> search; the selection rule is
the paper's adaptive energy rule instead of a fixed keep ratio).

Pruning (Eq. 1-2). ``theta = sum_i e_i``; sort descending; keep the smallest ``m`` such that the
top-``m`` energies sum to at least ``rho * theta``. ``m`` differs per sample, so the result is a
``(B, Ns)`` keep mask (no loop over samples): pruned tokens are excluded from the keys of any later
CSA layer and zero-filled in the output map that the head sees. The selection is a hard,
non-differentiable mask (gradients flow through the kept tokens), applied in training and inference.
"""
from __future__ import annotations

import torch
from torch import Tensor, nn


def template_centre_indices(grid: int, side: int, num_templates: int = 2) -> Tensor:
    """Token indices of the central ``side x side`` window of each template in ``[T ; DT]``.

    Each template is a row-major ``grid x grid`` block of tokens; the window starts at
    ``(grid - side) // 2``. E.g. grid 8, side 4: rows/cols 2..5 of each template.

    Returns:
        ``(num_templates * side * side,)`` int64.
    """
    if not 0 < side <= grid:
        raise ValueError(f"centre window side {side} must be in [1, grid={grid}]")
    start = (grid - side) // 2
    r = torch.arange(start, start + side)
    one = (r[:, None] * grid + r[None, :]).reshape(-1)                   # (side*side,)
    return torch.cat([one + t * grid * grid for t in range(num_templates)])


def rip_energy(q_centre: Tensor, k_search: Tensor) -> Tensor:
    """Energy of each search token.

    Args:
        q_centre: ``(B, H, Nc, d)`` queries of the central template tokens.
        k_search: ``(B, H, Ns, d)`` keys of the search tokens.
    Returns:
        ``(B, Ns)``, non-negative, each row sums to 1: ``mean_{h, c} softmax_s(q_hc . k_hs / sqrt(d))``.
    """
    logits = (q_centre * q_centre.shape[-1] ** -0.5) @ k_search.transpose(-2, -1)  # (B, H, Nc, Ns)
    return logits.float().softmax(dim=-1).mean(dim=(1, 2))


def rip_keep_mask(energy: Tensor, ratio: float) -> Tensor:
    """Eq. 1-2: keep the fewest highest-energy tokens holding at least ``ratio`` of the total.

    Args:
        energy: ``(B, Ns)`` non-negative energies.
        ratio: rho in (0, 1].
    Returns:
        ``(B, Ns)`` bool keep mask; every row keeps at least one token. Ties are broken by token
        order (stable sort).
    """
    B, Ns = energy.shape
    sorted_e, order = energy.sort(dim=1, descending=True, stable=True)   # (B, Ns)
    cum = sorted_e.cumsum(dim=1)
    theta = cum[:, -1:]                                                  # Eq. 1, (B, 1)
    m = ((cum < ratio * theta).sum(dim=1, keepdim=True) + 1).clamp(max=Ns)  # Eq. 2: smallest m
    keep_sorted = torch.arange(Ns, device=energy.device)[None, :] < m    # (B, Ns) in sorted order
    return torch.zeros_like(keep_sorted).scatter(1, order, keep_sorted)


class RIP(nn.Module):
    """Holds rho and the template-centre token indices; turns (template queries, search keys) into a keep mask.

    Args:
        ratio: energy retention rho.
        template_grid: tokens per template side.
        centre: side of the central window.
    """

    def __init__(self, ratio: float, template_grid: int, centre: int) -> None:
        super().__init__()
        self.ratio, self.template_grid, self.centre = ratio, template_grid, centre
        self.register_buffer("centre_index", template_centre_indices(template_grid, centre), persistent=False)

    def extra_repr(self) -> str:
        return f"ratio={self.ratio}, template_grid={self.template_grid}, centre={self.centre}"

    def centre_tokens(self, templates: Tensor) -> Tensor:
        """``[T ; DT]`` tokens ``(B, 2 Nz, C)`` -> central tokens ``(B, Nc, C)``."""
        return templates[:, self.centre_index]

    def forward(self, q_centre: Tensor, k_search: Tensor) -> tuple[Tensor, Tensor]:
        """``(keep (B, Ns) bool, energy (B, Ns))``."""
        energy = rip_energy(q_centre, k_search)
        return rip_keep_mask(energy, self.ratio), energy
