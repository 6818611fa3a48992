"""Tracking metrics: the project's one numpy IoU, centre errors, success / precision curves, scores.

Pure, vectorized functions over (N, 4) float64 ``x, y, w, h`` boxes (continuous pixel coordinates,
see `datasets.geometry`). Which frames count, which thresholds and comparison operators apply and
how curves are aggregated is protocol business (`evaluation.protocols`, `evaluation.scoring`);
this module only does the arithmetic, with the switches the official toolkits differ in:

* IoU: ``inter / (union + eps)``, optionally clipped to [0, 1] (got10k toolkit: ``eps`` = float
  eps, clip on; pytracking / LaSOT MATLAB / TrackingNet devkit: ``eps = 0``, no clip, so ``0/0``
  gives NaN). The toolkits' "+1 / -1 inclusive pixel" terms cancel algebraically and are not used.
  Zero- or negative-size boxes give IoU 0 (an empty intersection). NaN propagates.
* Centre error: ``|| dxy + dwh / 2 ||_2`` (every toolkit's centre offset, ``(wh - 1) / 2`` or
  ``(wh + 1) / 2``, cancels in the difference).
* Normalized centre error: the centre difference divided element-wise by the ground-truth size,
  floored at ``min_size`` (got10k toolkit: 1; the others: no floor, so ``w = 0`` gives inf / NaN).

Curves return the fraction of frames passing each threshold. Two implementations exist side by
side: `success_curve` / `precision_curve` (broadcast comparison, the reference) and
`segment_pass_counts` (per-segment counts via ``searchsorted`` + ``bincount``, O(N log T) memory
O(N), used for whole data sets); tests check they agree.
"""
from __future__ import annotations

import numpy as np

#: float64 machine epsilon (``np.finfo(float).eps``), the got10k toolkit's IoU ``eps`` and MATLAB's ``eps``
EPS = float(np.finfo(np.float64).eps)

#: comparison operators a threshold curve can use: value passes threshold t if ``value OP t``
OPERATORS = (">", ">=", "<=")


def _as_boxes(boxes: np.ndarray, name: str) -> np.ndarray:
    b = np.asarray(boxes, dtype=np.float64)
    if b.ndim == 0 or b.shape[-1] != 4:
        raise ValueError(f"{name} must have shape (..., 4), got {b.shape}")
    return b


def _pair(pred: np.ndarray, gt: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    p, g = _as_boxes(pred, "pred"), _as_boxes(gt, "gt")
    if p.shape != g.shape:
        raise ValueError(f"pred and gt boxes must have the same shape, got {p.shape} and {g.shape}")
    return p, g


def iou_xywh(pred: np.ndarray, gt: np.ndarray, eps: float = 0.0, clip: bool = False) -> np.ndarray:
    """Element-wise IoU of aligned xywh boxes.

    Args:
        pred, gt: (..., 4) float xywh boxes.
        eps: added to the union (got10k toolkit: `EPS`; others 0).
        clip: clip the result to [0, 1] (got10k toolkit) - NaN stays NaN.
    Returns:
        (...,) float64; NaN where an input is NaN (or ``0/0`` with ``eps=0``).
    """
    p, g = _pair(pred, gt)
    iw = np.maximum(np.minimum(p[..., 0] + p[..., 2], g[..., 0] + g[..., 2]) - np.maximum(p[..., 0], g[..., 0]), 0.0)
    ih = np.maximum(np.minimum(p[..., 1] + p[..., 3], g[..., 1] + g[..., 3]) - np.maximum(p[..., 1], g[..., 1]), 0.0)
    inter = iw * ih
    union = p[..., 2] * p[..., 3] + g[..., 2] * g[..., 3] - inter
    with np.errstate(divide="ignore", invalid="ignore"):
        iou = inter / (union + eps)
    return np.clip(iou, 0.0, 1.0) if clip else iou


def bound_boxes_got10k(boxes: np.ndarray, width: np.ndarray | float, height: np.ndarray | float) -> np.ndarray:
    """The got10k toolkit's ``rect_iou(..., bound=(W, H))`` box clipping, quirk included.

    In this order: ``x = clip(x, 0, W)``, ``y = clip(y, 0, H)``, ``w = clip(w, 0, W - x)``,
    ``h = clip(h, 0, H - y)``. Overflow past the left/top edge *shifts* the box (its width is not
    reduced); overflow past the right/bottom edge is cropped. Example: ``(-10, 0, 30, 50)`` in a
    100 x 100 image becomes ``(0, 0, 30, 50)``. NaN stays NaN.

    Args:
        boxes: (N, 4) xywh.
        width, height: image size, scalars or (N,) per box.
    Returns:
        (N, 4) float64, a new array (the toolkit modifies its input in place; we do not).
    """
    b = _as_boxes(boxes, "boxes").copy()
    w_img = np.asarray(width, dtype=np.float64)
    h_img = np.asarray(height, dtype=np.float64)
    b[..., 0] = np.clip(b[..., 0], 0.0, w_img)
    b[..., 1] = np.clip(b[..., 1], 0.0, h_img)
    b[..., 2] = np.clip(b[..., 2], 0.0, w_img - b[..., 0])
    b[..., 3] = np.clip(b[..., 3], 0.0, h_img - b[..., 1])
    return b


def center_delta(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """(..., 2) centre of pred minus centre of gt, ``dxy + dwh / 2``, for aligned xywh boxes."""
    p, g = _pair(pred, gt)
    return (p[..., :2] - g[..., :2]) + (p[..., 2:] - g[..., 2:]) / 2.0


def center_error(pred: np.ndarray, gt: np.ndarray, delta: np.ndarray | None = None) -> np.ndarray:
    """(...,) Euclidean distance in pixels between box centres of aligned xywh boxes
    (`delta`: a precomputed `center_delta`)."""
    d = center_delta(pred, gt) if delta is None else delta
    return np.sqrt(d[..., 0] * d[..., 0] + d[..., 1] * d[..., 1])


def normalized_center_error(
    pred: np.ndarray, gt: np.ndarray, min_size: float | None = None, delta: np.ndarray | None = None
) -> np.ndarray:
    """(...,) centre distance with each axis divided by the ground-truth size.

    ``|| (c_p - c_g) / max(min_size, wh_g) ||_2``; ``min_size=None`` divides by the raw size
    (pytracking, LaSOT MATLAB, TrackingNet devkit: ``w_g = 0`` gives inf or NaN), ``min_size=1``
    is the got10k toolkit's ``max([1, 1], wh_g)``. `delta`: a precomputed `center_delta`.
    """
    g = _as_boxes(gt, "gt")
    d = center_delta(pred, g) if delta is None else delta
    size = g[..., 2:] if min_size is None else np.maximum(g[..., 2:], float(min_size))
    with np.errstate(divide="ignore", invalid="ignore"):
        nx, ny = d[..., 0] / size[..., 0], d[..., 1] / size[..., 1]
        return np.sqrt(nx * nx + ny * ny)


def _check_thresholds(thresholds: np.ndarray) -> np.ndarray:
    t = np.asarray(thresholds, dtype=np.float64).reshape(-1)
    if t.size == 0 or not np.all(np.isfinite(t)) or np.any(np.diff(t) < 0):
        raise ValueError(f"thresholds must be a non-empty, finite, ascending 1-D array, got {t!r}")
    return t


def _check_op(op: str) -> None:
    if op not in OPERATORS:
        raise ValueError(f"unknown comparison operator {op!r}; expected one of {OPERATORS}")


def pass_matrix(values: np.ndarray, thresholds: np.ndarray, op: str) -> np.ndarray:
    """(N, T) bool: ``values[i] OP thresholds[j]``; NaN passes nothing. The reference path."""
    _check_op(op)
    v = np.asarray(values, dtype=np.float64).reshape(-1, 1)
    t = _check_thresholds(thresholds).reshape(1, -1)
    if op == ">":
        return np.greater(v, t)
    if op == ">=":
        return np.greater_equal(v, t)
    return np.less_equal(v, t)


def success_curve(ious: np.ndarray, thresholds: np.ndarray, op: str = ">") -> np.ndarray:
    """(T,) fraction of frames whose IoU passes each threshold (``>`` everywhere but the
    TrackingNet devkit's ``>=``). Empty input gives NaN."""
    m = pass_matrix(ious, thresholds, op)
    return m.mean(axis=0) if m.shape[0] else np.full(m.shape[1], np.nan)


def precision_curve(errors: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """(T,) fraction of frames whose (normalized) centre error is ``<=`` each threshold."""
    m = pass_matrix(errors, thresholds, "<=")
    return m.mean(axis=0) if m.shape[0] else np.full(m.shape[1], np.nan)


def segment_pass_counts(
    values: np.ndarray,
    segments: np.ndarray,
    n_segments: int,
    thresholds: np.ndarray,
    op: str,
    keep: np.ndarray | None = None,
) -> np.ndarray:
    """Per-segment number of kept frames passing each threshold, without an (N, T) matrix.

    Equal to ``np.add.at(out, segments[keep], pass_matrix(values, thresholds, op)[keep])``: each
    value is turned into the number of thresholds below it (``searchsorted``), histogrammed per
    segment with one ``bincount``, then cumulated over thresholds. Comparisons are exact (the
    same float comparisons as the broadcast path); NaN passes nothing.

    Args:
        values: (N,) float64 per-frame IoUs or errors.
        segments: (N,) int segment (sequence) index of each frame, in [0, n_segments).
        n_segments: S.
        thresholds: (T,) ascending.
        op: ``">"``, ``">="`` (value passes t if value > t / >= t) or ``"<="`` (value <= t).
        keep: (N,) bool frames to count; None = all.
    Returns:
        (S, T) int64 counts.
    """
    _check_op(op)
    t = _check_thresholds(thresholds)
    v = np.asarray(values, dtype=np.float64).reshape(-1)
    seg = np.asarray(segments, dtype=np.int64).reshape(-1)
    if seg.shape != v.shape:
        raise ValueError(f"segments {seg.shape} and values {v.shape} must have the same shape")
    n_t = t.size
    nan = np.isnan(v)
    if op == "<=":
        # value <= t[j]  <=>  j >= k, k = number of thresholds strictly below the value
        k = np.searchsorted(t, v, side="left")
        k[nan] = n_t  # passes nothing
    else:
        # value > t[j] (value >= t[j])  <=>  j < k, k = number of thresholds < value (<= value)
        k = np.searchsorted(t, v, side="left" if op == ">" else "right")
        k[nan] = 0
    if keep is not None:
        keep = np.asarray(keep, dtype=bool).reshape(-1)
        k, seg = k[keep], seg[keep]
    hist = np.bincount(seg * (n_t + 1) + k, minlength=n_segments * (n_t + 1)).reshape(n_segments, n_t + 1)
    if op == "<=":
        return np.cumsum(hist[:, :n_t], axis=1)
    # count_j = #frames with k > j = sum of hist[:, j+1:]
    return np.cumsum(hist[:, ::-1], axis=1)[:, ::-1][:, 1:]


def trapezoid_auc(curve: np.ndarray, x: np.ndarray | None = None) -> float:
    """Trapezoidal area under `curve` over `x` (default ``linspace(0, 1, T)``), as
    ``np.trapezoid`` (the TrackingNet devkit's ``np.trapz(curve, x=linspace(0, 1, 21))``)."""
    c = np.asarray(curve, dtype=np.float64)
    if c.ndim != 1:
        raise ValueError(f"curve must be 1-D, got shape {c.shape}")
    xs = np.linspace(0.0, 1.0, c.size) if x is None else np.asarray(x, dtype=np.float64)
    if xs.shape != c.shape:
        raise ValueError(f"x has shape {xs.shape}, curve has {c.shape}")
    return float(np.add.reduce(np.diff(xs) * (c[1:] + c[:-1]) / 2.0))


def carry_forward_index(replace: np.ndarray) -> np.ndarray:
    """(N,) index of the box each frame takes when `replace` frames repeat the previous box.

    Sequential semantics (``for i in 1..N-1: if replace[i]: box[i] = box[i-1]``), vectorized:
    each replaced frame takes the nearest earlier frame that is not replaced. Frame 0 is never
    replaced. Works on concatenated sequences as long as each sequence's first frame has
    ``replace = False``.
    """
    r = np.asarray(replace, dtype=bool).reshape(-1).copy()
    if r.size:
        r[0] = False
    idx = np.where(r, 0, np.arange(r.size))
    return np.maximum.accumulate(idx) if r.size else idx
