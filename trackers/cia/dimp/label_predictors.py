"""DiMP's distance-binned label, target-mask and spatial-weight predictors, and LeakyReluPar.

The optimizer's per-pixel regression target ``y``, mask ``m`` and weight ``v`` are learned
functions of the distance ``d`` (in score cells) from the target centre: ``d`` is encoded into
triangular bins of width `bin_displacement`, and a 1x1 convolution (no bias) over the bins gives
the value. Initial weights (DiMP): ``y(d) = exp(-d^2 / (2 sigma^2)) - min``, ``m(d) =
sigmoid(3 tanh(2 - d))``, ``v(d) = 1``.
"""
from __future__ import annotations

import torch
from torch import Tensor, nn


def distance_bins(center_yx: Tensor, output_size: tuple[int, int], num_bins: int, bin_displacement: float) -> Tensor:
    """Encode each score cell's distance to the centre into triangular bins.

    Bin ``k < num_bins - 1`` is ``relu(1 - |d / bin_displacement - k|)``; the last bin
    ``clamp(1 + d / bin_displacement - (num_bins - 1), 0, 1)`` saturates for all larger distances.

    Args:
        center_yx: (..., 2) centre in score-cell coordinates (row, column).
        output_size: (Ho, Wo).
    Returns:
        (..., num_bins, Ho, Wo).
    """
    ho, wo = output_size
    r = torch.arange(ho, dtype=center_yx.dtype, device=center_yx.device)
    c = torch.arange(wo, dtype=center_yx.dtype, device=center_yx.device)
    dy = r - center_yx[..., 0:1]                                              # (..., Ho)
    dx = c - center_yx[..., 1:2]                                              # (..., Wo)
    d = torch.sqrt(dy[..., :, None] ** 2 + dx[..., None, :] ** 2)             # (..., Ho, Wo)
    bin_pos = d[..., None, :, :] / bin_displacement                           # (..., 1, Ho, Wo)
    k = torch.arange(num_bins, dtype=d.dtype, device=d.device).reshape(num_bins, 1, 1)
    tri = torch.relu(1.0 - (bin_pos - k).abs())
    last = (1.0 + bin_pos - (num_bins - 1)).clamp(0.0, 1.0)
    return torch.cat([tri[..., :-1, :, :], last], dim=-3)


class BinPredictor(nn.Module):
    """A 1x1 conv (no bias) from distance bins to one map, with DiMP's initial profile."""

    def __init__(self, num_bins: int, bin_displacement: float, init: str, init_sigma: float = 1.0,
                 mask_init_factor: float = 3.0) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.empty(1, num_bins, 1, 1))
        d = torch.arange(num_bins, dtype=torch.float32) * bin_displacement
        if init == "label":
            g = torch.exp(-0.5 * (d / init_sigma) ** 2)
            w = g - g.min()
        elif init == "mask":
            w = mask_init_factor * torch.tanh(2.0 - d)
        elif init == "ones":
            w = torch.ones_like(d)
        else:
            raise ValueError(f"init={init!r} must be 'label', 'mask' or 'ones'")
        with torch.no_grad():
            self.weight.copy_(w.reshape(1, num_bins, 1, 1))
        self.init = init

    def forward(self, bins: Tensor) -> Tensor:
        """(..., num_bins, Ho, Wo) -> (..., Ho, Wo)."""
        return (bins * self.weight[0]).sum(dim=-3)

    def extra_repr(self) -> str:
        return f"num_bins={self.weight.shape[1]}, init={self.init!r}"


def leaky_relu_par(x: Tensor, m: Tensor) -> Tensor:
    """DiMP's parametric activation ``((1 - m) / 2) |x| + ((1 + m) / 2) x``.

    ``m = 1`` is the identity, ``m = 0`` gives ``max(x, 0)``-like hinge on negatives.
    """
    return 0.5 * (1.0 - m) * x.abs() + 0.5 * (1.0 + m) * x


def leaky_relu_par_deriv(x: Tensor, m: Tensor) -> Tensor:
    """Derivative of `leaky_relu_par` w.r.t. ``x``: ``((1 - m) / 2) sign(x) + (1 + m) / 2``."""
    return 0.5 * (1.0 - m) * torch.sign(x) + 0.5 * (1.0 + m)


def initial_label_sigma(output_sigma_factor: float, search_factor: float, feat_size: int) -> float:
    """Label sigma in cells: ``output_sigma_factor / search_factor * feat_size`` (DiMP18: 0.9)."""
    return output_sigma_factor / search_factor * feat_size

