"""Evaluation layer: metrics, protocol profiles, OPE runner, result files, plots, reports, packing.

Imports only `datasets` (never `trackers` or `experiments`). Modules:

* `metrics`: the one numpy IoU, centre errors, curves and scores (pure functions);
* `protocols`: the official toolkits' rules as frozen dataclasses (`get_protocol`);
* `scoring`: applies a protocol to predictions (`score_tracker`);
* `results`: raw result files (got10k-toolkit and pytracking layouts, adapters, completeness);
* `runner`: one-pass evaluation of any ``initialize`` / ``track`` object (`run_tracker`);
* `report`: `evaluate_trackers`, the library behind ``python -m experiments.evaluate``;
* `plots`, `reports`: figures (PNG + PDF) and tables (CSV + Markdown, published rows);
* `packing`: GOT-10k / TrackingNet server zips (``python -m experiments.pack``).
"""
from evaluation.protocols import PROFILES, PROTOCOLS, Protocol, get_protocol
from evaluation.report import evaluate_trackers
from evaluation.runner import TrackingFailedError, run_tracker

__all__ = ["PROFILES", "PROTOCOLS", "Protocol", "TrackingFailedError", "evaluate_trackers", "get_protocol", "run_tracker"]
