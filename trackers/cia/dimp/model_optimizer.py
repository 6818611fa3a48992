"""DiMP's model optimizer: unrolled Gauss-Newton steepest descent with a learned step length.

Objective for one sequence's filter ``f`` over its N training frames (DiMP Eq. 1-3)::

    L(f) = 1/2 sum_n || v_n * (act(x_n * f, m_n) - y_n) ||^2  +  lambda / 2 ||f||^2

with ``act`` = `leaky_relu_par`, label ``y``, mask ``m`` and spatial weight ``v`` predicted from the
distance to the target centre (`label_predictors`), ``lambda = max(filter_reg, min_reg)^2`` and
``v_n`` including the sample weight ``sqrt(w_n)`` (``sqrt(1/N)`` in training). Each step::

    r  = sw * (act(s) - y),          s = x * f
    g  = X^T (act'(s) * sw * r) + lambda f
    a  = ||g||^2 / max(||sw * act'(s) * (X g)||^2 + lambda ||g||^2, 1e-8)
    f <- f - exp(log_step_length) * a * g

(the exact line-search step of the Gauss-Newton quadratic along ``-g``, scaled by a learned
factor). All B sequences are optimised at once; ``||.||`` sums within each sequence.
"""
from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from trackers.cia.dimp.filter_ops import apply_feat_transpose, apply_filter
from trackers.cia.dimp.label_predictors import BinPredictor, distance_bins, leaky_relu_par, leaky_relu_par_deriv


def steepest_descent_step(filt: Tensor, feat: Tensor, label: Tensor, mask: Tensor, sample_weight: Tensor,
                          reg: Tensor, step_factor: Tensor) -> tuple[Tensor, Tensor]:
    """One Gauss-Newton steepest-descent step (the formulas of the module docstring).

    Args:
        filt: (B, C, fh, fw) current filter.
        feat: (N, B, C, H, W) training features.
        label, mask, sample_weight: (N, B, Ho, Wo) target ``y``, activation mask ``m`` and weight ``sw``.
        reg: scalar ``lambda``; step_factor: scalar ``exp(log_step_length)``.
    Returns:
        (new filter (B, C, fh, fw), loss before the step (B,) = ``||r||^2 + lambda ||f||^2``).
    """
    fsz = filt.shape[-2:]
    scores = apply_filter(feat, filt)                                          # (N, B, Ho, Wo)
    scores_act = leaky_relu_par(scores, mask)
    score_deriv = leaky_relu_par_deriv(scores, mask)
    residual = sample_weight * (scores_act - label)
    loss = (residual ** 2).sum(dim=(0, 2, 3)) + reg * (filt ** 2).sum(dim=(1, 2, 3))
    grad = apply_feat_transpose(feat, score_deriv * sample_weight * residual, fsz) + reg * filt
    scores_grad = sample_weight * score_deriv * apply_filter(feat, grad)       # (N, B, Ho, Wo)
    alpha_num = (grad ** 2).sum(dim=(1, 2, 3))                                 # (B,)
    alpha_den = ((scores_grad ** 2).sum(dim=(0, 2, 3)) + reg * alpha_num).clamp(min=1e-8)
    alpha = alpha_num / alpha_den
    return filt - step_factor * alpha.reshape(-1, 1, 1, 1) * grad, loss


class ModelOptimizer(nn.Module):
    """DiMP's steepest-descent filter optimizer (``DiMPSteepestDescentGN`` in pytracking).

    Args:
        num_iter: default number of steps.
        feature_stride: image pixels per feature cell (16).
        init_step_length: initial ``exp(log_step_length)`` (0.9).
        init_filter_reg: initial ``filter_reg`` (0.1); ``lambda = max(filter_reg, min_filter_reg)^2``.
        min_filter_reg: lower bound of ``filter_reg`` (1e-3).
        num_dist_bins, bin_displacement: distance encoding (100 bins of 0.1 cells).
        init_gauss_sigma: sigma (cells) of the initial label profile (DiMP18: 0.9).
        mask_init_factor: initial mask profile ``factor * tanh(2 - d)`` (3.0).
    """

    def __init__(self, num_iter: int = 5, feature_stride: int = 16, init_step_length: float = 0.9,
                 init_filter_reg: float = 0.1, min_filter_reg: float = 1e-3, num_dist_bins: int = 100,
                 bin_displacement: float = 0.1, init_gauss_sigma: float = 0.9, mask_init_factor: float = 3.0) -> None:
        super().__init__()
        self.num_iter = num_iter
        self.feature_stride = feature_stride
        self.min_filter_reg = min_filter_reg
        self.num_dist_bins = num_dist_bins
        self.bin_displacement = bin_displacement
        self.log_step_length = nn.Parameter(torch.tensor([math.log(init_step_length)]))
        self.filter_reg = nn.Parameter(torch.tensor([init_filter_reg]))
        self.label_predictor = BinPredictor(num_dist_bins, bin_displacement, "label", init_sigma=init_gauss_sigma)
        self.mask_predictor = BinPredictor(num_dist_bins, bin_displacement, "mask", mask_init_factor=mask_init_factor)
        self.weight_predictor = BinPredictor(num_dist_bins, bin_displacement, "ones")

    def targets(self, boxes_xywh: Tensor, filter_size: tuple[int, int], output_size: tuple[int, int]
                ) -> tuple[Tensor, Tensor, Tensor]:
        """Predicted label ``y``, mask ``m`` (sigmoid) and spatial weight ``v`` around each box.

        Args:
            boxes_xywh: (N, B, 4) target boxes in crop pixels.
        Returns:
            three (N, B, Ho, Wo) maps. The centre in score cells is ``(x + w/2) / stride`` for an
            even filter (minus 0.5 for an odd one).
        """
        odd = torch.tensor([filter_size[0] % 2, filter_size[1] % 2], dtype=boxes_xywh.dtype, device=boxes_xywh.device)
        center_xy = (boxes_xywh[..., :2] + 0.5 * boxes_xywh[..., 2:]) / self.feature_stride - 0.5 * odd.flip(0)
        bins = distance_bins(center_xy.flip(-1), output_size, self.num_dist_bins, self.bin_displacement)
        return self.label_predictor(bins), torch.sigmoid(self.mask_predictor(bins)), self.weight_predictor(bins)

    def forward(self, filt: Tensor, feat: Tensor, boxes_xywh: Tensor, num_iter: int | None = None,
                sample_weight: Tensor | None = None) -> tuple[Tensor, list[Tensor], Tensor]:
        """Run the unrolled optimisation.

        Args:
            filt: (B, C, fh, fw) initial filter.
            feat: (N, B, C, H, W) training features.
            boxes_xywh: (N, B, 4) target boxes in crop pixels.
            num_iter: steps (default `self.num_iter`).
            sample_weight: optional (N,) or (N, B) non-negative frame weights (tracking memory);
                default ``1/N`` each.
        Returns:
            (final filter, [filter iterates incl. the initial one] of length num_iter + 1,
            losses (num_iter,) averaged over sequences).
        """
        num_iter = self.num_iter if num_iter is None else num_iter
        n, b = feat.shape[:2]
        fsz = filt.shape[-2:]
        out_sz = (feat.shape[-2] + (fsz[0] + 1) % 2, feat.shape[-1] + (fsz[1] + 1) % 2)
        step_factor = torch.exp(self.log_step_length)
        reg = (self.filter_reg * self.filter_reg).clamp(min=self.min_filter_reg ** 2)
        label, mask, spatial_w = self.targets(boxes_xywh, fsz, out_sz)
        if sample_weight is None:
            sw = math.sqrt(1.0 / n) * spatial_w
        else:
            w = sample_weight.reshape(n, -1).expand(n, b) if sample_weight.dim() == 1 else sample_weight
            sw = w.sqrt().reshape(n, b, 1, 1) * spatial_w
        iterates, losses = [filt], []
        for _ in range(num_iter):
            filt, loss = steepest_descent_step(filt, feat, label, mask, sw, reg, step_factor)
            iterates.append(filt)
            losses.append(loss.mean())
        loss_t = torch.stack(losses) if losses else feat.new_zeros(0)
        return filt, iterates, loss_t

    def extra_repr(self) -> str:
        return f"num_iter={self.num_iter}, feature_stride={self.feature_stride}, num_dist_bins={self.num_dist_bins}"
