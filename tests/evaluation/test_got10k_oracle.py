"""The got10k-toolkit profile against the installed PyPI `got10k` toolkit (0.1.3) on random data.

The toolkit's own functions are called: ``utils.metrics.rect_iou`` / ``center_error``,
``ExperimentOTB._calc_curves`` (report-level averaging replicated call for call), and the complete
``ExperimentGOT10k.report`` run on an on-disk GOT-10k val fixture with text result files.
"""
from __future__ import annotations

import numpy as np
import pytest

got10k_metrics = pytest.importorskip("got10k.utils.metrics")
from got10k.experiments.got10k import ExperimentGOT10k  # noqa: E402
from got10k.experiments.otb import ExperimentOTB  # noqa: E402

from evaluation import metrics  # noqa: E402
from evaluation.protocols import get_protocol  # noqa: E402
from evaluation.report import evaluate_trackers  # noqa: E402
from evaluation.results import box_path, time_path, write_box_file, write_time_file  # noqa: E402
from evaluation.scoring import SequenceData, score_tracker  # noqa: E402

TOL = 1e-12


def random_sequences(rng: np.random.Generator, n_seq: int, img=(320.0, 240.0), nan_frac=0.0):
    """GT and predictions of varying quality, some off the image, a few zero-size, integer ties."""
    out = []
    for s in range(n_seq):
        n = int(rng.integers(20, 120))
        xy = rng.uniform(-20, img[0] - 20, (n, 2))
        wh = rng.uniform(2, 80, (n, 2))
        gt = np.c_[xy, wh]
        if s % 3 == 0:
            gt = np.round(gt)  # integer boxes: exact ties at thresholds
        noise = rng.normal(0, rng.uniform(1, 30), (n, 4))
        pred = gt + noise
        pred[:, 2:] = np.abs(pred[:, 2:])
        pred[rng.random(n) < 0.03, 2] = 0.0
        if s % 3 == 0:
            pred = np.round(pred)
        if nan_frac:
            pred[rng.random(n) < nan_frac] = np.nan
        out.append((gt, pred))
    return out


def test_rect_iou_and_center_error_equal_toolkit():
    rng = np.random.default_rng(0)
    for gt, pred in random_sequences(rng, 10):
        np.testing.assert_allclose(
            metrics.iou_xywh(pred, gt, eps=metrics.EPS, clip=True),
            got10k_metrics.rect_iou(pred.copy(), gt.copy()), rtol=0, atol=TOL)
        np.testing.assert_allclose(metrics.center_error(pred, gt), got10k_metrics.center_error(pred, gt), rtol=0, atol=TOL)
        b = metrics.bound_boxes_got10k
        np.testing.assert_allclose(
            metrics.iou_xywh(b(pred, 320, 240), b(gt, 320, 240), eps=metrics.EPS, clip=True),
            got10k_metrics.rect_iou(pred.copy(), gt.copy(), bound=(320, 240)), rtol=0, atol=TOL)


def _toolkit_otb_report(seqs):
    """ExperimentOTB.report's arithmetic with the toolkit's own _calc_metrics / _calc_curves."""
    exp = object.__new__(ExperimentOTB)
    exp.nbins_iou, exp.nbins_ce = 21, 51
    succ = np.zeros((len(seqs), 21))
    prec = np.zeros((len(seqs), 51))
    seq_wise = []
    for s, (gt, pred) in enumerate(seqs):
        boxes = pred.copy()
        boxes[0] = gt[0]
        ious, ces = exp._calc_metrics(boxes, gt)
        succ[s], prec[s] = exp._calc_curves(ious, ces)
        seq_wise.append((np.mean(succ[s]), prec[s][20], succ[s][10]))
    sc, pc = np.mean(succ, axis=0), np.mean(prec, axis=0)
    return sc, pc, float(np.mean(sc)), float(pc[20]), float(sc[10]), seq_wise


@pytest.mark.parametrize("nan_frac", [0.0, 0.05])
def test_otb_profile_equals_toolkit(nan_frac):
    rng = np.random.default_rng(1 + int(nan_frac * 100))
    seqs = random_sequences(rng, 25, nan_frac=nan_frac)
    sc, pc, auc, p20, sr, seq_wise = _toolkit_otb_report(seqs)
    data = [SequenceData(f"s{i}", gt, np.ones(len(gt), bool), pred) for i, (gt, pred) in enumerate(seqs)]
    score = score_tracker(get_protocol("got10k-toolkit", "otb"), data)
    np.testing.assert_allclose(score.curve("success"), sc, rtol=0, atol=TOL)
    np.testing.assert_allclose(score.curve("precision"), pc, rtol=0, atol=TOL)
    s = score.summary()
    assert abs(s["auc"] - auc) <= TOL and abs(s["precision"] - p20) <= TOL and abs(s["sr50"] - sr) <= TOL
    assert s["ao"] is None and s["norm_precision"] is None and s["sr75"] is None
    for i, (a, p, r) in enumerate(seq_wise):
        q = score.sequence_summary(i)
        assert abs(q["auc"] - a) <= TOL and abs(q["precision"] - p) <= TOL and abs(q["sr50"] - r) <= TOL


def test_got10k_profile_equals_toolkit_evaluate_on_arrays():
    rng = np.random.default_rng(3)
    seqs = random_sequences(rng, 15)
    vis = [rng.random(len(g)) > 0.1 for g, _ in seqs]
    exp = object.__new__(ExperimentGOT10k)
    pooled = np.concatenate([
        got10k_metrics.rect_iou(p[1:].copy(), g[1:].copy(), bound=(320, 240))[v[1:]]
        for (g, p), v in zip(seqs, vis)
    ])
    ao, sr, _, curve = exp._evaluate(pooled, np.array([]))
    data = [SequenceData(f"s{i}", g, v, p, image_size=(320, 240)) for i, ((g, p), v) in enumerate(zip(seqs, vis))]
    score = score_tracker(get_protocol("got10k-toolkit", "got10k"), data)
    s = score.summary()
    assert abs(s["ao"] - ao) <= TOL and abs(s["sr50"] - sr) <= TOL and abs(s["sr75"] - curve[75]) <= TOL
    np.testing.assert_allclose(score.curve("success"), curve, rtol=0, atol=TOL)
    assert s["auc"] is None and s["precision"] is None


def test_got10k_end_to_end_report_equals_toolkit(tmp_path, evtools):
    """Text result files with 3 runs and N x 3 time files, scored by ExperimentGOT10k.report and
    by evaluate_trackers on the same disk layout."""
    root = evtools.write_got10k_fixture(tmp_path / "data", lengths=(14, 9, 11, 16), absent={0: [3, 4], 2: [5]})
    ds = evtools.Got10kStandIn(root, "val")
    rng = np.random.default_rng(4)
    tracker = "oracle_trk"
    res_dir = tmp_path / "results" / "GOT-10k" / tracker
    for seq in ds:
        n = len(seq)
        for r in range(1, 4):
            pred = seq.boxes + rng.normal(0, 3.0, (n, 4))
            pred[:, 2:] = np.abs(pred[:, 2:])
            pred[0] = seq.boxes[0]
            write_box_file(box_path(res_dir, seq.name, "got10k", r), pred)
        write_time_file(time_path(res_dir, seq.name, "got10k"), rng.uniform(0.005, 0.05, (n, 3)))

    exp = ExperimentGOT10k(str(root), subset="val", result_dir=str(tmp_path / "results"), report_dir=str(tmp_path / "reports"))
    exp.plot_curves = lambda *a, **k: None  # the toolkit's 300-dpi PNG is not under test
    perf = exp.report([tracker])[tracker]

    ev = evaluate_trackers("got10k", [res_dir], dataset=ds, protocol="got10k-toolkit")
    ours = ev["trackers"][tracker]
    assert ev["protocol"] == "got10k-toolkit/got10k"
    assert abs(ours["ao"] - perf["overall"]["ao"]) <= TOL
    assert abs(ours["sr50"] - perf["overall"]["sr"]) <= TOL
    assert abs(ours["sr75"] - perf["overall"]["succ_curve"][75]) <= TOL
    assert abs(ours["fps"] - perf["overall"]["speed_fps"]) <= 1e-9 * perf["overall"]["speed_fps"]
    np.testing.assert_allclose(ours["curves"]["success"]["values"], perf["overall"]["succ_curve"], rtol=0, atol=TOL)
    for name, sw in perf["seq_wise"].items():
        q = ours["sequences"][name]
        assert abs(q["ao"] - sw["ao"]) <= TOL and abs(q["sr50"] - sw["sr"]) <= TOL
        assert abs(q["fps"] - sw["speed_fps"]) <= 1e-9 * sw["speed_fps"]
    assert ours["runs"] == 3 and len(ours["run_scores"]) == 3


def test_nan_prediction_makes_ao_nan_like_toolkit():
    rng = np.random.default_rng(5)
    (g, p), = random_sequences(rng, 1)
    p[5] = np.nan
    exp = object.__new__(ExperimentGOT10k)
    ious = got10k_metrics.rect_iou(p[1:].copy(), g[1:].copy(), bound=(320, 240))
    ao, sr, _, _ = exp._evaluate(ious, np.array([]))
    s = score_tracker(get_protocol("got10k-toolkit", "got10k"),
                      [SequenceData("s", g, np.ones(len(g), bool), p, image_size=(320, 240))]).summary()
    assert np.isnan(ao) and np.isnan(s["ao"])
    assert abs(s["sr50"] - sr) <= TOL
