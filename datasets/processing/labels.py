"""Training labels as pure functions of boxes (numpy, vectorized over leading dimensions).

All boxes are xywh in **crop pixels** (the crop of side ``crop_size``); continuous coordinates
as in `datasets.geometry`. Randomness only through an explicit ``rng`` (numpy Generator).

* `ostrack_heatmap`: the OSTrack / CenterNet centre heatmap (reference notes §A.4).
* `dimp_gaussian_label`: the DiMP classifier label (§B.4).
* `perturb_boxes`: ATOM IoU-Net proposals and their IoU (§B.4), target ``2 * IoU - 1``.
* `sample_box_gmm`: KL-regression proposals with ``proposal_density`` / ``gt_density`` (§B.4,
  SuperDiMP / CIA50).
"""
from __future__ import annotations

import numpy as np

from datasets.geometry import box_convert


def iou_xywh(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Element-wise IoU of broadcastable (..., 4) xywh boxes (0 for empty unions). float64.

    Used for the IoU-Net training targets; evaluation metrics have their own module.
    """
    a = box_convert(a, "xywh", "xyxy")
    b = box_convert(b, "xywh", "xyxy")
    iw = np.clip(np.minimum(a[..., 2], b[..., 2]) - np.maximum(a[..., 0], b[..., 0]), 0, None)
    ih = np.clip(np.minimum(a[..., 3], b[..., 3]) - np.maximum(a[..., 1], b[..., 1]), 0, None)
    inter = iw * ih
    union = (a[..., 2] - a[..., 0]) * (a[..., 3] - a[..., 1]) + (b[..., 2] - b[..., 0]) * (b[..., 3] - b[..., 1]) - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1.0), 0.0)


# --------------------------------------------------------------------------------------------
# OSTrack heatmap
# --------------------------------------------------------------------------------------------
def gaussian_radius(wh: np.ndarray, min_overlap: float = 0.7) -> np.ndarray:
    """CornerNet's Gaussian radius, the "bug version" OSTrack uses (§A.4). (..., 2) -> (...,).

    The minimum over the three cases of the larger root of ``a r^2 + b r + c`` computed as
    ``(b + sqrt(b^2 - 4ac)) / 2`` (the missing ``/a`` is the known CornerNet bug, kept because
    the OSTrack labels were made with it), with, for a box of sides w, h and overlap o:
    case 1 ``a=1, b=w+h, c=wh(1-o)/(1+o)``; case 2 ``a=4, b=2(w+h), c=(1-o)wh``;
    case 3 ``a=4o, b=-2o(w+h), c=(o-1)wh``. Worked values (square side s): s=4 -> 1.09, s=16 -> 4.37.
    """
    wh = np.asarray(wh, dtype=np.float64)
    w, h = wh[..., 0], wh[..., 1]
    o = float(min_overlap)
    b1, c1 = w + h, w * h * (1 - o) / (1 + o)
    r1 = (b1 + np.sqrt(b1 ** 2 - 4 * c1)) / 2
    b2, c2 = 2 * (w + h), (1 - o) * w * h
    r2 = (b2 + np.sqrt(b2 ** 2 - 16 * c2)) / 2
    a3, b3, c3 = 4 * o, -2 * o * (w + h), (o - 1) * w * h
    r3 = (b3 + np.sqrt(b3 ** 2 - 4 * a3 * c3)) / 2
    return np.minimum(r1, np.minimum(r2, r3))


def ostrack_heatmap(boxes_xywh: np.ndarray, crop_size: int, stride: int, min_overlap: float = 0.7) -> np.ndarray:
    """OSTrack's Gaussian centre label on the ``F = crop_size // stride`` score grid (§A.4).

    For each box (in crop pixels): the box in feature cells is ``box / stride``; the integer
    centre is ``rint(x + w/2), rint(y + h/2)`` (round half to even, as ``torch.round`` in the
    reference); the radius is ``r = max(0, int(gaussian_radius(w, h)))``; the label is
    ``exp(-(dx^2 + dy^2) / (2 sigma^2))`` with ``sigma = (2r + 1) / 6``, restricted to the
    ``(2r+1) x (2r+1)`` window around the centre, peak exactly 1 at the centre cell, 0 elsewhere
    (values below ``eps * peak`` are zeroed as in CenterNet). Cells of the window outside the map
    are dropped (a centre outside the map leaves only the part of the window inside it).

    Args:
        boxes_xywh: (..., 4) boxes in crop pixels.
    Returns:
        (..., F, F) float32 heatmaps, row = y cell, column = x cell.
    """
    b = np.asarray(boxes_xywh, dtype=np.float64) / float(stride)
    f = int(crop_size) // int(stride)
    cx = np.rint(b[..., 0] + b[..., 2] / 2)[..., None, None]
    cy = np.rint(b[..., 1] + b[..., 3] / 2)[..., None, None]
    r = np.maximum(0, np.trunc(gaussian_radius(b[..., 2:4], min_overlap)))[..., None, None]
    sigma = (2 * r + 1) / 6
    grid = np.arange(f, dtype=np.float64)
    dx = grid[None, :] - cx                      # (..., 1, F)
    dy = grid[:, None] - cy                      # (..., F, 1)
    g = np.exp(-(dx ** 2 + dy ** 2) / (2 * sigma ** 2))
    g[g < np.finfo(np.float64).eps] = 0.0        # CenterNet zeroes values below eps * max (max = 1)
    inside = (np.abs(dx) <= r) & (np.abs(dy) <= r)
    return np.where(inside, g, 0.0).astype(np.float32)


# --------------------------------------------------------------------------------------------
# DiMP classifier label
# --------------------------------------------------------------------------------------------
def dimp_gaussian_label(
    boxes_xywh: np.ndarray,
    image_size: int,
    stride: int,
    sigma_factor: float,
    kernel_size: int = 4,
    end_pad_if_even: bool = True,
) -> np.ndarray:
    """DiMP's Gaussian label (pytracking ``gaussian_label_function``, §B.4).

    With ``F = image_size // stride``: ``sigma = sigma_factor * F`` cells (sigma_factor =
    output_sigma_factor / search_area_factor, e.g. 0.25 / 5 -> sigma 0.9 for F = 18); the centre
    in cells is ``F * (c / image_size - 1/2) + 1/2`` for an even kernel (+0 for odd), and the grid
    is ``k = -(F-1)/2, ..., (F-1)/2 (+1 when the kernel is even)``, i.e. ``F+1`` values for an
    even kernel. Label ``exp(-((kx - cx)^2 + (ky - cy)^2) / (2 sigma^2))``, not normalized.
    Consequence: label cell ``j`` sits at crop pixel ``j * stride``, so a target centred at crop
    pixel ``(j*stride, i*stride)`` has its peak, exactly 1, at ``[i, j]``.

    Args:
        boxes_xywh: (..., 4) boxes in crop pixels.
    Returns:
        (..., F+1, F+1) float32 for an even kernel and ``end_pad_if_even`` (else (..., F, F)).
    """
    b = np.asarray(boxes_xywh, dtype=np.float64)
    f = int(image_size) // int(stride)
    even = kernel_size % 2 == 0
    centre = b[..., :2] + b[..., 2:4] / 2                                   # (..., 2) x, y pixels
    c = f * (centre / float(image_size) - 0.5) + (0.5 if even else 0.0)      # cells
    sigma = float(sigma_factor) * f
    k = np.arange(-(f - 1) / 2, (f + 1) / 2 + (1 if (even and end_pad_if_even) else 0), 1.0)
    gx = np.exp(-((k - c[..., 0:1]) ** 2) / (2 * sigma ** 2))                # (..., K)
    gy = np.exp(-((k - c[..., 1:2]) ** 2) / (2 * sigma ** 2))
    return (gy[..., :, None] * gx[..., None, :]).astype(np.float32)


# --------------------------------------------------------------------------------------------
# IoU-Net proposals (ATOM / DiMP)
# --------------------------------------------------------------------------------------------
def perturb_boxes(
    boxes_xywh: np.ndarray,
    num: int,
    sigma_factors: tuple[float, ...],
    min_iou: float,
    rng: np.random.Generator,
    max_tries: int = 100,
) -> tuple[np.ndarray, np.ndarray]:
    """ATOM's ``perturb_box``, `num` proposals for each box at once (§B.4).

    Each proposal picks a sigma factor ``s`` uniformly from `sigma_factors`; with
    ``p = s * sqrt(w h)`` it draws ``cx, cy, w, h ~ N(true, p)``, replaces a width or height
    ``<= 1`` by ``true * U(0.15, 0.5)``, rounds the box to whole pixels (then repeats the size
    fix), and keeps it when ``IoU > min_iou``; otherwise ``p *= 0.9`` and it is redrawn, at most
    `max_tries` times (after which the last draw is kept, as in the reference).

    Args:
        boxes_xywh: (4,) or (N, 4) ground-truth boxes.
    Returns:
        proposals (num, 4) / (N, num, 4) float64 xywh and iou (num,) / (N, num) float64, the IoU
        of each returned proposal with its box.
    """
    gt = np.asarray(boxes_xywh, dtype=np.float64)
    single = gt.ndim == 1
    gt = gt.reshape(-1, 4)
    ref = np.repeat(gt, num, axis=0)                                       # (M, 4), M = N * num
    m = ref.shape[0]
    cx, cy, w, h = ref[:, 0] + ref[:, 2] / 2, ref[:, 1] + ref[:, 3] / 2, ref[:, 2], ref[:, 3]
    sig = np.asarray(sigma_factors, dtype=np.float64)[rng.integers(len(sigma_factors), size=m)]
    perturb = np.sqrt(w * h) * sig
    out = np.zeros((m, 4))
    ious = np.zeros(m)
    todo = np.arange(m)
    for _ in range(max_tries):
        k = todo.size
        p = perturb[todo]
        c_x, c_y = rng.normal(cx[todo], p), rng.normal(cy[todo], p)
        w_p, h_p = rng.normal(w[todo], p), rng.normal(h[todo], p)
        w_p = np.where(w_p <= 1, w[todo] * rng.uniform(0.15, 0.5, k), w_p)
        h_p = np.where(h_p <= 1, h[todo] * rng.uniform(0.15, 0.5, k), h_p)
        cand = np.round(np.stack([c_x - w_p / 2, c_y - h_p / 2, w_p, h_p], axis=-1))
        cand[:, 2] = np.where(cand[:, 2] <= 1, w[todo] * rng.uniform(0.15, 0.5, k), cand[:, 2])
        cand[:, 3] = np.where(cand[:, 3] <= 1, h[todo] * rng.uniform(0.15, 0.5, k), cand[:, 3])
        iou = iou_xywh(ref[todo], cand)
        out[todo], ious[todo] = cand, iou
        todo = todo[iou <= min_iou]
        if todo.size == 0:
            break
        perturb[todo] *= 0.9
    if single:
        return out, ious
    return out.reshape(-1, num, 4), ious.reshape(-1, num)


# --------------------------------------------------------------------------------------------
# KL regression proposals (PrDiMP / SuperDiMP / CIA50)
# --------------------------------------------------------------------------------------------
def _gauss_density(x: np.ndarray, std: np.ndarray) -> np.ndarray:
    return np.exp(-0.5 * (x / std) ** 2) / (np.sqrt(2 * np.pi) * std)


def sample_box_gmm(
    boxes_xywh: np.ndarray,
    proposal_sigma: tuple[tuple[float, float], ...],
    gt_sigma: tuple[float, float],
    num: int,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Proposals from a centred Gaussian mixture in relative box coordinates (§B.4 KL variant).

    Relative coordinates of a box ``(cx, cy, w, h)`` w.r.t. the target size ``(W, H)`` are
    ``(cx / W, cy / H, log w, log h)``. Component ``k`` has standard deviations
    ``(c_k, c_k, s_k, s_k)`` for ``proposal_sigma[k] = (c_k, s_k)``. Each proposal picks a
    component uniformly and adds ``delta ~ N(0, std_k)`` to the target's relative coordinates.

    * ``proposal_density`` = the mixture density of ``delta``: mean over components of the
      product over the 4 dimensions of the Gaussian densities;
    * ``gt_density`` = the density of ``delta`` under ``N(0, (g_c, g_c, g_s, g_s))`` for
      ``gt_sigma = (g_c, g_s)`` (the label distribution around the ground truth).

    Args:
        boxes_xywh: (4,) or (N, 4) ground-truth boxes.
    Returns:
        proposals (num, 4) / (N, num, 4) float64 xywh, proposal_density and gt_density
        (num,) / (N, num).
    """
    gt = np.asarray(boxes_xywh, dtype=np.float64)
    single = gt.ndim == 1
    ref = np.repeat(gt.reshape(-1, 4), num, axis=0)                        # (M, 4)
    m = ref.shape[0]
    sig = np.asarray(proposal_sigma, dtype=np.float64)                     # (K, 2)
    std = np.stack([sig[:, 0], sig[:, 0], sig[:, 1], sig[:, 1]], axis=-1)  # (K, 4)
    comp = rng.integers(std.shape[0], size=m)
    delta = std[comp] * rng.standard_normal((m, 4))                        # (M, 4)
    prop_density = _gauss_density(delta[:, None, :], std[None]).prod(-1).mean(-1)
    g = np.array([gt_sigma[0], gt_sigma[0], gt_sigma[1], gt_sigma[1]], dtype=np.float64)
    gt_density = _gauss_density(delta, g).prod(-1)
    wh = ref[:, 2:4]
    centre = ref[:, :2] + wh / 2 + delta[:, :2] * wh
    size = wh * np.exp(delta[:, 2:4])
    props = np.concatenate([centre - size / 2, size], axis=-1)
    if single:
        return props, prop_density, gt_density
    return props.reshape(-1, num, 4), prop_density.reshape(-1, num), gt_density.reshape(-1, num)
