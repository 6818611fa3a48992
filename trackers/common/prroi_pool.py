"""Precise RoI Pooling (Jiang et al., "Acquisition of Localization Confidence", ECCV 2018), exact,
in pure PyTorch: CPU and GPU, any float dtype, differentiable w.r.t. features *and* boxes.

What it computes (the semantics of the reference CUDA op used by ATOM / DiMP):

* The feature map ``F`` (C, H, W) is a function on the continuous plane: sample ``F[h, w]`` sits
  at the point ``(x=w, y=h)`` (no half-pixel offset, no "aligned" mode), and between samples the
  map is the bilinear interpolant of the samples **zero-padded** outside the map, i.e.
  ``f(x, y) = sum_{h,w} F[h, w] * hat(x - w) * hat(y - h)`` with ``hat(t) = max(0, 1 - |t|)``.
* A box ``(x1, y1, x2, y2)`` in image pixels is mapped to feature coordinates by multiplying with
  ``spatial_scale`` (e.g. 1/16 for a stride-16 map), exactly like ``torchvision.ops.roi_align``
  with ``aligned=False``. It is split into ``ph x pw`` equal bins of size
  ``bw = max(x2 - x1, 0) / pw``, ``bh = max(y2 - y1, 0) / ph``.
* Each output is the **average** of ``f`` over its bin: ``(1 / (bw bh)) * integral_bin f``.
  A bin of zero area (empty or inverted box) outputs 0 (and passes zero gradient to the map).

Why it is cheap: the integral factorises. With ``K(a, b, c) = integral_a^b hat(t - c) dt``::

    out[i, j] = (1 / (bw bh)) * sum_{h, w} F[h, w] * K(y_i, y_{i+1}, h) * K(x_j, x_{j+1}, w)
              = (Ky @ F @ Kx^T)[i, j] / (bw bh)

so pooling is two small weight matrices per box (``Ky (ph, H)``, ``Kx (pw, W)``) contracted with
the map: two batched matmuls (the first one for all boxes of an image at once), no sampling
loops. ``K`` is a difference of the hat's antiderivative (a C1 piecewise quadratic), so gradients
w.r.t. the box corners are exact as well.

Memory: the first contraction materialises ``(N, M, pw, C, H)`` (or ``(N, M, ph, C, W)``, the
cheaper order is chosen); chunk the boxes yourself if that is too large.
"""
from __future__ import annotations

import functools
import math
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def _hat_antiderivative(u: Tensor) -> Tensor:
    """G(u) = integral_{-inf}^{u} max(0, 1 - |t|) dt  (0 below -1, 1 above 1, C1 in between)."""
    u = u.clamp(-1.0, 1.0)
    # 0.5 (u + 1)^2 on [-1, 0] and 1 - 0.5 (1 - u)^2 on [0, 1] are both 0.5 + u - 0.5 u |u|
    # (one expression: fewer ops forward and backward; derivative 1 - |u|, the hat)
    return 0.5 + u - 0.5 * u * u.abs()


def _bin_weights(lo: Tensor, hi: Tensor, bins: int, size: int) -> tuple[Tensor, Tensor]:
    """Hat-integral weights of `bins` equal bins of ``[lo, hi]`` against samples ``0..size-1``.

    Args:
        lo, hi: (...,) interval ends in feature coordinates.
    Returns:
        weights (..., bins, size) with ``weights[..., k, s] = K(edge_k, edge_{k+1}, s)``, and the
        bin length (...,) clamped at 0.
    """
    length = (hi - lo).clamp(min=0.0)                                         # (...,)
    step = length / bins
    k = torch.arange(bins + 1, dtype=lo.dtype, device=lo.device)
    edges = lo[..., None] + k * step[..., None]                               # (..., bins+1)
    s = torch.arange(size, dtype=lo.dtype, device=lo.device)
    g = _hat_antiderivative(edges[..., :, None] - s)                          # (..., bins+1, size)
    return g[..., 1:, :] - g[..., :-1, :], step


def prroi_pool2d(features: Tensor, boxes_xyxy: Tensor, output_size: int | tuple[int, int],
                 spatial_scale: float) -> Tensor:
    """Precise RoI pooling of M boxes per image.

    Args:
        features: (N, C, H, W) feature maps.
        boxes_xyxy: (N, M, 4) boxes ``x1, y1, x2, y2`` in *image* pixels for each of the N maps
            (box ``[n, m]`` pools from ``features[n]``), same dtype as `features`.
        output_size: ``ph`` or ``(ph, pw)`` bins.
        spatial_scale: feature cells per image pixel (1/stride), applied to the box coordinates.
    Returns:
        (N, M, C, ph, pw) bin averages in the dtype of `features`; 0 for bins of zero area.
        Half / bfloat16 inputs are pooled in float32 (also under autocast).
    """
    ph, pw = (output_size, output_size) if isinstance(output_size, int) else output_size
    if features.dim() != 4:
        raise ValueError(f"features must be (N, C, H, W), got shape {tuple(features.shape)}")
    n, c, h, w = features.shape
    if boxes_xyxy.dim() != 3 or boxes_xyxy.shape[0] != n or boxes_xyxy.shape[2] != 4:
        raise ValueError(f"boxes_xyxy must be (N={n}, M, 4), got shape {tuple(boxes_xyxy.shape)}")
    if ph < 1 or pw < 1:
        raise ValueError(f"output_size must be >= 1, got {(ph, pw)}")
    out_dtype = features.dtype
    work = out_dtype if out_dtype in (torch.float32, torch.float64) else torch.float32
    with torch.autocast(device_type=features.device.type, enabled=False):  # integrals in fp32 or wider
        out = _pool(features.to(work), boxes_xyxy.to(work) * spatial_scale, ph, pw)
    return out.to(out_dtype)


def _pool(features: Tensor, b: Tensor, ph: int, pw: int) -> Tensor:
    """`prroi_pool2d` body on feature-coordinate boxes b (N, M, 4), one dtype throughout."""
    h, w = features.shape[-2:]
    if h == w and ph == pw:  # square map and grid (the trackers' case): both axes in one pass (fewer ops)
        k, length = _bin_weights(b[..., :2], b[..., 2:], ph, h)               # (N, M, 2, bins, size), (N, M, 2)
        kx, ky, bw, bh = k[:, :, 0], k[:, :, 1], length[..., 0], length[..., 1]
    else:
        ky, bh = _bin_weights(b[..., 1], b[..., 3], ph, h)                    # (N, M, ph, H), (N, M)
        kx, bw = _bin_weights(b[..., 0], b[..., 2], pw, w)                    # (N, M, pw, W), (N, M)
    area = bh * bw
    inv_area = torch.where(area > 0, 1.0 / area.clamp(min=torch.finfo(area.dtype).tiny),
                           torch.zeros_like(area))                            # (N, M)
    if h * pw * (w + ph) <= w * ph * (h + pw):   # contract columns first (fewer multiply-adds)
        out = _separable_pool(features, ky, kx)
    else:                                        # rows first: the same on the transposed map
        out = _separable_pool(features.transpose(-2, -1), kx, ky).transpose(-2, -1)
    return (out * inv_area[:, :, None, None, None]).contiguous()


def _separable_pool(features: Tensor, ky: Tensor, kx: Tensor) -> Tensor:
    """``sum_{h,w} ky[n,m,p,h] F[n,c,h,w] kx[n,m,q,w]`` -> (N, M, C, P, Q) as two batched matmuls.

    The columns of every box are contracted at once against the map read in place (one GEMM,
    ``(M Q, W) x (W, C H)`` per image; no per-box copy of the map), then the rows per box
    (``(Q C, H) x (H, P)``). Returns a permuted view.
    """
    n, c, h, w = features.shape
    m, p, q = ky.shape[1], ky.shape[2], kx.shape[2]
    t = torch.bmm(kx.reshape(n, m * q, w), features.reshape(n, c * h, w).transpose(1, 2))  # (N, M Q, C H)
    out = torch.bmm(t.view(n * m, q * c, h), ky.reshape(n * m, p, h).transpose(1, 2))    # (N M, Q C, P)
    return out.view(n, m, q, c, p).permute(0, 1, 3, 4, 2)


def prroi_pool2d_rois(features: Tensor, rois: Tensor, output_size: int | tuple[int, int],
                      spatial_scale: float) -> Tensor:
    """`prroi_pool2d` with torchvision/pytracking-style rois ``(K, 5) = (batch_idx, x1, y1, x2, y2)``.

    Gathers ``features[batch_idx]`` per roi ((K, C, H, W) temporarily). Returns (K, C, ph, pw).
    """
    if rois.dim() != 2 or rois.shape[1] != 5:
        raise ValueError(f"rois must be (K, 5) = (batch_idx, x1, y1, x2, y2), got {tuple(rois.shape)}")
    idx = rois[:, 0].long()
    if idx.numel() and (idx.min() < 0 or idx.max() >= features.shape[0]):
        raise ValueError(f"roi batch index out of range [0, {features.shape[0]}): {idx.tolist()}")
    return prroi_pool2d(features[idx], rois[:, None, 1:], output_size, spatial_scale)[:, 0]


class PrRoIPool2d(nn.Module):
    """Module wrapper of `prroi_pool2d` (boxes (N, M, 4) xyxy image pixels -> (N, M, C, ph, pw))."""

    def __init__(self, output_size: int | tuple[int, int], spatial_scale: float) -> None:
        super().__init__()
        self.output_size = (output_size, output_size) if isinstance(output_size, int) else tuple(output_size)
        self.spatial_scale = float(spatial_scale)

    def forward(self, features: Tensor, boxes_xyxy: Tensor) -> Tensor:
        return prroi_pool2d(features, boxes_xyxy, self.output_size, self.spatial_scale)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}, spatial_scale={self.spatial_scale}"


# -- inference fast path: forward with a saved context and the exact gradient w.r.t. the boxes ---
class PoolContext:
    """What `prroi_pool_boxes_grad` needs from a `prroi_pool_with_context` call (one image, M boxes).

    Both axes are stacked, x first: ``k`` (M, 2, P, n) bin weights over the n samples of the
    window read, ``hat`` (M, 2, P + 1, n) the hat values ``G'(edge - s)``, ``length`` (M, 2) box
    extents clamped at 0 and ``mask`` (M, 2) extent >= 0; ``features`` (C, n, n) the window,
    ``inv_area`` (M,), ``t`` (M, P C, n) the column-contracted map and ``raw`` (M, C, P, P) the
    bin integrals before the area division.
    """

    __slots__ = ("features", "k", "hat", "length", "mask", "inv_area", "t", "raw")


@functools.lru_cache(maxsize=512)
def _grids(bins: int, x0: int, y0: int, n: int, dtype: torch.dtype, device: torch.device) -> tuple[Tensor, Tensor]:
    """(edge fractions (bins + 1, 1) = k / bins, sample coordinates (2, n): x0 + 0..n-1 and y0 + 0..n-1)."""
    frac = torch.linspace(0.0, 1.0, bins + 1, dtype=dtype, device=device)[:, None]
    samples = torch.arange(n, dtype=dtype, device=device) + torch.tensor([[x0], [y0]], dtype=dtype, device=device)
    return frac, samples


def _axes(lo: Tensor, hi: Tensor, frac: Tensor, samples: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """`_bin_weights` of both axes at once, plus what the backward needs.

    Args:
        lo, hi: (M, 2) interval ends (x, y) in map coordinates.
        frac, samples: from `_grids` (bins + 1 edges, the n samples of the window per axis).
    Returns:
        (weights (M, 2, bins, n), hat (M, 2, bins + 1, n), extent (M, 2) clamped at 0,
        mask (M, 2) bool extent >= 0).
    """
    diff = hi - lo
    length = diff.clamp(min=0.0)
    u = torch.addcmul((lo[..., None] - samples)[..., None, :], frac, length[..., None, None])  # edge - s
    u = u.clamp_(-1.0, 1.0)
    au = u.abs()
    g = torch.addcmul(u, u, au, value=-0.5)     # G(u) - 1/2, see _hat_antiderivative (the 1/2 cancels below)
    return g[..., 1:, :] - g[..., :-1, :], au.neg_().add_(1.0), length, diff >= 0


def box_bounds(boxes: Tensor) -> list[float]:
    """``[x_min, y_min, x_max, y_max]`` over all corners of boxes (M, 4) ``x1, y1, x2, y2``, read on the
    host (one small transfer); pass it (times the level's scale) to `prroi_pool_with_context`."""
    lo = torch.minimum(boxes[:, :2], boxes[:, 2:]).amin(0)
    hi = torch.maximum(boxes[:, :2], boxes[:, 2:]).amax(0)
    return torch.cat([lo, hi]).tolist()


def support_range(lo: float, hi: float, size: int, margin: int = 0) -> tuple[int, int]:
    """``[start, stop)`` of the samples ``0..size-1`` whose hats (reaching ``(s - 1, s + 1)``) meet
    ``[lo, hi]``, widened by `margin` samples per side; the full range if a bound is not finite."""
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return 0, size
    start = min(max(math.floor(lo) - margin, 0), size - 1)
    return start, max(min(math.ceil(hi) + 1 + margin, size), start + 1)


def support_window(bounds: Sequence[float], size: int, margin: int = 0) -> tuple[int, int, int]:
    """(x0, y0, n): the smallest n x n window of a size x size map holding every sample that boxes
    within `bounds` ``[x_min, y_min, x_max, y_max]`` (feature coordinates) can reach, widened by
    `margin` samples per side (clipped to the map)."""
    x0, x1 = support_range(bounds[0], bounds[2], size, margin)
    y0, y1 = support_range(bounds[1], bounds[3], size, margin)
    n = max(x1 - x0, y1 - y0)
    return min(x0, size - n), min(y0, size - n), n


def prroi_pool_with_context(features: Tensor, boxes: Tensor, bins: int, origin: tuple[int, int] = (0, 0)
                            ) -> tuple[Tensor, PoolContext]:
    """`prroi_pool2d` of one image for inference, with an exact box gradient to follow.

    Args:
        features: (C, n, n) a square map, or a square window of one (no autograd).
        boxes: (M, 4) ``x1, y1, x2, y2`` in *feature* coordinates of the whole map (already times
            spatial_scale).
        bins: P bins per side.
        origin: ``(x0, y0)``, the map coordinates of the window's sample (0, 0). Pooling from a
            window is exact when it holds every sample the boxes reach (`support_window`): the
            others have zero weight.
    Returns:
        (out (M, C, P, P), context for `prroi_pool_boxes_grad`).
    """
    c, h, n = features.shape
    if h != n:
        raise ValueError(f"prroi_pool_with_context needs a square map, got {h}x{n} (use prroi_pool2d)")
    m = boxes.shape[0]
    ctx = PoolContext()
    ctx.features = features
    frac, samples = _grids(bins, origin[0], origin[1], n, boxes.dtype, boxes.device)
    ctx.k, ctx.hat, ctx.length, ctx.mask = _axes(boxes[:, :2], boxes[:, 2:], frac, samples)
    area = ctx.length.prod(1)                                                  # (M,) = P^2 bin area
    ctx.inv_area = torch.where(area > 0, (bins * bins) / area.clamp(min=torch.finfo(area.dtype).tiny), 0.0)
    kx, ky = ctx.k.unbind(1)                                                   # (M, P, n) each
    # t[m, q, c, h] = sum_w kx[m, q, w] F[c, h, w];  raw[m, c, p, q] = sum_h ky[m, p, h] t[m, q, c, h]
    ctx.t = (kx.reshape(m * bins, n) @ features.reshape(c * n, n).t()).view(m, bins * c, n)
    raw = torch.bmm(ctx.t, ky.transpose(1, 2))                                 # (M, Q C, P)
    ctx.raw = raw.view(m, bins, c, bins).permute(0, 2, 3, 1)                   # (M, C, P, Q)
    return ctx.raw * ctx.inv_area[:, None, None, None], ctx


def prroi_pool_boxes_grad(ctx: PoolContext, grad_out: Tensor) -> Tensor:
    """Gradient of ``sum(grad_out * out)`` w.r.t. the boxes of `prroi_pool_with_context`.

    Args:
        grad_out: (M, C, P, P).
    Returns:
        (M, 4) w.r.t. ``x1, y1, x2, y2`` in feature coordinates (the same values autograd gives
        through `prroi_pool2d`).
    """
    m, c, p, _ = grad_out.shape
    n = ctx.features.shape[-1]
    d_inv = (grad_out * ctx.raw).sum((1, 2, 3))                                # (M,)
    d_raw = (grad_out * ctx.inv_area[:, None, None, None]).permute(0, 3, 1, 2).reshape(m, p * c, p)  # (M, Q C, P)
    d_ky = torch.bmm(d_raw.transpose(1, 2), ctx.t)                             # (M, P, n)
    d_t = torch.bmm(d_raw, ctx.k[:, 1])                                        # (M, Q C, n)
    d_kx = (d_t.view(m * p, c * n) @ ctx.features.reshape(c * n, n)).view(m, p, n)
    d_k = torch.stack([d_kx, d_ky], dim=1)                                     # (M, 2, P, n)
    # inv_area = P^2 / (lx ly) where positive: d lx = -d_inv inv_area / lx (and the same for y)
    d_length = torch.where(ctx.inv_area[:, None] > 0,
                           (-d_inv * ctx.inv_area)[:, None] / ctx.length.clamp(min=torch.finfo(ctx.length.dtype).tiny),
                           0.0)                                                # (M, 2)
    # weights[e] = g[e + 1] - g[e]  ->  d g[e] = d k[e - 1] - d k[e];  d edge[e] = d g[e] G'(edge[e] - s)
    d_g = F.pad(d_k, (0, 0, 1, 0)) - F.pad(d_k, (0, 0, 0, 1))                  # (M, 2, P+1, n)
    d_edge = (d_g * ctx.hat).sum(-1)                                           # (M, 2, P+1)
    frac = _grids(p, 0, 0, 1, d_edge.dtype, d_edge.device)[0][:, 0]
    # edge[e] = lo + (e / P) (hi - lo) where hi >= lo (else lo): d hi = d len, d lo = sum d edge - d len
    d_len = ((d_edge @ frac) + d_length) * ctx.mask
    d_lo = d_edge.sum(-1) - d_len
    return torch.cat([d_lo, d_len], dim=1)                                     # (x1, y1, x2, y2)
