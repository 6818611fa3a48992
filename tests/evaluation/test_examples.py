"""evaluation.examples: the fake trackers used for the docs figures rank as intended."""
from __future__ import annotations

import numpy as np

from evaluation import results as rf
from evaluation.examples import TRACKERS, example_sequences, fake_predictions
from evaluation.report import evaluate_trackers


def test_fake_trackers_rank_by_quality(tmp_path):
    seqs = example_sequences(n_seq=6, seed=3)
    assert all(np.asarray(list(s.attributes.values())).dtype == bool for s in seqs)
    rng = np.random.default_rng(0)
    dirs = []
    for name, (jitter, loss) in TRACKERS.items():
        for s in seqs:
            p = fake_predictions(s, jitter, loss, rng)
            np.testing.assert_array_equal(p[0], s.boxes[0])
            rf.write_box_file(tmp_path / name / f"{s.name}.txt", p)
        dirs.append(tmp_path / name)
    ev = evaluate_trackers("lasot", dirs, dataset=seqs, protocol="lasot-official")
    auc = {n: t["auc"] for n, t in ev["trackers"].items()}
    assert auc["strong"] > auc["medium"] > auc["weak"] > 0
