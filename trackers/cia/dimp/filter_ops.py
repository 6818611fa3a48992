"""Applying a per-sequence correlation filter to feature maps, and its adjoint.

Layout: features ``(N, B, C, H, W)`` (N frames of B sequences), one filter per sequence
``(B, C, fh, fw)``. Scores are ``(N, B, H + 1 - fh % 2, W + 1 - fw % 2)`` (padding ``f // 2``:
an even 4x4 filter on 18x18 features gives 19x19 scores). Score cell ``m`` is centred on feature
coordinate ``m - 0.5`` for an even filter, i.e. on crop pixel ``stride * m``.
"""
from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor


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
    out = F.conv2d(feat.reshape(n, b * c, h, w), filt, padding=(fh // 2, fw // 2), groups=b)
    return out.reshape(n, b, out.shape[-2], out.shape[-1])


def apply_feat_transpose(feat: Tensor, scores: Tensor, filter_size: tuple[int, int]) -> Tensor:
    """Adjoint of `apply_filter` w.r.t. the filter: ``d <apply_filter(feat, f), scores> / d f``.

    Summed over the N frames. Computed as one grouped convolution of the padded features with the
    score maps as kernels (no autograd needed, so it can itself be differentiated once).

    Args:
        feat: (N, B, C, H, W).
        scores: (N, B, Ho, Wo), the shape `apply_filter` returns.
        filter_size: (fh, fw).
    Returns:
        (B, C, fh, fw).
    """
    n, b, c, h, w = feat.shape
    fh, fw = filter_size
    # channels ordered (b, n): group b sees its own N frames, the conv sums over them
    x = feat.permute(2, 1, 0, 3, 4).reshape(c, b * n, h, w)                 # (C, B*N, H, W)
    k = scores.permute(1, 0, 2, 3)                                          # (B, N, Ho, Wo)
    out = F.conv2d(x, k, padding=(fh // 2, fw // 2), groups=b)              # (C, B, fh, fw)
    if out.shape[-2:] != (fh, fw):
        raise ValueError(f"scores {tuple(scores.shape)} do not match features {tuple(feat.shape)} and filter {filter_size}")
    return out.permute(1, 0, 2, 3)
