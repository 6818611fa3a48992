"""trackers.adapters: one of our trackers inside the PyPI got10k toolkit's ExperimentGOT10k.

A tiny synthetic GOT-10k-layout val split (2 sequences x 12 frames) is generated into tmp_path;
cia-tiny (random init: the test is about the plumbing, not the score) runs through the toolkit's
own loop (PIL frames, ``init`` / ``update``, its result writer) and the toolkit's report scores it.
Truth: the sequences' frame counts and first boxes, and our evaluation of the same files.
"""
from __future__ import annotations

import contextlib
import io
import json
from dataclasses import asdict

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("got10k")
from got10k.experiments.got10k import ExperimentGOT10k  # noqa: E402

from datasets.loaders import get_dataset  # noqa: E402
from datasets.synthetic import SyntheticConfig, generate_synthetic  # noqa: E402
from evaluation.report import evaluate_trackers  # noqa: E402
from experiments.tracker_weights import WeightsSpec, load_model  # noqa: E402
from trackers.adapters import Got10kToolkitTracker, _to_rgb_array  # noqa: E402

N_SEQ, N_FRAMES = 2, 12


def test_to_rgb_array_converts_pil_and_rejects_bad_arrays():
    gray = Image.fromarray(np.arange(12, dtype=np.uint8).reshape(3, 4), mode="L")
    rgb = _to_rgb_array(gray)
    assert rgb.shape == (3, 4, 3) and rgb.dtype == np.uint8 and (rgb[..., 0] == rgb[..., 2]).all()
    with pytest.raises(ValueError, match="uint8 RGB"):
        _to_rgb_array(np.zeros((3, 4, 3), np.float32))


class _Recorder:
    """Stand-in online tracker recording what the adapter hands over; returns a fixed box."""

    name = "recorder"

    def __init__(self) -> None:
        self.calls: list = []

    def initialize(self, image, box):
        self.calls.append(("init", image.shape, image.dtype, box.dtype, box.tolist()))

    def track(self, image):
        self.calls.append(("track", image.shape))
        return np.array([1.0, 2.0, 3.0, 4.0]), 0.5


def test_adapter_converts_toolkit_calls():
    rec = _Recorder()
    t = Got10kToolkitTracker(rec)
    assert t.name == "recorder" and t.is_deterministic
    t.init(Image.new("RGB", (8, 6)), [1, 2, 3, 4])
    box = t.update(Image.new("RGB", (8, 6)))
    assert rec.calls == [("init", (6, 8, 3), np.uint8, np.float64, [1.0, 2.0, 3.0, 4.0]), ("track", (6, 8, 3))]
    assert box.tolist() == [1.0, 2.0, 3.0, 4.0]


@pytest.mark.slow
def test_cia_tiny_inside_got10k_toolkit(tmp_path):
    root = generate_synthetic(tmp_path / "data", SyntheticConfig(seed=5, train_sequences=0, val_sequences=N_SEQ,
                                                                  frames=N_FRAMES, splits=("val",)))
    lm = load_model("cia-tiny", WeightsSpec("random"))
    tracker = lm.tracker_factory()()
    exp = ExperimentGOT10k(str(root), subset="val", result_dir=str(tmp_path / "results"),
                           report_dir=str(tmp_path / "reports"))
    with contextlib.redirect_stdout(io.StringIO()):
        exp.run(Got10kToolkitTracker(tracker, name="cia-tiny"))
        perf = exp.report(["cia-tiny"])

    ds = get_dataset("synthetic", root, "val")
    res = tmp_path / "results" / "GOT-10k" / "cia-tiny"
    for seq in ds:
        boxes = np.loadtxt(res / seq.name / f"{seq.name}_001.txt", delimiter=",")
        assert boxes.shape == (N_FRAMES, 4)
        np.testing.assert_allclose(boxes[0], seq.boxes[0], atol=5e-4)   # the toolkit writes the init box
        assert np.isfinite(boxes).all() and (boxes[:, 2:] > 0).all()
        assert not (res / seq.name / f"{seq.name}_002.txt").exists()    # deterministic: one run
    assert json.loads((tmp_path / "reports" / "GOT-10k" / "cia-tiny" / "performance.json").read_text())
    overall = perf["cia-tiny"]["overall"]
    assert 0.0 <= overall["ao"] <= 1.0 and overall["speed_fps"] > 0
    ours = evaluate_trackers("synthetic", [res], dataset=ds)["trackers"]["cia-tiny"]
    assert ours["ao"] == pytest.approx(overall["ao"], abs=1e-9)
    assert asdict(lm.weights) == {"source": "random", "path": None}
