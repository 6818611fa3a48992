"""Prediction head (score / offset / size maps, OSTrack's CenterPredictor), box decoding and the Hann window.

Maps live on the ``F x F`` search token grid (F = search_size / patch = 16). Boxes are
``cxcywh`` normalised to the search crop (multiply by search_size for crop pixels).
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from trackers.common.fused_conv import ConvBNReLU, conv_bn_valid


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

    def _map(self, tokens: Tensor) -> Tensor:
        """``(B, F*F, C)`` tokens -> ``(B, C, F, F)`` map (a view)."""
        B, N, C = tokens.shape
        F_ = self.feat_size
        if N != F_ * F_:
            raise ValueError(f"CenterHead: expected {F_ * F_} tokens, got {N}")
        return tokens.transpose(1, 2).reshape(B, C, F_, F_)               # NLC -> NCHW

    def forward(self, tokens: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """Search tokens ``(B, F*F, C)`` -> ``score (B,1,F,F)``, ``offset (B,2,F,F)``, ``size (B,2,F,F)``.

        score and size are sigmoids clamped to ``[1e-4, 1 - 1e-4]``; offset (dx, dy) is linear, in cells;
        size (w, h) is normalised to the search crop.
        """
        fmap = self._map(tokens)
        lo, hi = self.PROB_CLAMP, 1.0 - self.PROB_CLAMP
        score = self.score_tower(fmap).sigmoid().clamp(lo, hi)
        size = self.size_tower(fmap).sigmoid().clamp(lo, hi)
        offset = self.offset_tower(fmap)
        return score, offset, size

    def predict_peak(self, tokens: Tensor, window: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """Score map and the box at its (windowed) argmax, for tracking.

        The same values as `forward` + `decode_boxes` (``score * window`` ranked), but for one
        image on CPU without autograd the offset and size towers run only on the
        ``(2r + 1)^2`` patch around the peak that their output there depends on (r = 4 layers of
        3x3: a 9x9 patch instead of the 16x16 map, 7x7 instead of 16x16 outputs for their widest
        layer): ~1.8 of ViT-B HCTrack's 38.7 GFLOP per frame less. Elsewhere (batches, GPU,
        training) the full maps are computed (no host read of the peak).

        Args:
            tokens: ``(B, F*F, C)``; window: ``(F, F)`` multiplied into the score for ranking, or None.
        Returns:
            ``(score (B, 1, F, F) un-windowed, boxes (B, 4) cxcywh normalised to the crop)``.
        """
        fmap = self._map(tokens)
        B, F_ = fmap.shape[0], self.feat_size
        lo, hi = self.PROB_CLAMP, 1.0 - self.PROB_CLAMP
        score = self.score_tower(fmap).sigmoid().clamp(lo, hi)
        ranked = score if window is None else score * window
        if B != 1 or fmap.device.type != "cpu" or torch.is_grad_enabled():
            size = self.size_tower(fmap).sigmoid().clamp(lo, hi)
            return score, decode_boxes(ranked, self.offset_tower(fmap), size)[0]
        iy, ix = divmod(int(ranked.flatten().argmax()), F_)             # host read: free on CPU
        r = len(self.offset_tower) - 1
        y0, y1, x0, x1 = max(iy - r, 0), min(iy + r + 1, F_), max(ix - r, 0), min(ix + r + 1, F_)
        patch = F.pad(fmap[:, :, y0:y1, x0:x1], (x0 - (ix - r), ix + r + 1 - x1, y0 - (iy - r), iy + r + 1 - y1))
        off = _tower_at(self.offset_tower, patch, iy, ix, F_)
        wh = _tower_at(self.size_tower, patch, iy, ix, F_).sigmoid().clamp(lo, hi)
        box = torch.stack([(ix + off[0]) / F_, (iy + off[1]) / F_, wh[0], wh[1]])
        return score, box[None]


def _tower_at(tower: nn.Sequential, patch: Tensor, iy: int, ix: int, side: int) -> Tensor:
    """A tower's output at map cell (iy, ix) from the (1, C, 2r+1, 2r+1) patch of its zero-padded
    input centred there (r = number of 3x3 layers): each 3x3 layer runs without padding and its
    outputs outside the map are zeroed, which is what the padded full-map layers see. -> (cout,)."""
    x = patch
    r = (patch.shape[-1] - 1) // 2
    for k, layer in enumerate(tower[:-1], start=1):
        x = conv_bn_valid(layer[0], layer[1], x, relu=True)
        if k < r:                                    # the last 3x3 output is the centre cell itself
            rows = torch.arange(iy - r + k, iy + r - k + 1, device=x.device)
            cols = torch.arange(ix - r + k, ix + r - k + 1, device=x.device)
            inside = (((rows >= 0) & (rows < side))[:, None] & ((cols >= 0) & (cols < side))[None, :])
            x = x * inside.to(x.dtype)
    return tower[-1](x)[0, :, 0, 0]


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
