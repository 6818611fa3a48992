"""evaluation.metrics against hand-computed values and brute-force references."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evaluation import metrics as m

GT = np.array([[0.0, 0.0, 10.0, 10.0]])


@pytest.mark.parametrize(
    "pred, expected",
    [
        ([0, 0, 10, 10], 1.0),
        ([5, 0, 10, 10], 50 / 150),          # half overlap
        ([0, 0, 10, 5], 0.5),                # contained, half area: an exact tie at 0.5
        ([3, 4, 10, 10], 42 / 158),          # 7 x 6 intersection
        ([20, 20, 10, 10], 0.0),             # disjoint
        ([10, 0, 10, 10], 0.0),              # touching edges: empty intersection
        ([2, 2, 0, 5], 0.0),                 # zero width
        ([2, 2, -4, 5], 0.0),                # negative width: empty intersection, area < 0
    ],
)
def test_iou_hand_computed(pred, expected):
    got = m.iou_xywh(np.array([pred], float), GT)[0]
    assert got == pytest.approx(expected, abs=1e-15)


def test_iou_eps_clip_and_nan():
    zero = np.array([[5.0, 5.0, 0.0, 0.0]])
    # two zero-size boxes: 0/0 is NaN without eps, 0 with the got10k eps
    assert np.isnan(m.iou_xywh(zero, zero)[0])
    assert m.iou_xywh(zero, zero, eps=m.EPS, clip=True)[0] == 0.0
    nan = np.array([[np.nan, 0, 10, 10]])
    assert np.isnan(m.iou_xywh(nan, GT, eps=m.EPS, clip=True)[0])  # clip keeps NaN
    # eps makes IoU of identical boxes 100/(100+eps) < 1 only below float resolution
    assert m.iou_xywh(GT, GT, eps=m.EPS)[0] == 1.0
    # negative-size pred: union shrinks, raw IoU can leave [0, 1]; clip brings it back
    neg = np.array([[0.0, 0.0, -20.0, 10.0]])
    assert m.iou_xywh(neg, GT)[0] == 0.0
    with pytest.raises(ValueError, match="same shape"):
        m.iou_xywh(np.zeros((2, 4)), np.zeros((3, 4)))


def test_center_errors_hand_computed():
    pred = np.array([[3.0, 4.0, 10.0, 10.0], [0.0, 0.0, 20.0, 10.0], [0.0, 0.0, 10.0, 10.0]])
    gt = np.array([[0.0, 0.0, 10.0, 10.0], [0.0, 0.0, 10.0, 10.0], [2.0, 0.0, 0.5, 4.0]])
    # centres: (8,9) vs (5,5) -> 5; (10,5) vs (5,5) -> 5; (5,5) vs (2.25, 2) -> sqrt(2.75^2 + 3^2)
    np.testing.assert_allclose(m.center_error(pred, gt), [5.0, 5.0, np.hypot(2.75, 3.0)], rtol=0, atol=1e-14)
    # normalized: divide by GT size; min_size=1 floors the 0.5 width at 1
    np.testing.assert_allclose(
        m.normalized_center_error(pred, gt), [np.hypot(0.3, 0.4), 0.5, np.hypot(2.75 / 0.5, 3 / 4)], atol=1e-14
    )
    np.testing.assert_allclose(
        m.normalized_center_error(pred, gt, min_size=1.0)[2], np.hypot(2.75, 3 / 4), atol=1e-14
    )
    zero_w = np.array([[0.0, 0.0, 0.0, 10.0]])
    assert np.isinf(m.normalized_center_error(np.array([[1.0, 0, 0, 10]]), zero_w)[0])


def test_bound_quirk_examples_from_protocol_doc():
    # pred (80,0,50,50) vs GT (80,0,20,50) in a 100 x 100 image: IoU 0.4 unbounded, 1.0 bounded
    p, g = np.array([[80.0, 0, 50, 50]]), np.array([[80.0, 0, 20, 50]])
    assert m.iou_xywh(p, g)[0] == pytest.approx(0.4)
    pb, gb = m.bound_boxes_got10k(p, 100, 100), m.bound_boxes_got10k(g, 100, 100)
    assert m.iou_xywh(pb, gb)[0] == pytest.approx(1.0)
    # left overflow shifts, not crops: (-10,0,30,50) -> (0,0,30,50); IoU with (0,0,20,50) = 2/3
    p2 = m.bound_boxes_got10k(np.array([[-10.0, 0, 30, 50]]), 100, 100)
    np.testing.assert_array_equal(p2, [[0, 0, 30, 50]])
    assert m.iou_xywh(p2, np.array([[0.0, 0, 20, 50]]))[0] == pytest.approx(2 / 3)
    # input untouched
    p3 = np.array([[-10.0, 0, 30, 50]])
    m.bound_boxes_got10k(p3, 100, 100)
    assert p3[0, 0] == -10.0


def test_pass_matrix_ties_and_nan():
    thr = np.array([0.0, 0.5, 1.0])
    v = np.array([0.5, 0.0, 1.0, np.nan])
    np.testing.assert_array_equal(m.pass_matrix(v, thr, ">"), [[1, 0, 0], [0, 0, 0], [1, 1, 0], [0, 0, 0]])
    np.testing.assert_array_equal(m.pass_matrix(v, thr, ">="), [[1, 1, 0], [1, 0, 0], [1, 1, 1], [0, 0, 0]])
    np.testing.assert_array_equal(m.pass_matrix(v, thr, "<="), [[0, 1, 1], [1, 1, 1], [0, 0, 1], [0, 0, 0]])
    with pytest.raises(ValueError, match="operator"):
        m.pass_matrix(v, thr, "<")
    with pytest.raises(ValueError, match="ascending"):
        m.pass_matrix(v, thr[::-1], ">")


def test_curves_are_fractions():
    np.testing.assert_allclose(m.success_curve([0.2, 0.6, 0.9, 0.0], [0.0, 0.5]), [0.75, 0.5])
    np.testing.assert_allclose(m.precision_curve([3.0, 20.0, 21.0], [0.0, 20.0, 50.0]), [0.0, 2 / 3, 1.0])


values = st.one_of(
    st.sampled_from([0.0, 0.05, 0.5, 0.75, 1.0, 20.0, -1.0, np.inf, np.nan]),
    st.floats(-2, 60, allow_nan=False),
)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(values, st.integers(0, 3), st.booleans()), min_size=1, max_size=40),
       st.sampled_from([">", ">=", "<="]))
def test_segment_pass_counts_equals_broadcast_reference(rows, op):
    v = np.array([r[0] for r in rows], float)
    seg = np.array([r[1] for r in rows])
    keep = np.array([r[2] for r in rows])
    thr = np.linspace(0, 1, 21) if op != "<=" else np.arange(0, 51, dtype=float)
    got = m.segment_pass_counts(v, seg, 4, thr, op, keep)
    ref = np.zeros((4, thr.size), int)
    np.add.at(ref, seg[keep], m.pass_matrix(v[keep], thr, op).astype(int))
    np.testing.assert_array_equal(got, ref)


def test_trapezoid_matches_numpy():
    rng = np.random.default_rng(1)
    c = np.sort(rng.random(21))[::-1]
    assert m.trapezoid_auc(c) == pytest.approx(float(np.trapezoid(c, x=np.linspace(0, 1, 21))), abs=1e-15)
    assert m.trapezoid_auc(np.ones(21)) == pytest.approx(1.0)


def test_carry_forward_index_matches_sequential_loop():
    rng = np.random.default_rng(2)
    for _ in range(20):
        r = rng.random(30) < 0.4
        boxes = rng.random((30, 4))
        ref = boxes.copy()
        for i in range(1, 30):
            if r[i]:
                ref[i] = ref[i - 1]
        np.testing.assert_array_equal(boxes[m.carry_forward_index(r)], ref)
