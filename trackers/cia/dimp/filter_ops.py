"""Applying a per-sequence correlation filter to feature maps, and its adjoint.

Layout: features ``(N, B, C, H, W)`` (N frames of B sequences), one filter per sequence
``(B, C, fh, fw)``. Scores are ``(N, B, H + 1 - fh % 2, W + 1 - fw % 2)`` (padding ``f // 2``:
an even 4x4 filter on 18x18 features gives 19x19 scores). Score cell ``m`` is centred on feature
coordinate ``m - 0.5`` for an even filter, i.e. on crop pixel ``stride * m``.

Two ways to compute the same thing:

* grouped convolutions (one group per sequence): training on GPU, any B;
* for one sequence on CPU (the tracker: the filter update over its 50 memory samples), GEMMs:
  oneDNN runs a convolution with a single output channel (and the adjoint, whose kernels are the
  score maps) at 4-8 GFLOP/s on the 2-core development machine, so the filter is applied as a 1x1
  convolution to its ``fh * fw`` taps (one GEMM, ``C -> fh fw``) followed by ``F.fold`` (the shifted
  sum of the tap maps), and the adjoint as an im2col of the scores (a strided view, one copy) and
  one batched GEMM (`_apply_filter_gemm`, `_feat_transpose_gemm`). A DiMP18 filter update (2
  steepest-descent steps on 50 samples) went from 160-180 ms to 26-36 ms (2 threads). Both are
  differentiable (twice, as DiMP's training needs).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def _use_gemm(feat: Tensor, b: int) -> bool:
    return b == 1 and feat.device.type == "cpu"


def _apply_filter_gemm(feat: Tensor, filt: Tensor) -> Tensor:
    """One sequence: feat (N, C, H, W), filt (C, fh, fw) -> (N, 1, Ho, Wo).

    ``G[n, t] = sum_c f_flipped[c, t] feat[n, c]`` for the taps t of the flipped filter, then
    ``F.fold`` adds tap (i', j')'s map at offset (i', j') with padding ``f - 1 - f // 2``: the
    correlation with padding ``f // 2``."""
    c, fh, fw = filt.shape
    taps = filt.flip(-2, -1).reshape(c, fh * fw).t()                        # (fh fw, C)
    if feat.is_contiguous(memory_format=torch.channels_last):                # oneDNN 1x1 conv reads it in place
        g = F.conv2d(feat, taps[:, :, None, None]).flatten(2)               # (N, fh fw, H W)
    else:
        g = torch.matmul(taps, feat.flatten(2))
    h, w = feat.shape[-2:]
    ho, wo = h + 2 * (fh // 2) - fh + 1, w + 2 * (fw // 2) - fw + 1
    return F.fold(g, (ho, wo), (fh, fw), padding=(fh - 1 - fh // 2, fw - 1 - fw // 2))


def _feat_transpose_gemm(feat: Tensor, scores: Tensor, fh: int, fw: int) -> Tensor:
    """Adjoint of `_apply_filter_gemm`: feat (N, C, H, W), scores (N, Ho, Wo) -> (C, fh, fw)."""
    n, c, h, w = feat.shape
    ph, pw = fh - 1 - fh // 2, fw - 1 - fw // 2
    if scores.shape[-2:] != (h + 2 * (fh // 2) - fh + 1, w + 2 * (fw // 2) - fw + 1):
        raise ValueError(f"scores {tuple(scores.shape)} do not match features {tuple(feat.shape)} and filter {(fh, fw)}")
    # u[n, (i, j), (y, x)] = padded_scores[n, y + i, x + j]  (im2col of the scores as a strided view)
    windows = F.pad(scores, (pw, pw, ph, ph)).unfold(1, fh, 1).unfold(2, fw, 1)   # (N, H, W, fh, fw)
    u = windows.permute(0, 3, 4, 1, 2).reshape(n, fh * fw, h * w)
    g = (u @ feat.flatten(2).transpose(1, 2)).sum(0)                          # (fh fw, C)
    return g.t().reshape(c, fh, fw).flip(-2, -1)


def apply_filter(feat: Tensor, filt: Tensor) -> Tensor:
    """Correlate each sequence's frames with its filter (a grouped conv over the B sequences).

    Args:
        feat: (N, B, C, H, W).
        filt: (B, C, fh, fw).
    Returns:
        (N, B, Ho, Wo) scores, ``Ho = H + 2 * (fh // 2) - fh + 1``.
    """
    n, b, c, h, w = feat.shape
    if filt.shape[:2] != (b, c):
        raise ValueError(f"filter {tuple(filt.shape)} does not match features {tuple(feat.shape)} (B, C)")
    fh, fw = filt.shape[-2:]
    if _use_gemm(feat, b):
        out = _apply_filter_gemm(feat[:, 0], filt[0])
    else:
        out = F.conv2d(feat.reshape(n, b * c, h, w), filt, padding=(fh // 2, fw // 2), groups=b)
    return out.reshape(n, b, out.shape[-2], out.shape[-1])


def apply_feat_transpose(feat: Tensor, scores: Tensor, filter_size: tuple[int, int]) -> Tensor:
    """Adjoint of `apply_filter` w.r.t. the filter: ``d <apply_filter(feat, f), scores> / d f``.

    Summed over the N frames. Computed as one grouped convolution of the padded features with the
    score maps as kernels, or for one sequence on CPU as `_feat_transpose_gemm` (no autograd
    needed, so it can itself be differentiated).

    Args:
        feat: (N, B, C, H, W).
        scores: (N, B, Ho, Wo), the shape `apply_filter` returns.
        filter_size: (fh, fw).
    Returns:
        (B, C, fh, fw).
    """
    n, b, c, h, w = feat.shape
    fh, fw = filter_size
    if _use_gemm(feat, b):
        return _feat_transpose_gemm(feat[:, 0], scores[:, 0], fh, fw)[None]
    # channels ordered (b, n): group b sees its own N frames, the conv sums over them
    x = feat.permute(2, 1, 0, 3, 4).reshape(c, b * n, h, w)                 # (C, B*N, H, W)
    k = scores.permute(1, 0, 2, 3)                                          # (B, N, Ho, Wo)
    out = F.conv2d(x, k, padding=(fh // 2, fw // 2), groups=b)              # (C, B, fh, fw)
    if out.shape[-2:] != (fh, fw):
        raise ValueError(f"scores {tuple(scores.shape)} do not match features {tuple(feat.shape)} and filter {filter_size}")
    return out.permute(1, 0, 2, 3)
