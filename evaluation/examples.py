"""Example plots from synthetic results: ``python -m evaluation.examples OUT_DIR [--prefix example_]``.

Three fake trackers of different quality ("strong", "medium", "weak") on 60 LaSOT-like sequences
(ground-truth random walks, absent segments, the 14 LaSOT attributes drawn at random). Trackers
jitter around the target and lose it for stretches whose length grows with the difficulty of the
sequence's attributes (full occlusion, out-of-view, fast motion, low resolution). The results go
through the real pipeline (result files -> `evaluate_trackers` -> `plots`), so the example figures
show what a real evaluation draws; they are meant to be regenerated from real runs.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

from datasets.sequence import Sequence
from evaluation import results as rf
from evaluation.plots import plot_evaluation
from evaluation.report import evaluate_trackers

LASOT_ATTRIBUTES = ("IV", "POC", "DEF", "MB", "CM", "ROT", "BC", "VC", "SV", "FOC", "FM", "OV", "LR", "ARC")
HARD = {"FOC": 0.35, "OV": 0.3, "FM": 0.2, "LR": 0.15, "BC": 0.1}
TRACKERS = {"strong": (0.06, 0.02), "medium": (0.12, 0.08), "weak": (0.22, 0.2)}  # (jitter, loss rate)


def example_sequences(n_seq: int = 60, seed: int = 0) -> list[Sequence]:
    """LaSOT-like synthetic ground truth with per-sequence attributes (frames are never read)."""
    rng = np.random.default_rng(seed)
    out = []
    for s in range(n_seq):
        n = int(rng.integers(150, 400))
        wh = np.clip(60 + np.cumsum(rng.normal(0, 0.8, (n, 2)), axis=0), 8, 300)
        xy = np.clip(400 + np.cumsum(rng.normal(0, 3.0, (n, 2)), axis=0), 1, 1100)
        gt = np.round(np.c_[xy, wh])
        attrs = {a: bool(rng.random() < 0.4) for a in LASOT_ATTRIBUTES}
        visible = np.ones(n, bool)
        if attrs["FOC"] or attrs["OV"]:
            k = int(rng.integers(5, 25))
            start = int(rng.integers(1, n - k))
            visible[start : start + k] = False
        frames = tuple(Path(f"/nonexistent/seq{s}/{i:08d}.jpg") for i in range(n))
        out.append(Sequence(f"example-{s}", frames, gt, visible, attributes=attrs, meta={"resolution": (1280, 720)}))
    return out


def fake_predictions(seq: Sequence, jitter: float, loss: float, rng: np.random.Generator) -> np.ndarray:
    """(N, 4) predictions: relative jitter around the GT, plus lost stretches far from the target."""
    gt = seq.boxes
    n = len(gt)
    size = np.sqrt(gt[:, 2:3] * gt[:, 3:4])
    pred = gt + rng.normal(0, 1, (n, 4)) * jitter * size
    pred[:, 2:] = np.abs(pred[:, 2:])
    difficulty = loss * (1 + sum(w for a, w in HARD.items() if seq.attributes.get(a)) * 4)
    lost = np.zeros(n, bool)
    i = 1
    while i < n:
        if rng.random() < difficulty / 20:
            k = int(rng.integers(5, 60))
            lost[i : i + k] = True
            i += k
        i += 1
    pred[lost, :2] += rng.uniform(2, 6) * size[lost]
    pred[0] = gt[0]
    return pred


def make_examples(out_dir: str | Path, prefix: str = "example_", seed: int = 0) -> list[Path]:
    """Write the example plots (PNG + PDF) to `out_dir`; returns the written files."""
    seqs = example_sequences(seed=seed)
    rng = np.random.default_rng(seed + 1)
    with tempfile.TemporaryDirectory() as tmp:
        dirs = []
        for name, (jitter, loss) in TRACKERS.items():
            d = Path(tmp) / name
            for s in seqs:
                rf.write_box_file(rf.box_path(d, s.name, "otb"), fake_predictions(s, jitter, loss, rng))
            dirs.append(d)
        ev = evaluate_trackers("lasot", dirs, dataset=seqs, protocol="lasot-official")
    ev["benchmark"] = "synthetic LaSOT-like results"
    return plot_evaluation(ev, out_dir, prefix=prefix)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m evaluation.examples", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("out_dir", type=Path)
    p.add_argument("--prefix", default="example_")
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args(argv)
    for path in make_examples(a.out_dir, a.prefix, a.seed):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
