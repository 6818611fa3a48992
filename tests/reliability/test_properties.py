"""Property-based tests (hypothesis) of box geometry, crop / map-back and the metrics.

Complements tests/datasets/test_geometry.py (crop round trip, clip inside the image) and
tests/evaluation/test_metrics.py (hand values, segment counts == broadcast reference).
Independent references: shapely polygons for IoU, a linear image for the crop's sampling
positions, the integral identity mean IoU = integral of the success curve.
"""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely.geometry import box as shapely_box

from datasets.geometry import box_convert, clip_box_xywh, crop_image, crop_transform
from evaluation import metrics as m
from evaluation.protocols import PROTOCOLS
from evaluation.scoring import SequenceData, score_tracker

coord = st.floats(-200, 200, allow_nan=False, allow_infinity=False)
side = st.floats(0.01, 150, allow_nan=False, allow_infinity=False)
boxes = st.tuples(coord, coord, side, side).map(lambda t: np.array(t, dtype=np.float64))


def _shapely_iou(a: np.ndarray, b: np.ndarray) -> float:
    pa = shapely_box(a[0], a[1], a[0] + a[2], a[1] + a[3])
    pb = shapely_box(b[0], b[1], b[0] + b[2], b[1] + b[3])
    return pa.intersection(pb).area / pa.union(pb).area


# ---------------------------------------------------------------------------------------------
# geometry
# ---------------------------------------------------------------------------------------------


@settings(max_examples=150, deadline=None)
@given(boxes, st.sampled_from(["xywh", "xyxy", "cxcywh"]), st.sampled_from(["xywh", "xyxy", "cxcywh"]))
def test_box_convert_round_trips_through_any_format(b, via, other):
    back = box_convert(box_convert(box_convert(b, "xywh", via), via, other), other, "xywh")
    np.testing.assert_allclose(back, b, rtol=1e-12, atol=1e-9)
    xyxy = box_convert(b, "xywh", "xyxy")
    assert (xyxy[2:] >= xyxy[:2]).all()


@settings(max_examples=150, deadline=None)
@given(boxes, st.integers(1, 400), st.integers(1, 400))
def test_clip_is_idempotent_and_keeps_inside_boxes(b, h, w):
    once = clip_box_xywh(b, (h, w), min_size=1.0)
    np.testing.assert_allclose(clip_box_xywh(once, (h, w), min_size=1.0), once, atol=1e-9)
    inside = b[0] >= 0 and b[1] >= 0 and b[0] + b[2] <= w and b[1] + b[3] <= h and b[2] >= 1 and b[3] >= 1
    if inside:
        np.testing.assert_allclose(once, b, atol=1e-9)


_Y, _X = np.mgrid[0:160, 0:200].astype(np.float64) + 0.5     # pixel centres of a 200 x 160 image


@settings(max_examples=60, deadline=None)
@given(st.floats(40, 160), st.floats(40, 120), st.floats(2, 30), st.floats(2, 30), st.floats(1.0, 2.5),
       st.integers(8, 96), st.floats(-2, 2), st.floats(-2, 2))
def test_crop_samples_the_image_at_the_mapped_positions(cx, cy, w, h, factor, n, a, b):
    """On a linear image I(x, y) = a x + b y (pixel centres at +0.5), bilinear resampling is exact,
    so crop pixel (i, j) must equal I at the image point its centre maps to: the crop's geometry
    (centre, scale, half-pixel convention) checked against `box_to_image`, independently of
    `affine_matrix`."""
    t = crop_transform(np.array([cx - w / 2, cy - h / 2, w, h]), factor, n)
    assert t.window_side / 2 <= 37.5                     # the window lies inside: no border fill
    image = (a * _X + b * _Y).astype(np.float32)
    crop = crop_image(image, t)
    rows, cols = np.mgrid[0:n, 0:n].astype(np.float64)
    centres = np.stack([cols + 0.5, rows + 0.5, np.zeros_like(rows), np.zeros_like(rows)], -1)
    img_pts = t.box_to_image(centres.reshape(-1, 4))[:, :2].reshape(n, n, 2)
    expected = a * img_pts[..., 0] + b * img_pts[..., 1]
    tol = (abs(a) + abs(b)) * (1 / 32 + 1e-3) + 1e-3       # warpAffine quantises positions to 1/32 px
    np.testing.assert_allclose(crop, expected, atol=tol)


@settings(max_examples=150, deadline=None)
@given(boxes, st.floats(1.0, 6.0), st.integers(16, 384))
def test_crop_centres_the_box_with_the_requested_context(b, factor, n):
    t = crop_transform(b, factor, n)
    c = t.box_to_crop(b)
    np.testing.assert_allclose(c[:2] + c[2:] / 2, [n / 2, n / 2], atol=1e-7 * max(1.0, n))
    assert np.sqrt(c[2] * c[3]) * factor == pytest.approx(n, rel=1e-9)


# ---------------------------------------------------------------------------------------------
# metrics
# ---------------------------------------------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(boxes, boxes)
def test_iou_symmetric_bounded_and_equal_to_polygon_reference(a, b):
    ab, ba = float(m.iou_xywh(a, b)), float(m.iou_xywh(b, a))
    assert ab == ba
    # without clipping, x + w - x != w in floats: IoU may exceed 1 by a few ulps of x / w
    assert 0.0 <= ab <= 1.0 + 1e-9
    assert ab == pytest.approx(_shapely_iou(a, b), abs=1e-9)
    assert float(m.iou_xywh(a, a)) == pytest.approx(1.0, abs=1e-9)
    clipped = float(m.iou_xywh(a, b, eps=m.EPS, clip=True))   # the got10k toolkit's variant
    assert 0.0 <= clipped <= 1.0 and clipped == pytest.approx(ab, abs=1e-9)


@settings(max_examples=150, deadline=None)
@given(boxes, boxes, coord, coord, st.floats(0.1, 10))
def test_iou_invariant_to_joint_translation_and_scaling(a, b, dx, dy, s):
    def move(x):
        return np.array([(x[0] + dx) * s, (x[1] + dy) * s, x[2] * s, x[3] * s])

    assert float(m.iou_xywh(move(a), move(b))) == pytest.approx(float(m.iou_xywh(a, b)), abs=1e-7)


@settings(max_examples=100, deadline=None)
@given(boxes, coord, coord)
def test_iou_with_an_empty_box_is_zero(a, x, y):
    for empty in (np.array([x, y, 0.0, 5.0]), np.array([x, y, 3.0, 0.0])):
        assert float(m.iou_xywh(a, empty)) == 0.0 and float(m.iou_xywh(empty, a)) == 0.0


ious = st.lists(st.one_of(st.floats(0, 1), st.sampled_from([0.0, 0.5, 1.0])), min_size=1, max_size=60)


@settings(max_examples=150, deadline=None)
@given(ious, st.sampled_from([">", ">="]))
def test_success_curve_monotone_bounded_and_auc_is_mean_iou(values, op):
    v = np.array(values)
    thr = np.linspace(0, 1, 1001)
    curve = m.success_curve(v, thr, op)
    assert ((curve >= 0) & (curve <= 1)).all()
    assert (np.diff(curve) <= 0).all()                       # non-increasing in the threshold
    auc = m.trapezoid_auc(curve)
    assert 0.0 <= auc <= 1.0
    # mean IoU = integral_0^1 P(IoU > t) dt; the grid and the tie at each threshold cost <= 2 steps
    assert auc == pytest.approx(v.mean(), abs=2.0 / 1000)
    assert (m.success_curve(v, thr, ">=") >= m.success_curve(v, thr, ">")).all()


@settings(max_examples=100, deadline=None)
@given(st.lists(st.floats(0, 80), min_size=1, max_size=60))
def test_precision_curve_non_decreasing(errors):
    curve = m.precision_curve(np.array(errors), np.arange(0, 51, dtype=float))
    assert ((curve >= 0) & (curve <= 1)).all() and (np.diff(curve) >= 0).all()


def _sequences(seed: int, n_seq: int) -> list[SequenceData]:
    """Random but well-formed sequences: positive-size boxes, some invisible frames."""
    rng = np.random.default_rng(seed)
    out = []
    for k in range(n_seq):
        n = int(rng.integers(2, 9))
        gt = np.column_stack([rng.uniform(0, 200, (n, 2)), rng.uniform(2, 60, (n, 2))])
        pred = gt + rng.normal(0, 12, (n, 4))
        pred[:, 2:] = np.abs(pred[:, 2:]) + 1
        vis = rng.random(n) > 0.15
        vis[0] = True
        out.append(SequenceData(f"s{k}", gt, vis, pred, image_size=(320.0, 240.0)))
    return out


def _figures(score, n):
    return score.summary(), [score.sequence_summary(i) for i in range(n)]


def _close(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for k in a:
        if a[k] is None or b[k] is None:
            assert a[k] is None and b[k] is None, k
        else:
            assert a[k] == pytest.approx(b[k], rel=1e-12, abs=1e-12, nan_ok=True), k


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 10_000), st.integers(1, 6), st.sampled_from(sorted(PROTOCOLS)), st.randoms(use_true_random=False))
def test_scores_invariant_to_sequence_order_and_bounded(seed, n_seq, protocol, rnd):
    p = PROTOCOLS[protocol]
    seqs = _sequences(seed, n_seq)
    order = list(range(n_seq))
    rnd.shuffle(order)
    a_sum, a_seq = _figures(score_tracker(p, seqs), n_seq)
    b_sum, b_seq = _figures(score_tracker(p, [seqs[i] for i in order]), n_seq)
    _close(a_sum, b_sum)
    for new, old in enumerate(order):
        _close(a_seq[old], b_seq[new])
    for key in ("auc", "precision", "norm_precision", "ao", "sr50", "sr75"):
        if a_sum[key] is not None and np.isfinite(a_sum[key]):
            assert 0.0 <= a_sum[key] <= 1.0, (key, a_sum[key])
    # the data set twice over: every average is the same
    _close(_figures(score_tracker(p, seqs + seqs), n_seq)[0], a_sum)
