"""evaluation.report.evaluate_trackers and the ``experiments.evaluate`` CLI."""
from __future__ import annotations

import json
import sys
import types

import numpy as np
import pytest

from datasets.sequence import Sequence
from evaluation import results as rf
from evaluation.report import GroundTruthWithheldError, evaluate_trackers, image_size, sequence_attributes
from experiments import evaluate as cli


def write_results(d, dataset, shift, runs=1):
    for s in dataset:
        for r in range(1, runs + 1):
            pred = s.boxes + np.array([shift * r, 0.0, 0.0, 0.0])
            path = rf.box_path(d, s.name, "got10k" if runs > 1 else "otb", r)
            rf.write_box_file(path, pred)
        rf.write_time_file(rf.time_path(d, s.name, "got10k" if runs > 1 else "otb"), np.full((len(s), runs), 0.02))


def test_json_per_tracker_with_nulls_where_the_protocol_has_no_figure(tmp_path, got10k_val):
    good, bad = tmp_path / "good", tmp_path / "bad"
    write_results(good, got10k_val, 0.0)
    write_results(bad, got10k_val, 6.0, runs=2)
    ev = evaluate_trackers("got10k", [good, bad], dataset=got10k_val, json_path=tmp_path / "ev.json")
    assert ev == json.loads((tmp_path / "ev.json").read_text())
    assert ev["protocol"] == "got10k-toolkit/got10k" and ev["sequences"] == 3
    g, b = ev["trackers"]["good"], ev["trackers"]["bad"]
    assert g["ao"] == pytest.approx(1.0) and g["sr50"] == 1.0 and g["fps"] == pytest.approx(50.0)
    assert g["auc"] is None and g["precision"] is None and g["norm_precision"] is None
    assert set(g["sequences"]) == set(got10k_val.names) and g["sequences"][got10k_val.names[0]]["length"] == 12
    assert b["runs"] == 2 and len(b["run_scores"]) == 2
    assert b["run_scores"][0]["ao"] > b["run_scores"][1]["ao"]  # run 2 is shifted twice as far
    assert b["ao"] == pytest.approx(np.mean([r["ao"] for r in b["run_scores"]]), abs=0.02)
    assert b["run_std"]["ao"] > 0 and b["run_std"]["auc"] is None
    assert len(g["curves"]["success"]["values"]) == 101

    lo = evaluate_trackers("got10k", [good], dataset=got10k_val, protocol="lasot-official")
    t = lo["trackers"]["good"]
    assert lo["protocol"] == "lasot-official" and t["ao"] is None and t["sr50"] is None
    # the absent frames (2 of 36) count as failures under the LaSOT toolkit's rule
    assert t["precision"] == pytest.approx((1 + 1 + (9 - 2) / 9) / 3)


def test_nan_ao_becomes_null_with_a_warning(tmp_path, got10k_val):
    d = tmp_path / "nanny"
    write_results(d, got10k_val, 0.0)
    f = d / f"{got10k_val.names[0]}.txt"
    lines = f.read_text().splitlines()
    lines[3] = "nan,nan,nan,nan"
    f.write_text("\n".join(lines) + "\n")
    t = evaluate_trackers("got10k", [d], dataset=got10k_val)["trackers"]["nanny"]
    assert t["ao"] is None and any("ao is undefined" in w for w in t["warnings"])
    assert t["sr50"] == pytest.approx(1 - 1 / 31)


def test_attributes_only_from_per_sequence_flags(tmp_path):
    frames = tuple(tmp_path / f"{i}.jpg" for i in range(3))
    boxes = np.tile([10.0, 10.0, 10.0, 10.0], (3, 1))

    def mk(name, flags):
        attrs = {**flags, "full_occlusion": np.zeros(3, bool)}  # per-frame arrays are not attributes
        return Sequence(name, frames, boxes, np.ones(3, bool), attributes=attrs)

    seqs = [mk("a", {"IV": True, "FM": False}), mk("b", {"IV": False, "FM": False}), mk("c", {"IV": True, "FM": True})]
    assert sequence_attributes(seqs[0]) == {"IV": True, "FM": False}
    d = tmp_path / "trk"
    for s in seqs:
        pred = s.boxes + (0 if s.name != "c" else 30)
        rf.write_box_file(d / f"{s.name}.txt", pred)
    ev = evaluate_trackers("lasot", [d], dataset=seqs)
    assert set(ev["attributes"]) == {"IV", "FM"}
    assert ev["attributes"]["IV"]["sequences"] == 2
    iv = ev["attributes"]["IV"]["trackers"]["trk"]
    fm = ev["attributes"]["FM"]["trackers"]["trk"]
    assert iv["auc"] == pytest.approx((20 / 21 + 20 / 21 / 3) / 2) and fm["auc"] == pytest.approx(20 / 21 / 3)


def test_withheld_ground_truth_and_bad_inputs(tmp_path, evtools):
    root = evtools.write_got10k_fixture(tmp_path / "d", split="test", prefix="GOT-10k_Test")
    for d in (root / "test").iterdir():
        if d.is_dir():
            gt = (d / "groundtruth.txt").read_text().splitlines()[0]
            (d / "groundtruth.txt").write_text(gt + "\n")
    test = evtools.Got10kStandIn(root, "test")
    with pytest.raises(GroundTruthWithheldError, match="experiments.pack"):
        evaluate_trackers("got10k", [tmp_path / "r"], dataset=test)
    with pytest.raises(ValueError, match="several results folders are named"):
        evaluate_trackers("got10k", [tmp_path / "a" / "x", tmp_path / "b" / "x"], dataset=test)
    with pytest.raises(KeyError, match="unknown protocol"):
        evaluate_trackers("got10k", [tmp_path / "r"], dataset=test, protocol="nope")


def test_image_size_sources(tmp_path, got10k_val):
    assert image_size(got10k_val[0]) == (64.0, 48.0)              # "(W, H)" string
    s = got10k_val[0]
    bare = Sequence(s.name, s.frames, s.boxes, s.visible)          # no meta: read the first frame
    assert image_size(bare) == (64.0, 48.0)
    assert image_size(Sequence(s.name, s.frames, s.boxes, s.visible, meta={"resolution": (320, 240)})) == (320, 240)


def test_cli_scores_writes_outputs_and_reports_errors(tmp_path, got10k_val, monkeypatch, capsys):
    fake = types.ModuleType("datasets.loaders")
    calls = []

    def get_dataset(benchmark, root=None, split=None):
        calls.append((benchmark, root, split))
        return got10k_val

    fake.get_dataset = get_dataset
    monkeypatch.setitem(sys.modules, "datasets.loaders", fake)
    d = tmp_path / "mytracker"
    write_results(d, got10k_val, 1.0)
    rc = cli.main(["got10k", str(d), "--data-root", "ROOT", "--split", "val", "--json", str(tmp_path / "o.json"),
                   "--tables", str(tmp_path / "tables")])  # --plots: see test_plots (slow on 2 cores)
    out = capsys.readouterr().out
    assert rc == 0 and calls == [("got10k", "ROOT", "val")]
    assert "| mytracker | ours (got10k-toolkit/got10k) |" in out
    assert "published: HCTrack Table 1" in out and "| HCTrack_256 |" in out
    assert (tmp_path / "tables" / "trackers.csv").exists() and (tmp_path / "tables" / "sequences.md").exists()
    assert json.loads((tmp_path / "o.json").read_text())["trackers"]["mytracker"]["ao"] > 0.5
    (d / f"{got10k_val.names[0]}.txt").write_text("1,2,3,4\n")
    assert cli.main(["got10k", str(d)]) == 2
    assert "1 rows for 12 frames" in capsys.readouterr().err
