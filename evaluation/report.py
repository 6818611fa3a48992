"""Score one or many trackers' raw results on a benchmark: the library behind ``experiments.evaluate``.

`evaluate_trackers` loads the data set, checks every tracker's results complete (every sequence,
every frame), scores them under a protocol profile, and returns (and optionally writes) a plain
JSON-able dict::

    {"benchmark": ..., "split": ..., "protocol": "<variant name>", "protocol_source": ...,
     "trackers": {name: {"auc", "precision", "norm_precision", "ao", "sr50", "sr75", "fps",
                         "runs", "curves": {kind: {"thresholds": [...], "values": [...]}},
                         "sequences": {seq: {<same figures>, "length", "runs"}},
                         "run_scores": [...] (R > 1 runs), "run_std": {...},
                         "warnings": [...], "results_dir": ...}},
     "attributes": {attr: {"sequences": n, "trackers": {name: {<figures>, "curve": [...]}}}}}

Figures are fractions in [0, 1] (fps in frames/s); None (JSON null) where the protocol has no such
figure or it is undefined (e.g. AO is NaN when a prediction is NaN under the got10k toolkit; the
tracker's ``warnings`` then say so). A tracker's name is its results folder's name.
"""
from __future__ import annotations

import ast
import json
import math
from pathlib import Path
from typing import Any, Iterable, Sequence as Seq

import numpy as np

from datasets.fileio import atomic_write_text, clean_stale_tmp
from datasets.sequence import Sequence, SequenceDataset
from evaluation.protocols import Protocol, get_protocol
from evaluation.results import BoxAdapter, TrackerResults, load_tracker_results
from evaluation.scoring import SequenceData, TrackerScore, score_tracker

FIGURES = ("auc", "precision", "norm_precision", "ao", "sr50", "sr75", "fps")
CURVE_KINDS = ("success", "precision", "norm_precision")


class GroundTruthWithheldError(ValueError):
    """The split has no ground truth after frame 0 (GOT-10k / TrackingNet test): pack for the server."""


def image_size(seq: Sequence) -> tuple[float, float]:
    """(W, H) of a sequence's frames: ``meta["resolution"]`` (a (W, H) pair or the GOT-10k
    ``"(W, H)"`` string), else ``meta["width"]`` / ``meta["height"]``, else the first frame."""
    meta = seq.meta or {}
    res = meta.get("resolution")
    if isinstance(res, str):
        try:
            res = ast.literal_eval(res)
        except (ValueError, SyntaxError):
            raise ValueError(f"sequence {seq.name!r}: meta resolution {res!r} is not '(W, H)'") from None
    if res is not None and len(res) == 2:
        return float(res[0]), float(res[1])
    if "width" in meta and "height" in meta:
        return float(meta["width"]), float(meta["height"])
    from datasets.frames import read_frame

    h, w = read_frame(seq.frames[0]).shape[:2]
    return float(w), float(h)


def sequence_attributes(seq: Sequence) -> dict[str, bool]:
    """Per-sequence attribute flags (LaSOT's 14, OTB's 11): the scalar boolean / 0-1 entries of
    ``seq.attributes``. Per-frame label arrays (GOT-10k ``cover``, LaSOT ``full_occlusion``, ...)
    are not sequence attributes and are skipped."""
    out = {}
    for key, value in (seq.attributes or {}).items():
        arr = np.asarray(value)
        if arr.ndim == 0 and arr.dtype.kind in "biu":
            out[str(key)] = bool(arr)
    return out


def _clean(x: Any) -> Any:
    """float NaN/inf -> None, numpy scalars -> Python, recursively."""
    if isinstance(x, dict):
        return {k: _clean(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_clean(v) for v in x]
    if isinstance(x, (np.floating, float)):
        return float(x) if math.isfinite(float(x)) else None
    if isinstance(x, np.integer):
        return int(x)
    return x


def _curves(score: TrackerScore, subset: np.ndarray | None = None) -> dict:
    out = {}
    for kind in CURVE_KINDS:
        c = score.curve(kind, subset)
        if c is not None:
            out[kind] = {"thresholds": score.curves[kind].thresholds.tolist(), "values": c.tolist()}
    return out


def _nan_warnings(name: str, figures: dict) -> list[str]:
    return [
        f"{name}: {k} is undefined (NaN) under this protocol, e.g. a NaN prediction on a scored frame"
        for k, v in figures.items() if isinstance(v, float) and math.isnan(v)
    ]


def _load_ground_truth(seqs: Iterable[Sequence], protocol: Protocol) -> tuple[list[Sequence], dict[str, tuple]]:
    seqs = list(seqs)
    if not seqs:
        raise ValueError("the data set has no sequences")
    names = [s.name for s in seqs]
    if len(set(names)) != len(names):
        raise ValueError("the data set has duplicate sequence names")
    sizes = {s.name: image_size(s) if protocol.bound_to_image else None for s in seqs}
    if all(len(s) > 1 and np.isnan(s.boxes[1:]).all() for s in seqs):
        raise GroundTruthWithheldError(
            "the ground truth after frame 0 is unknown for every sequence (a test split whose labels are "
            "withheld): score it on the server; pack the results with `python -m experiments.pack`"
        )
    return seqs, sizes


def _sequence_data(
    seqs: Seq[Sequence], res: TrackerResults, sizes: dict[str, tuple | None], run: int | None = None
) -> list[SequenceData]:
    """SequenceData of every sequence: all runs, or only run index `run`."""
    out = []
    for s in seqs:
        boxes, times = res.boxes[s.name], res.times[s.name]
        if run is not None:
            boxes = boxes[run : run + 1]
            times = None if times is None or times.shape[1] <= run else times[:, run : run + 1]
        out.append(SequenceData(s.name, s.boxes, s.visible, boxes, sizes.get(s.name), times))
    return out


def score_results(
    protocol: Protocol,
    seqs: Seq[Sequence],
    tracker_dir: str | Path,
    adapter: BoxAdapter | None = None,
    sizes: dict[str, tuple | None] | None = None,
) -> tuple[TrackerScore, TrackerResults]:
    """Load (with the completeness check) and score one tracker's results on `seqs`."""
    res = load_tracker_results(tracker_dir, [s.name for s in seqs], {s.name: len(s) for s in seqs}, adapter)
    return score_tracker(protocol, _sequence_data(seqs, res, sizes or {})), res


def _run_scores(protocol: Protocol, seqs: Seq[Sequence], res: TrackerResults, sizes: dict) -> list[dict]:
    """Headline figures of each run alone (only when every sequence has the same run count > 1)."""
    counts = {b.shape[0] for b in res.boxes.values()}
    if len(counts) != 1 or counts == {1}:
        return []
    return [score_tracker(protocol, _sequence_data(seqs, res, sizes, r)).summary() for r in range(counts.pop())]


def evaluate_trackers(
    benchmark: str,
    result_dirs: Seq[str | Path],
    data_root: str | Path | None = None,
    split: str | None = None,
    protocol: str | Protocol | None = None,
    json_path: str | Path | None = None,
    plots_dir: str | Path | None = None,
    tables_dir: str | Path | None = None,
    dataset: SequenceDataset | Iterable[Sequence] | None = None,
    adapter: BoxAdapter | None = None,
) -> dict:
    """Score the raw results in `result_dirs` (one folder per tracker) on a benchmark.

    Args:
        benchmark: ``got10k``, ``lasot``, ``otb``, ``trackingnet``, ``synthetic`` or ``folder``.
        result_dirs: tracker result folders (any layout of `evaluation.results`).
        data_root, split: passed to ``datasets.loaders.get_dataset`` when `dataset` is None.
        protocol: a profile / variant name, a `Protocol`, or None for the benchmark's default.
        json_path: write the returned dict there (atomically).
        plots_dir: write success / precision / normalized-precision plots (PNG + PDF) and, when
            the sequences carry attributes, attribute-wise success plots.
        tables_dir: write per-tracker and per-sequence tables (CSV + Markdown) with published
            reference rows.
        dataset: an already loaded data set (anything iterable over `Sequence`).
        adapter: box convention of the result files (third-party results).
    Raises:
        GroundTruthWithheldError, IncompleteResultsError (results missing / truncated, listing the
        files), FileNotFoundError, KeyError (unknown benchmark / protocol), ValueError.
    """
    proto = protocol if isinstance(protocol, Protocol) else get_protocol(protocol, benchmark)
    if not result_dirs:
        raise ValueError("no results folder given")
    dirs = [Path(d) for d in result_dirs]
    tracker_names = [d.resolve().name for d in dirs]
    dup = sorted({n for n in tracker_names if tracker_names.count(n) > 1})
    if dup:
        raise ValueError(f"several results folders are named {dup}: tracker names come from folder names, rename them")
    if dataset is None:
        from datasets.loaders import get_dataset

        dataset = get_dataset(benchmark, root=data_root, split=split)
    seqs, sizes = _load_ground_truth(dataset, proto)
    attrs = {s.name: sequence_attributes(s) for s in seqs}

    out: dict[str, Any] = {
        "benchmark": benchmark,
        "split": split if split is not None else getattr(dataset, "split", None),
        "protocol": proto.name,
        "protocol_source": proto.source,
        "sequences": len(seqs),
        "trackers": {},
        "attributes": {},
    }
    scores: dict[str, TrackerScore] = {}
    for name, d in zip(tracker_names, dirs):
        score, res = score_results(proto, seqs, d, adapter, sizes)
        scores[name] = score
        figures = score.summary()
        entry: dict[str, Any] = dict(figures)
        entry["runs"] = int(score.runs.max())
        entry["curves"] = _curves(score)
        entry["sequences"] = {n: score.sequence_summary(i) for i, n in enumerate(score.names)}
        run_scores = _run_scores(proto, seqs, res, sizes)
        if run_scores:
            entry["run_scores"] = run_scores
            entry["run_std"] = {
                k: float(np.std([r[k] for r in run_scores])) if run_scores[0][k] is not None else None
                for k in FIGURES
            }
        entry["warnings"] = res.warnings + score.warnings + _nan_warnings(name, figures)
        entry["results_dir"] = str(d)
        out["trackers"][name] = entry

    for attr in sorted({a for v in attrs.values() for a in v}):
        mask = np.array([attrs[n].get(attr, False) for n in scores[tracker_names[0]].names])
        if not mask.any():
            continue
        out["attributes"][attr] = {
            "sequences": int(mask.sum()),
            "trackers": {
                name: {**sc.summary(mask), "curve": sc.curve("success", mask).tolist()}
                for name, sc in scores.items()
            },
        }
    out = _clean(out)
    if json_path is not None:
        atomic_write_text(json_path, json.dumps(out, indent=1, allow_nan=False) + "\n")
    if plots_dir is not None:
        from evaluation.plots import plot_evaluation

        clean_stale_tmp(plots_dir)  # temporary files of a crashed earlier run
        plot_evaluation(out, plots_dir)
    if tables_dir is not None:
        from evaluation.reports import write_tables

        clean_stale_tmp(tables_dir)
        write_tables(out, tables_dir)
    return out
