"""A network that outputs NaN / inf / degenerate boxes never crashes a run: both online trackers
repeat the previous box with ``flag="fallback"`` and the runner records the flagged frames."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

import trackers.cia.tracker as cia_tracker
from datasets.loaders.got10k import GOT10kDataset
from evaluation import results as rf
from evaluation.runner import run_tracker
from trackers.registry import family_api, get_config

BAD_FRAMES = (2, 4, 5)     # tracked frames (1-based call index = frame index) whose output is broken


@pytest.fixture
def dataset(tmp_path, tools):
    root = tools.write_got10k(tmp_path / "got", (8,))
    return GOT10kDataset(root, "val")


def _hctrack_breaker(breakage: str):
    """Wrap `forward_track` so calls in BAD_FRAMES return a broken score map or box of the given kind."""

    def wrap(fn):
        calls = {"n": 0}

        def forward_track(*args, **kwargs):
            out = dict(fn(*args, **kwargs))
            calls["n"] += 1
            if calls["n"] in BAD_FRAMES:
                box = out["pred_boxes"].clone()
                if breakage == "nan size":
                    box[:, 2:] = float("nan")
                elif breakage == "nan score":
                    out["score_map"] = torch.full_like(out["score_map"], float("nan"))
                elif breakage == "inf offset":
                    box[:, :2] = float("inf")
                elif breakage == "zero size":
                    box[:, 2:] = 0.0
                out["pred_boxes"] = box
            return out

        return forward_track

    return wrap


def _check_run(out, seq, tally):
    boxes = rf.read_box_file(out / f"{seq.name}.txt")
    assert boxes.shape == (len(seq), 4) and np.isfinite(boxes).all() and (boxes[:, 2:] > 0).all()
    flags = json.loads((out / f"{seq.name}_flags.json").read_text())["frames"]
    assert flags == {str(i): "fallback" for i in BAD_FRAMES}
    for i in BAD_FRAMES:                                  # the previous box, repeated
        np.testing.assert_array_equal(boxes[i], boxes[i - 1])
    assert json.loads((out / "failures.json").read_text()) == {}
    tally.add("bad_inputs", len(BAD_FRAMES))


@pytest.mark.parametrize("breakage", ["nan size", "nan score", "inf offset", "zero size"])
def test_hctrack_broken_network_output_falls_back_and_is_recorded(dataset, tmp_path, tally, breakage):
    torch.manual_seed(0)
    cfg = get_config("hctrack-tiny")
    api = family_api(cfg)
    model = api.build_model(cfg).eval()
    model.forward_track = _hctrack_breaker(breakage)(model.forward_track)   # before the tracker binds it
    out = tmp_path / "hctrack"
    run_tracker(lambda: api.build_tracker(cfg, model, "cpu"), dataset, out, progress=False)
    _check_run(out, dataset[0], tally)


@pytest.fixture(scope="module")
def cia():
    torch.manual_seed(0)
    cfg = get_config("cia-tiny")
    return cfg, family_api(cfg).build_model(cfg).eval()


@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_cia_non_finite_score_map_falls_back_and_is_recorded(cia, dataset, tmp_path, tally, monkeypatch, value):
    cfg, model = cia
    real, calls = cia_tracker.apply_filter, {"n": 0}

    def apply_filter(feat, filt):
        scores = real(feat, filt)
        calls["n"] += 1
        return torch.full_like(scores, value) if calls["n"] in BAD_FRAMES else scores

    monkeypatch.setattr(cia_tracker, "apply_filter", apply_filter)
    out = tmp_path / "cia"
    run_tracker(lambda: family_api(cfg).build_tracker(cfg, model, "cpu"), dataset, out, progress=False)
    _check_run(out, dataset[0], tally)


def test_cia_nan_box_refinement_keeps_the_classifier_position(cia, dataset, monkeypatch, tally):
    """All IoU-Net candidates NaN: no box survives selection, the classifier's position with the
    previous size is used (a valid box, not a fallback)."""
    cfg, model = cia
    real = cia_tracker.optimize_boxes

    def optimize_boxes(*args, **kwargs):
        boxes, scores = real(*args, **kwargs)
        return torch.full_like(boxes, float("nan")), scores

    monkeypatch.setattr(cia_tracker, "optimize_boxes", optimize_boxes)
    seq = dataset[0]
    from datasets.frames import read_frame

    trk = family_api(cfg).build_tracker(cfg, model, "cpu")
    trk.initialize(read_frame(seq.frames[0]), seq.init_box)
    for f in seq.frames[1:4]:
        r = trk.track(read_frame(f))
        assert r.flag == "" and np.isfinite(r.box_xywh).all()
        np.testing.assert_allclose(r.box_xywh[2:], seq.init_box[2:])   # size never refined
    tally.add("bad_inputs")
