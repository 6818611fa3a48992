"""Scoring speed of every protocol profile on a LaSOT-sized result set generated in memory.

    python benchmarks/metrics.py [--sequences 280] [--repeats 3] [--out benchmarks/results/metrics.json]

The set mimics the LaSOT test set (docs/evaluation_protocols.md §5): 280 sequences of 1,000 to
9,999 frames (log-uniform, ~690k frames in all), integer 1-based ground truth random walks,
~2.7% absent frames (half with a 0,0,0,0 box, half with a stale box), and predictions of mixed
quality with a few zero-size boxes (and NaN boxes with ``--nan-fraction``; pytracking refuses those). Each protocol is timed from `SequenceData` objects to
the headline figures (`evaluation.scoring.score_tracker` + `summary`), best of `--repeats`, in
wall-clock and in process CPU seconds (the machine is shared: wall time depends on the load).
As a reference, the got10k toolkit's per-sequence ``ExperimentOTB`` arithmetic is timed on the
same arrays (when the `got10k` package is installed) and its AUC compared with ours.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from datasets.fileio import atomic_write_text  # noqa: E402
from evaluation.protocols import PROTOCOLS  # noqa: E402
from evaluation.scoring import SequenceData, score_tracker  # noqa: E402


def make_dataset(n_seq: int, seed: int = 0, nan_fraction: float = 0.0) -> list[SequenceData]:
    """LaSOT-like ground truth and predictions (see the module docstring)."""
    rng = np.random.default_rng(seed)
    lengths = np.exp(rng.uniform(np.log(1000), np.log(9999), n_seq)).astype(int)
    lengths = np.clip((lengths * (690_000 / lengths.sum() if n_seq == 280 else 1)).astype(int), 1000, 9999)
    seqs = []
    for s, n in enumerate(lengths):
        wh = np.clip(40 + np.cumsum(rng.normal(0, 0.5, (n, 2)), axis=0), 4, 400)
        xy = np.clip(300 + np.cumsum(rng.normal(0, 2.0, (n, 2)), axis=0), 1, 1200)
        gt = np.round(np.c_[xy, wh])
        visible = np.ones(n, bool)
        k = int(rng.binomial(n, 0.027)) if s % 5 < 3 else 0
        if k:
            start = int(rng.integers(1, n - k))
            visible[start : start + k] = False
            gt[start : start + k // 2] = 0.0  # 0,0,0,0 rows; the rest keep a stale box
        quality = rng.uniform(0.5, 30)
        pred = gt + rng.normal(0, quality, (n, 4))
        pred[:, 2:] = np.abs(pred[:, 2:])
        pred[rng.random(n) < 0.001, 2] = 0.0
        pred[rng.random(n) < nan_fraction] = np.nan
        seqs.append(SequenceData(f"seq-{s}", gt, visible, pred, image_size=(1280.0, 720.0),
                                 times=np.full((n, 1), 0.01)))
    return seqs


def time_protocol(name: str, seqs: list[SequenceData], repeats: int) -> tuple[float, float, dict | str]:
    """Best wall-clock and best process CPU seconds over `repeats`, and the figures."""
    wall, cpu, out = np.inf, np.inf, None
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        try:
            out = score_tracker(PROTOCOLS[name], seqs).summary()
        except ValueError as e:  # pytracking refuses NaN predictions
            out = f"raises: {str(e).splitlines()[0][:90]}"
        wall, cpu = min(wall, time.perf_counter() - t0), min(cpu, time.process_time() - c0)
    return wall, cpu, out


def toolkit_reference(seqs: list[SequenceData]) -> tuple[float, float] | None:
    """CPU time and AUC of the got10k toolkit's per-sequence OTB arithmetic (its own functions)."""
    try:
        from got10k.experiments.otb import ExperimentOTB
    except ImportError:
        return None
    exp = object.__new__(ExperimentOTB)
    exp.nbins_iou, exp.nbins_ce = 21, 51
    t0 = time.process_time()
    succ = np.zeros((len(seqs), 21))
    for i, s in enumerate(seqs):
        boxes = s.pred[0].copy()
        boxes[0] = s.gt[0]
        ious, ces = exp._calc_metrics(boxes, s.gt)
        succ[i], _ = exp._calc_curves(ious, ces)
    auc = float(np.mean(np.mean(succ, axis=0)))
    return time.process_time() - t0, auc


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sequences", type=int, default=280)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--nan-fraction", type=float, default=0.0, help="fraction of NaN predicted boxes")
    p.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "metrics.json")
    a = p.parse_args(argv)
    t0 = time.perf_counter()
    seqs = make_dataset(a.sequences, nan_fraction=a.nan_fraction)
    frames = sum(len(s) for s in seqs)
    print(f"generated {len(seqs)} sequences, {frames} frames in {time.perf_counter() - t0:.1f} s")
    rows = []
    for name in PROTOCOLS:
        wall, cpu, out = time_protocol(name, seqs, a.repeats)
        rows.append({"protocol": name, "wall_seconds": round(wall, 4), "cpu_seconds": round(cpu, 4),
                     "frames_per_cpu_second": round(frames / cpu), "figures": out})
    ref = toolkit_reference(seqs)
    print("\n| protocol | wall (s) | CPU (s) | Mframes/CPU-s | AUC | precision | norm. prec. | AO |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    fmt = lambda v: "-" if v is None or (isinstance(v, float) and np.isnan(v)) else f"{v:.4f}"  # noqa: E731
    for r in rows:
        f = r["figures"]
        vals = ["-"] * 4 if isinstance(f, str) else [fmt(f[k]) for k in ("auc", "precision", "norm_precision", "ao")]
        note = f" ({f})" if isinstance(f, str) else ""
        print(f"| {r['protocol']}{note} | {r['wall_seconds']:.3f} | {r['cpu_seconds']:.3f} | "
              f"{r['frames_per_cpu_second'] / 1e6:.2f} | " + " | ".join(vals) + " |")
    result = {
        "sequences": len(seqs), "frames": frames, "repeats": a.repeats,
        "load_average_1min": os.getloadavg()[0],
        "machine": {"python": platform.python_version(), "numpy": np.__version__, "cpus": os.cpu_count(),
                    "processor": platform.processor() or platform.machine()},
        "protocols": rows,
    }
    if ref is not None:
        ours = next(r for r in rows if r["protocol"] == "got10k-toolkit/otb")["figures"]["auc"]
        result["got10k_toolkit_reference"] = {"protocol": "got10k-toolkit/otb", "cpu_seconds": round(ref[0], 4),
                                              "auc": ref[1], "abs_diff_auc": abs(ref[1] - ours)}
        print(f"\ngot10k toolkit per-sequence loop (OTB rule): {ref[0]:.3f} CPU s, AUC {ref[1]:.6f} "
              f"(|diff| to ours {abs(ref[1] - ours):.1e})")
    atomic_write_text(a.out, json.dumps(result, indent=1) + "\n")
    print(f"wrote {a.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
