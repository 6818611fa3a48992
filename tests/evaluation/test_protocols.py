"""Each rule of each protocol profile on tiny hand-computed sequences.

Base ground truth G0 = (10, 10, 10, 10) (all coordinates positive, valid for every profile).
IoUs used: identical 1; shifted by 5 px in x: 50/150 = 1/3; disjoint 0; half height: exactly 0.5.
Curves over the 21 thresholds 0, 0.05, ..., 1 (``>``): a frame with IoU 1 passes 20 of them,
IoU 1/3 passes 7 (0 .. 0.30), IoU 0 passes none.
"""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from evaluation.protocols import PROTOCOLS, CurveSpec, FrameRule, Protocol, get_protocol
from evaluation.scoring import SequenceData, score_tracker

G0 = [10.0, 10.0, 10.0, 10.0]
SHIFT5 = [15.0, 10.0, 10.0, 10.0]      # IoU 1/3 with G0, centre error 5
FAR = [40.0, 40.0, 10.0, 10.0]         # IoU 0, centre error sqrt(2) * 30
HALF = [10.0, 10.0, 10.0, 5.0]         # IoU exactly 0.5, centre error 2.5


def seq(gt, pred, visible=None, name="s", size=None, times=None):
    gt = np.asarray(gt, float)
    vis = np.ones(len(gt), bool) if visible is None else np.asarray(visible, bool)
    return SequenceData(name, gt, vis, np.asarray(pred, float), image_size=size, times=times)


def summary(protocol, *seqs):
    p = PROTOCOLS[protocol] if isinstance(protocol, str) else protocol
    return score_tracker(p, list(seqs)).summary()


# ---- frame 0 -----------------------------------------------------------------------------------

def test_frame0_dropped_by_got10k_and_replaced_by_gt_elsewhere():
    s = seq([G0] * 4, [FAR, G0, SHIFT5, FAR], size=(100, 100))
    g = summary("got10k-toolkit/got10k", s)      # frames 1..3: IoU 1, 1/3, 0
    assert g["ao"] == pytest.approx(4 / 9) and g["sr50"] == pytest.approx(1 / 3) and g["sr75"] == pytest.approx(1 / 3)
    o = summary("got10k-toolkit/otb", s)         # frame 0 := GT: IoU 1, 1, 1/3, 0
    assert o["auc"] == pytest.approx((20 + 20 + 7 + 0) / 4 / 21)
    assert o["sr50"] == pytest.approx(0.5)
    assert o["precision"] == pytest.approx(3 / 4)  # errors 0, 0, 5, 42.4
    for name in ("lasot-official", "pytracking/otb"):
        assert summary(name, s)["auc"] == pytest.approx(47 / 84, abs=1e-7)


# ---- absent frames --------------------------------------------------------------------------------

def test_absent_frames_per_profile():
    vis = [True, True, True, False, True]
    s = seq([G0] * 5, [G0] * 5, vis, size=(100, 100))
    assert summary("got10k-toolkit/got10k", s)["ao"] == 1.0            # dropped (cover == 0)
    assert summary("got10k-toolkit/otb", s)["auc"] == pytest.approx(20 / 21)   # ignored
    assert summary("got10k-toolkit/lasot", s)["auc"] == pytest.approx(20 / 21)  # ignored (G has no absence)
    assert summary("pytracking/otb", s)["auc"] == pytest.approx(20 / 21, abs=1e-7)
    lo = summary("lasot-official", s)  # absent = failure counted in the denominator
    assert lo["auc"] == pytest.approx(20 * 0.8 / 21) and lo["precision"] == pytest.approx(0.8)
    assert lo["norm_precision"] == pytest.approx(0.8)
    pl = summary("pytracking/lasot", s)
    assert pl["auc"] == pytest.approx(20 * 0.8 / 21, abs=1e-7) and pl["precision"] == pytest.approx(0.8, abs=1e-7)
    assert summary("trackingnet-devkit", s)["auc"] == pytest.approx(1.0)  # >= 1 passes at t = 1


# ---- NaN and zero-size predictions -------------------------------------------------------------------

def test_nan_prediction_per_profile():
    s = seq([G0] * 4, [G0, SHIFT5, [np.nan] * 4, G0], size=(100, 100))
    g = summary("got10k-toolkit/got10k", s)
    assert np.isnan(g["ao"]) and g["sr50"] == pytest.approx(1 / 3)       # NaN fails, AO NaN
    assert summary("got10k-toolkit/otb", s)["auc"] == pytest.approx((20 + 7 + 0 + 20) / 84)
    # LaSOT MATLAB carries the previous box forward: IoU 1, 1/3, 1/3, 1
    assert summary("lasot-official", s)["auc"] == pytest.approx((20 + 7 + 7 + 20) / 84)
    with pytest.raises(ValueError, match="sequence 's' run 1 frame 2.*NaN or negative"):
        summary("pytracking/otb", s)
    # TrackingNet: NaN fails; curve 3/4 for t <= 0.30 (7 points), 1/2 for t >= 0.35 (14 points)
    c = np.r_[np.full(7, 0.75), np.full(14, 0.5)]
    assert summary("trackingnet-devkit", s)["auc"] == pytest.approx(np.trapezoid(c, dx=0.05))


def test_zero_and_negative_size_predictions_per_profile():
    s = seq([G0] * 4, [G0, SHIFT5, [13.0, 13.0, 0.0, 0.0], G0])
    assert summary("got10k-toolkit/otb", s)["auc"] == pytest.approx((20 + 7 + 0 + 20) / 84)  # IoU 0
    assert summary("lasot-official", s)["auc"] == pytest.approx((20 + 7 + 7 + 20) / 84)      # carried
    assert summary("pytracking/otb", s)["auc"] == pytest.approx((20 + 7 + 7 + 20) / 84, abs=1e-7)  # carried
    # TrackingNet: IoU 0 passes t = 0 with >=
    c = np.r_[1.0, np.full(6, 0.75), np.full(14, 0.5)]
    assert summary("trackingnet-devkit", s)["auc"] == pytest.approx(np.trapezoid(c, dx=0.05))
    neg = seq([G0] * 3, [G0, [10.0, 10.0, -3.0, 10.0], G0])
    with pytest.raises(ValueError, match="NaN or negative"):
        summary("pytracking/lasot", neg)
    # LaSOT MATLAB also carries negative sizes forward
    assert summary("lasot-official", neg)["auc"] == pytest.approx(20 / 21)
    # a carried box only replaces frames whose GT has no NaN (L): here it stays NaN and fails
    nan_gt = seq([G0, G0, [np.nan] * 4], [G0, G0, [np.nan] * 4])
    assert summary("lasot-official", nan_gt)["auc"] == pytest.approx(2 / 3 * 20 / 21)


# ---- boxes off the image ----------------------------------------------------------------------------

def test_boxes_off_the_image_bound_only_under_got10k():
    gt = [[80.0, 0, 20, 50]] * 2
    pred = [[80.0, 0, 20, 50], [80.0, 0, 50, 50]]   # frame 1 overflows the right edge
    s = seq(gt, pred, size=(100, 100))
    assert summary("got10k-toolkit/got10k", s)["ao"] == pytest.approx(1.0)   # cropped to the image
    assert summary("got10k-toolkit/otb", s)["sr50"] == pytest.approx(0.5)    # IoU 0.4 unbounded
    left = seq([[0.0, 0, 20, 50]] * 2, [[0.0, 0, 20, 50], [-10.0, 0, 30, 50]], size=(100, 100))
    assert summary("got10k-toolkit/got10k", left)["ao"] == pytest.approx(2 / 3)  # shifted, not cropped
    with pytest.raises(ValueError, match="no image size"):
        summary("got10k-toolkit/got10k", seq(gt, pred))


# ---- ties at a threshold --------------------------------------------------------------------------------

def test_ties_at_thresholds():
    s = seq([G0] * 2, [G0, HALF], size=(100, 100))          # frame 1: IoU exactly 0.5
    assert summary("got10k-toolkit/otb", s)["sr50"] == pytest.approx(0.5)     # 0.5 > 0.5 is False
    assert summary("got10k-toolkit/got10k", s)["sr50"] == 0.0
    t = score_tracker(PROTOCOLS["trackingnet-devkit"], [s])
    assert t.curve("success")[10] == 1.0                                       # 0.5 >= 0.5
    # centre error exactly 20 px passes precision@20 (<=)
    s20 = seq([G0] * 2, [G0, [30.0, 10.0, 10.0, 10.0]])
    assert summary("got10k-toolkit/otb", s20)["precision"] == 1.0
    assert summary("lasot-official", s20)["precision"] == 1.0
    assert score_tracker(PROTOCOLS["trackingnet-devkit"], [s20]).curve("precision")[8] == 1.0  # 20 px


# ---- invalid ground truth (x <= 0, w = 0, NaN) ---------------------------------------------------------

def test_invalid_ground_truth_per_profile():
    gt = [G0, G0, [0.0, 10.0, 10.0, 10.0], G0]       # x = 0: invalid for all(gt > 0)
    s = seq(gt, gt)
    lo = summary("lasot-official", s)                 # IoU fail, centre error -1 = success
    assert lo["auc"] == pytest.approx(0.75 * 20 / 21) and lo["precision"] == 1.0 and lo["norm_precision"] == 1.0
    po = summary("pytracking/otb", s)                 # IoU fail, centre inf = fail, normalized -1 = success
    assert po["auc"] == pytest.approx(0.75 * 20 / 21, abs=1e-7)
    assert po["precision"] == pytest.approx(0.75, abs=1e-7) and po["norm_precision"] == pytest.approx(1.0, abs=1e-7)
    wh_only = dataclasses.replace(PROTOCOLS["pytracking/otb"], gt_valid="size_positive")
    assert summary(wh_only, s)["auc"] == pytest.approx(20 / 21, abs=1e-7)
    assert summary("got10k-toolkit/otb", s)["auc"] == pytest.approx(20 / 21)  # scored normally
    nan_gt = seq([G0, G0, [np.nan] * 4, G0], [G0] * 4)
    assert summary("got10k-toolkit/lasot", nan_gt)["auc"] == pytest.approx(20 / 21)        # row dropped
    assert summary("got10k-toolkit/otb", nan_gt)["auc"] == pytest.approx(0.75 * 20 / 21)   # NaN IoU fails
    with pytest.raises(ValueError, match="ground truth has NaN"):
        summary("pytracking/otb", nan_gt)


def test_normalized_precision_rules():
    gt = [[10.0, 10.0, 0.5, 10.0]] * 2
    pred = [gt[0], [10.257, 10.0, 0.5, 10.0]]        # centre offset 0.257 px in x
    s = seq(gt, pred)
    # G: / max(1, 0.5) -> 0.257: passes thresholds 0.26 .. 0.50 (25 of 51); score = mean of curve
    assert summary("got10k-toolkit/lasot", s)["norm_precision"] == pytest.approx((51 + 25) / 102)
    # L and P: / 0.5 -> 0.514 fails at 0.20
    assert summary("lasot-official", s)["norm_precision"] == pytest.approx(0.5)
    assert summary("pytracking/otb", s)["norm_precision"] == pytest.approx(0.5)
    # T rounds the 0.5 px GT width to 0 (half to even): every normalized error is 0/0 or x/0 -> fails
    assert summary("trackingnet-devkit", s)["norm_precision"] == 0.0
    wide = seq([[10.0, 10.0, 10.0, 10.0]] * 2, [[10.0] * 4, [13.0, 10.0, 10.0, 10.0]])  # offset 0.3 w
    c = np.r_[np.full(6, 0.5), np.full(15, 1.0)]  # thresholds 0, 0.025, ..., 0.5: 0.3 passes from index 12
    c[:12] = 0.5
    assert summary("trackingnet-devkit", wide)["norm_precision"] == pytest.approx(np.trapezoid(c, dx=0.05))


# ---- aggregation -----------------------------------------------------------------------------------

def test_lasot_official_drops_empty_curves_pytracking_does_not():
    good = seq([G0] * 3, [G0] * 3, name="good")
    bad_gt = [[0.0, 10.0, 10.0, 10.0]] * 3           # every frame invalid: IoU fails everywhere
    bad = seq(bad_gt, [FAR] * 3, name="bad")
    assert summary("lasot-official", good, bad)["auc"] == pytest.approx(20 / 21)
    assert summary("pytracking/otb", good, bad)["auc"] == pytest.approx(10 / 21, abs=1e-7)


def test_got10k_pools_frames_otb_averages_sequences():
    a = seq([G0] * 3, [G0, G0, G0], name="a", size=(100, 100))          # 2 scored frames, IoU 1
    b = seq([G0] * 5, [G0, FAR, FAR, FAR, FAR], name="b", size=(100, 100))  # 4 scored frames, IoU 0
    assert summary("got10k-toolkit/got10k", a, b)["ao"] == pytest.approx(2 / 6)   # frame-weighted
    assert summary("got10k-toolkit/otb", a, b)["sr50"] == pytest.approx((1 + 1 / 5) / 2)  # sequence-weighted


def test_runs_are_pooled_per_sequence():
    run1, run2 = [G0, G0, G0], [G0, SHIFT5, FAR]
    s = SequenceData("r", np.array([G0] * 3), np.ones(3, bool), np.array([run1, run2]), image_size=(100, 100))
    assert score_tracker(PROTOCOLS["got10k-toolkit/got10k"], [s]).summary()["ao"] == pytest.approx((1 + 1 + 1 / 3) / 4)
    sc = score_tracker(PROTOCOLS["got10k-toolkit/otb"], [s])
    assert sc.summary()["auc"] == pytest.approx(((20 * 3) / 3 + (20 + 7 + 0) / 3) / 2 / 21)


def test_trackingnet_rounds_half_to_even_then_scores_with_trapz():
    gt = [[10.4, 10.6, 10.5, 9.5]] * 2                 # -> (10, 11, 10, 10)
    pred = [gt[0], [10.5, 11.4, 9.5, 10.49]]            # -> (10, 11, 10, 10): identical after rounding
    s = seq(gt, pred)
    assert summary("trackingnet-devkit", s)["auc"] == pytest.approx(1.0)
    assert summary("got10k-toolkit/otb", s)["auc"] < 20 / 21


def test_fps_rules():
    a = seq([G0] * 2, [G0] * 2, name="a", size=(100, 100), times=[[0.1], [0.1]])
    b = seq([G0] * 4, [G0] * 4, name="b", size=(100, 100), times=[[0.05], [0.05], [np.nan], [0.0]])
    assert summary("got10k-toolkit/got10k", a, b)["fps"] == pytest.approx((10 + 10 + 20 + 20) / 4)
    assert summary("got10k-toolkit/otb", a, b)["fps"] == pytest.approx(15.0)
    assert summary("got10k-toolkit/otb", seq([G0], [G0]))["fps"] is None


def test_float32_curves_of_pytracking():
    s = seq([G0] * 3, [G0, SHIFT5, G0])
    c = score_tracker(PROTOCOLS["pytracking/otb"], [s]).sequence_curves("success")
    assert c[0, 7] == np.float64(np.float32(2) / np.float32(3))   # t = 0.35: 2 of 3, stored as float32 like P
    assert c[0, 7] != 2 / 3


# ---- profile resolution and declarations -----------------------------------------------------------

@pytest.mark.parametrize("benchmark, expected", [
    ("got10k", "got10k-toolkit/got10k"), ("lasot", "lasot-official"), ("otb", "got10k-toolkit/otb"),
    ("trackingnet", "trackingnet-devkit"), ("synthetic", "got10k-toolkit/got10k"), ("folder", "got10k-toolkit/otb"),
])
def test_documented_defaults(benchmark, expected):
    assert get_protocol(None, benchmark).name == expected


def test_variant_resolution_and_errors():
    assert get_protocol("pytracking", "lasot").name == "pytracking/lasot"
    assert get_protocol("pytracking", "trackingnet").name == "pytracking/otb"
    assert get_protocol("got10k-toolkit", "lasot").name == "got10k-toolkit/lasot"
    assert get_protocol("lasot-official", "otb").name == "lasot-official"
    assert get_protocol("got10k-toolkit/lasot", "otb").name == "got10k-toolkit/lasot"
    with pytest.raises(KeyError, match="unknown protocol"):
        get_protocol("vot", "otb")
    with pytest.raises(KeyError, match="unknown benchmark"):
        get_protocol(None, "uav123")


def test_threshold_arrays_are_the_toolkits_values():
    p = PROTOCOLS
    assert p["got10k-toolkit/got10k"].success.array[75] == 0.75 and p["got10k-toolkit/got10k"].success.array.size == 101
    assert p["pytracking/otb"].success.array[15] == 0.75 and p["pytracking/otb"].success.array[10] == 0.5
    # G normalized thresholds (linspace) differ from P/L (i / 100) by 1 ULP at 0.35, 0.41, 0.47
    diff = np.flatnonzero(p["got10k-toolkit/lasot"].norm_precision.array != p["lasot-official"].norm_precision.array)
    np.testing.assert_array_equal(diff, [35, 41, 47])
    np.testing.assert_array_equal(p["trackingnet-devkit"].precision.array, np.arange(21) * 2.5)


def test_declaration_errors_name_the_field():
    with pytest.raises(ValueError, match="aggregation"):
        Protocol(name="x", source="", aggregation="median")
    with pytest.raises(ValueError, match="FrameRule.iou"):
        FrameRule(iou="ignore")
    with pytest.raises(ValueError, match="score_index"):
        CurveSpec((0.0, 1.0), "<=", "index", 5)
    with pytest.raises(ValueError, match="sr"):
        Protocol(name="x", source="", sr=(("sr50", 50),))
    assert PROTOCOLS["lasot-official"].describe()["success"]["thresholds"][1] == 0.05


def test_length_mismatch_is_an_error_not_truncation():
    with pytest.raises(ValueError, match="3 predicted boxes for 4 ground-truth frames"):
        seq([G0] * 4, [G0] * 3)
