"""Labels against hand values and brute-force references."""
from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from scipy.stats import norm
from shapely.geometry import box as sbox

from datasets.processing.labels import (
    dimp_gaussian_label, gaussian_radius, iou_xywh, ostrack_heatmap, perturb_boxes, sample_box_gmm,
)


@pytest.mark.parametrize("side,radius", [(1, 0), (3, 0), (4, 1), (6, 1), (8, 2), (10, 2), (12, 3), (16, 4)])
def test_gaussian_radius_worked_values(side, radius):
    # reference notes §A.4: s<=3 -> r=0; 4-6 -> 1; 8-10 -> 2; 12 -> 3; 16 -> 4
    assert int(gaussian_radius(np.array([side, side], float))) == radius


def test_gaussian_radius_hand_value_square_4():
    # case 3 for s=4, o=0.7: a=2.8, b=-11.2, c=-4.8 -> (b + sqrt(b^2 - 4ac)) / 2
    expected = (-11.2 + math.sqrt(11.2 ** 2 + 4 * 2.8 * 4.8)) / 2
    assert gaussian_radius(np.array([4.0, 4.0])) == pytest.approx(expected)


def _heatmap_loops(box, crop, stride):
    """Plain-loop transcription of §A.4 (CenterNet draw_gaussian), float64."""
    f = crop // stride
    x, y, w, h = (v / stride for v in box)
    cx, cy = round(x + w / 2), round(y + h / 2)          # python round = half to even, like torch
    r = max(0, int(gaussian_radius(np.array([w, h]))))
    sigma = (2 * r + 1) / 6
    out = np.zeros((f, f))
    for i in range(f):
        for j in range(f):
            if abs(i - cy) <= r and abs(j - cx) <= r:
                out[i, j] = math.exp(-((i - cy) ** 2 + (j - cx) ** 2) / (2 * sigma * sigma))
    return out


@settings(max_examples=60, deadline=None)
@given(x=st.floats(-20, 250), y=st.floats(-20, 250), w=st.floats(1, 200), h=st.floats(1, 200))
def test_ostrack_heatmap_matches_loop_reference(x, y, w, h):
    box = (x, y, w, h)
    np.testing.assert_allclose(ostrack_heatmap(np.array(box), 256, 16), _heatmap_loops(box, 256, 16), atol=1e-6)


def test_ostrack_heatmap_hand_values():
    # 64x64 px box centred at pixel (120, 72) -> 4x4 cells, centre cell (x=7.5 -> 8, y=4.5 -> 4):
    # half to even: rint(7.5)=8, rint(4.5)=4. r=1, sigma=0.5: neighbours exp(-2), diagonals exp(-4)
    hm = ostrack_heatmap(np.array([[88.0, 40.0, 64.0, 64.0]]), 256, 16)[0]
    assert hm.shape == (16, 16)
    assert np.unravel_index(hm.argmax(), hm.shape) == (4, 8) and hm[4, 8] == 1.0
    assert hm[4, 9] == pytest.approx(math.exp(-2), rel=1e-6) and hm[3, 8] == pytest.approx(math.exp(-2), rel=1e-6)
    assert hm[5, 9] == pytest.approx(math.exp(-4), rel=1e-6)
    assert (hm > 0).sum() == 9                                   # 3x3 window only
    tiny = ostrack_heatmap(np.array([[100.0, 100.0, 20.0, 20.0]]), 256, 16)[0]   # 1.25 cells: r=0
    assert (tiny > 0).sum() == 1 and tiny[7, 7] == 1.0           # centre 110/16 = 6.875 -> 7


def test_dimp_label_peak_position_and_sigma():
    # DiMP18 geometry: 288 px, stride 16, F=18, sigma = 0.25/5*18 = 0.9 cells, 19x19 label
    sig = 0.25 / 5.0
    box = np.array([7 * 16 - 10.0, 5 * 16 - 6.0, 20.0, 12.0])     # centre at pixel (112, 80)
    lab = dimp_gaussian_label(box, 288, 16, sig, kernel_size=4)
    assert lab.shape == (19, 19)
    assert np.unravel_index(lab.argmax(), lab.shape) == (5, 7) and lab[5, 7] == pytest.approx(1.0)
    assert lab[5, 8] == pytest.approx(math.exp(-1 / (2 * 0.9 ** 2)), rel=1e-6)
    assert lab[7, 7] == pytest.approx(math.exp(-4 / (2 * 0.9 ** 2)), rel=1e-6)
    centred = dimp_gaussian_label(np.array([134.0, 134.0, 20.0, 20.0]), 288, 16, sig, 4)
    assert np.unravel_index(centred.argmax(), centred.shape) == (9, 9)   # crop centre -> middle cell
    odd = dimp_gaussian_label(np.array([134.0, 134.0, 20.0, 20.0]), 288, 16, sig, 5)
    assert odd.shape == (18, 18)


def test_dimp_label_batched_shape():
    boxes = np.random.default_rng(0).uniform(20, 200, (3, 2, 4))
    assert dimp_gaussian_label(boxes, 288, 16, 0.05).shape == (3, 2, 19, 19)


def _shapely_iou(a, b):
    pa, pb = sbox(a[0], a[1], a[0] + a[2], a[1] + a[3]), sbox(b[0], b[1], b[0] + b[2], b[1] + b[3])
    u = pa.union(pb).area
    return pa.intersection(pb).area / u if u > 0 else 0.0


def test_perturb_boxes_iou_targets_equal_brute_force():
    rng = np.random.default_rng(3)
    for _ in range(20):
        gt = np.array([*rng.uniform(20, 150, 2), *rng.uniform(3, 80, 2)])
        props, ious = perturb_boxes(gt, 8, (0.01, 0.05, 0.1, 0.2, 0.3), 0.1, rng)
        assert props.shape == (8, 4) and ious.shape == (8,)
        np.testing.assert_allclose(ious, [_shapely_iou(gt, p) for p in props], atol=1e-9)
        assert (ious > 0.1).all()                                  # redrawn until IoU > min_iou
        np.testing.assert_array_equal(props[:, :2], np.round(props[:, :2]))   # rounded positions


def test_iou_xywh_hand_values():
    assert iou_xywh(np.array([0, 0, 2, 2.0]), np.array([1, 1, 2, 2.0])) == pytest.approx(1 / 7)
    assert iou_xywh(np.array([0, 0, 2, 2.0]), np.array([5, 5, 1, 1.0])) == 0.0


def test_box_gmm_densities_match_scipy():
    rng = np.random.default_rng(0)
    gt = np.array([40.0, 50.0, 30.0, 20.0])
    sig = ((0.05, 0.05), (0.5, 0.5))
    props, pd, gd = sample_box_gmm(gt, sig, (0.05, 0.05), 128, rng)
    # recover the relative offsets from the proposals (independent of the implementation)
    c_gt = gt[:2] + gt[2:] / 2
    c_p = props[:, :2] + props[:, 2:] / 2
    delta = np.concatenate([(c_p - c_gt) / gt[2:], np.log(props[:, 2:] / gt[2:])], axis=1)
    comp = [np.prod([norm.pdf(delta[:, d], 0, s[0 if d < 2 else 1]) for d in range(4)], axis=0) for s in sig]
    np.testing.assert_allclose(pd, np.mean(comp, axis=0), rtol=1e-6)
    np.testing.assert_allclose(gd, np.prod([norm.pdf(delta[:, d], 0, 0.05) for d in range(4)], axis=0), rtol=1e-6)
    # roughly half the proposals come from the narrow component (|delta| small in all dims)
    narrow = (np.abs(delta) < 0.25).all(axis=1).mean()
    assert 0.4 < narrow < 0.75
