"""Prediction head (score / offset / size maps, OSTrack's CenterPredictor), box decoding and the Hann window.

Maps live on the ``F x F`` search token grid (F = search_size / patch = 16). Boxes are
``cxcywh`` normalised to the search crop (multiply by search_size for crop pixels).
"""
from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from trackers.common.fused_conv import ConvBNReLU


def _conv_bn_relu(cin: int, cout: int) -> ConvBNReLU:
    """Conv3x3 + BatchNorm + ReLU (``Sequential`` names 0, 1, 2; folded at inference)."""
    return ConvBNReLU(nn.Conv2d(cin, cout, 3, padding=1), nn.BatchNorm2d(cout))


def _tower(cin: int, ch: int, cout: int) -> nn.Sequential:
    """``cin -> ch -> ch/2 -> ch/4 -> ch/8`` (Conv3x3+BN+ReLU each) then a 1x1 conv to ``cout``."""
    return nn.Sequential(
        _conv_bn_relu(cin, ch), _conv_bn_relu(ch, ch // 2), _conv_bn_relu(ch // 2, ch // 4),
        _conv_bn_relu(ch // 4, ch // 8), nn.Conv2d(ch // 8, cout, 1),
    )


class CenterHead(nn.Module):
    """Three independent towers (centre score, offset, size), OSTrack §A.3.

    Args:
        in_dim: token width C.
        channels: first tower width (256 for ViT-B; towers halve it three times).
        feat_size: F, the side of the search grid.
    """

    PROB_CLAMP = 1e-4

    def __init__(self, in_dim: int, channels: int, feat_size: int) -> None:
        super().__init__()
        self.feat_size = feat_size
        self.score_tower = _tower(in_dim, channels, 1)
        self.offset_tower = _tower(in_dim, channels, 2)
        self.size_tower = _tower(in_dim, channels, 2)
        for p in self.parameters():
            if p.dim() > 1:
                nn.init.xavier_uniform_(p)

    def extra_repr(self) -> str:
        return f"feat_size={self.feat_size}"

    def forward(self, tokens: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """Search tokens ``(B, F*F, C)`` -> ``score (B,1,F,F)``, ``offset (B,2,F,F)``, ``size (B,2,F,F)``.

        score and size are sigmoids clamped to ``[1e-4, 1 - 1e-4]``; offset (dx, dy) is linear, in cells;
        size (w, h) is normalised to the search crop.
        """
        B, N, C = tokens.shape
        F_ = self.feat_size
        if N != F_ * F_:
            raise ValueError(f"CenterHead: expected {F_ * F_} tokens, got {N}")
        fmap = tokens.transpose(1, 2).reshape(B, C, F_, F_)               # NLC -> NCHW
        lo, hi = self.PROB_CLAMP, 1.0 - self.PROB_CLAMP
        score = self.score_tower(fmap).sigmoid().clamp(lo, hi)
        size = self.size_tower(fmap).sigmoid().clamp(lo, hi)
        offset = self.offset_tower(fmap)
        return score, offset, size


def decode_boxes(score: Tensor, offset: Tensor, size: Tensor) -> tuple[Tensor, Tensor]:
    """Box at the argmax of the score map (OSTrack ``cal_bbox``).

    ``idx = argmax(score)``, ``(ix, iy) = (idx % F, idx // F)``;
    ``cx = (ix + dx) / F``, ``cy = (iy + dy) / F``, ``(w, h) = size[:, idx]`` -- no +0.5 cell shift:
    the offset head learns it.

    Args:
        score: ``(B, 1, F, F)`` (possibly Hann-windowed); offset, size: ``(B, 2, F, F)``.
    Returns:
        ``(boxes (B, 4) cxcywh normalised to the crop, idx (B,) int64 flat argmax)``.
    """
    B, _, F_, _ = score.shape
    idx = score.flatten(1).argmax(dim=1)                                  # (B,)
    gather = idx[:, None, None].expand(B, 2, 1)
    off = offset.flatten(2).gather(2, gather)[..., 0]                     # (B, 2)
    wh = size.flatten(2).gather(2, gather)[..., 0]                        # (B, 2)
    ix = (idx % F_).to(off.dtype)
    iy = torch.div(idx, F_, rounding_mode="floor").to(off.dtype)
    boxes = torch.stack([(ix + off[:, 0]) / F_, (iy + off[:, 1]) / F_, wh[:, 0], wh[:, 1]], dim=1)
    return boxes, idx


def hann2d(size: int, dtype: torch.dtype = torch.float32) -> Tensor:
    """``(size, size)`` outer product of ``hann1d(k) = 0.5 (1 - cos(2 pi k / (size + 1)))``, k = 1..size.

    (OSTrack ``hann2d(centered=True)``: strictly positive, peak at the centre.)
    """
    k = torch.arange(1, size + 1, dtype=torch.float64)
    h = 0.5 * (1 - torch.cos(2 * math.pi * k / (size + 1)))
    return (h[:, None] * h[None, :]).to(dtype)
