"""Resampling of absolute positional embeddings to a new token grid (the one home for it)."""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor


def resample_abs_pos_embed(
    pos_embed: Tensor,
    new_size: tuple[int, int],
    num_prefix_tokens: int = 0,
    keep_prefix: bool = False,
    mode: str = "bicubic",
) -> Tensor:
    """Interpolate a square grid of position embeddings to ``new_size`` (OSTrack ``finetune_track``).

    The grid part (after `num_prefix_tokens` cls/register entries) must be a square ``g x g``
    grid in row-major order. It is resized with ``F.interpolate(mode, align_corners=False)`` in
    float32 and cast back to the input dtype. E.g. MAE ViT-B/16 at 224 px: ``(1, 1 + 14*14, 768)``
    with ``num_prefix_tokens=1`` -> ``(1, 8*8, 768)`` for a 128 px template.

    Args:
        pos_embed: ``(1, P + g*g, C)``.
        new_size: ``(h, w)`` of the target grid.
        num_prefix_tokens: P, entries before the grid.
        keep_prefix: prepend the P prefix entries to the output (else they are dropped).
        mode: interpolation mode of `F.interpolate` ("bicubic" as OSTrack/timm).
    Returns:
        ``(1, [P +] h*w, C)`` tensor, same dtype as the input.
    """
    if pos_embed.dim() != 3 or pos_embed.shape[0] != 1:
        raise ValueError(f"pos_embed must be (1, N, C), got {tuple(pos_embed.shape)}")
    prefix, grid = pos_embed[:, :num_prefix_tokens], pos_embed[:, num_prefix_tokens:]
    n, c = grid.shape[1], grid.shape[2]
    g = math.isqrt(n)
    if g * g != n:
        raise ValueError(
            f"pos_embed has {n} grid tokens after {num_prefix_tokens} prefix tokens: not a square grid"
        )
    h, w = int(new_size[0]), int(new_size[1])
    if h <= 0 or w <= 0:
        raise ValueError(f"new_size={new_size} must be positive")
    if (h, w) == (g, g):
        out = grid
    else:
        x = grid.float().reshape(1, g, g, c).permute(0, 3, 1, 2)        # NLC -> NCHW (1, C, g, g)
        align = False if mode in ("linear", "bilinear", "bicubic", "trilinear") else None
        x = F.interpolate(x, size=(h, w), mode=mode, align_corners=align)
        out = x.permute(0, 2, 3, 1).reshape(1, h * w, c).to(pos_embed.dtype)  # NCHW -> NLC
    if keep_prefix and num_prefix_tokens:
        out = torch.cat([prefix, out], dim=1)
    return out
