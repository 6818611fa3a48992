"""One-pass evaluation (OPE) runner: track every sequence of a data set, write raw results.

Runs anything with ``initialize(image, box_xywh)`` and ``track(image) -> (box_xywh, score)``
(duck-typed; a result with a ``flag`` attribute, e.g. ``trackers.base.TrackResult``, has its
non-empty flags recorded). `tracker_factory()` is called once per sequence and run, so no state
leaks between sequences.

Per sequence and run it writes (via `evaluation.results`, atomically):

* the box file (``%.3f``, frame 0 = the initial box, as the got10k toolkit does);
* the time file (seconds spent in ``initialize`` / ``track`` per frame, frame decoding excluded;
  ``got10k`` layout: one column per run, N x R, as the GOT-10k server expects);
* ``<box file stem>_flags.json`` when any frame was flagged: ``{"frames": {"<i>": "<flag>"}}``.

Resuming: a run whose box file holds exactly one newline-terminated ``x,y,w,h`` row per frame is
skipped; a missing or truncated one (row count != frame count, or a last line cut short by a
non-atomic writer: no final newline or too few numbers) is redone from frame 0. The box file is
written last, so its presence means the run finished. Same floats give the same bytes, so a
killed and resumed run produces box files byte-identical to an uninterrupted one (times naturally
differ).

Output sanitation: a NaN / infinite / non-positive-size box returned by a tracker is replaced by
the previous frame's box and the frame is flagged ``"invalid-output"`` (so raw files never hold
NaN); the tracker's own flags (e.g. ``"fallback"``) are recorded as given.

Failures: an exception inside one sequence (tracker or frame decoding) is recorded in
``failures.json`` (type, message, traceback) and the run continues; at the end
`TrackingFailedError` lists the failed sequences. ``KeyboardInterrupt`` is not caught.
"""
from __future__ import annotations

import json
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

import numpy as np

from datasets.fileio import atomic_write_text, clean_stale_tmp
from datasets.frames import read_frame
from datasets.geometry import box_is_valid
from datasets.sequence import Sequence
from evaluation import results as rf

FAILURES_FILE = "failures.json"
INVALID_OUTPUT_FLAG = "invalid-output"


class TrackingFailedError(RuntimeError):
    """Some sequences failed; ``failures`` maps ``"<seq>"`` / ``"<seq>#<run>"`` to the error text."""

    def __init__(self, failures: dict[str, str], path: Path) -> None:
        self.failures = failures
        names = ", ".join(sorted(failures)[:20]) + (" ..." if len(failures) > 20 else "")
        super().__init__(f"{len(failures)} sequence run(s) failed (details and tracebacks in {path}): {names}")


@dataclass
class RunSummary:
    """What `run_tracker` did."""

    results_dir: Path
    completed: list[str] = field(default_factory=list)   # "<seq>#<run>" tracked now
    skipped: list[str] = field(default_factory=list)     # already complete
    redone: list[str] = field(default_factory=list)      # incomplete file found and redone
    failed: dict[str, str] = field(default_factory=dict)
    frames: int = 0
    seconds: float = 0.0                                 # time inside the tracker

    @property
    def fps(self) -> float | None:
        return self.frames / self.seconds if self.seconds > 0 else None


def _unpack(result: Any) -> tuple[np.ndarray, float, str]:
    """(box, score, flag) from a tracker's ``track`` output."""
    flag = getattr(result, "flag", "") or ""
    if isinstance(result, np.ndarray) and result.size == 4:
        return result.astype(np.float64).reshape(4), float("nan"), str(flag)
    try:
        box, score = result
    except (TypeError, ValueError):
        raise TypeError(
            f"track() must return (box_xywh, score) or a TrackResult, got {type(result).__name__}"
        ) from None
    box = np.asarray(box, dtype=np.float64).reshape(-1)
    if box.size != 4:
        raise ValueError(f"track() returned a box with {box.size} values, expected 4 (x, y, w, h)")
    return box, float(score), str(flag)


def track_sequence(tracker: Any, seq: Sequence) -> tuple[np.ndarray, np.ndarray, dict[int, str]]:
    """Run one initialized-from-GT pass over `seq`.

    Returns:
        boxes: (N, 4) float64, row 0 = the initial box.
        times: (N,) seconds spent in ``initialize`` (row 0) and ``track``.
        flags: frame index -> flag, for flagged frames only.
    """
    n = len(seq)
    boxes = np.empty((n, 4), dtype=np.float64)
    times = np.empty(n, dtype=np.float64)
    flags: dict[int, str] = {}
    init = np.asarray(seq.init_box, dtype=np.float64)
    if not box_is_valid(init):
        raise ValueError(f"sequence {seq.name!r}: initial box {init.tolist()} is not a valid box")
    image = read_frame(seq.frames[0])
    t0 = time.perf_counter()
    tracker.initialize(image, init.copy())
    times[0] = time.perf_counter() - t0
    boxes[0] = init
    for i in range(1, n):
        image = read_frame(seq.frames[i])
        t0 = time.perf_counter()
        out = tracker.track(image)
        times[i] = time.perf_counter() - t0
        box, _, flag = _unpack(out)
        if not box_is_valid(box):
            box = boxes[i - 1]
            flag = f"{flag}+{INVALID_OUTPUT_FLAG}" if flag else INVALID_OUTPUT_FLAG
        boxes[i] = box
        if flag:
            flags[i] = flag
    return boxes, times, flags


def _flags_path(box_file: Path) -> Path:
    return box_file.with_name(f"{box_file.stem}_flags.json")


def _write_times(path: Path, n: int, run: int, times: np.ndarray, layout: str) -> None:
    """Write this run's times; in the got10k layout keep the other runs' columns (N x R)."""
    if layout != "got10k":
        rf.write_time_file(path, times)
        return
    old = None
    if path.is_file():
        try:
            old = rf.read_time_file(path)
        except ValueError:
            old = None  # unreadable (e.g. foreign) time file: rewritten from scratch
        if old is not None and old.shape[0] != n:
            old = None
    width = max(run, old.shape[1] if old is not None else 0)
    cols = np.full((n, width), np.nan)
    if old is not None:
        cols[:, : old.shape[1]] = old
    cols[:, run - 1] = times
    rf.write_time_file(path, cols)


def run_tracker(
    tracker_factory: Callable[[], Any],
    dataset: Iterable[Sequence],
    results_dir: str | Path,
    runs: int = 1,
    layout: str | None = None,
    progress: bool = True,
    raise_on_failure: bool = True,
) -> RunSummary:
    """Track every sequence of `dataset` `runs` times and write raw results to `results_dir`.

    Args:
        tracker_factory: zero-argument callable returning a fresh tracker.
        dataset: a `SequenceDataset` (or any iterable of `Sequence`).
        results_dir: the tracker's results folder (its name is the tracker name when scoring).
        runs: repetitions per sequence (GOT-10k style ``<seq>/<seq>_001.txt``...; needs the
            ``got10k`` layout).
        layout: one of `evaluation.results.LAYOUTS`; default ``got10k`` when ``runs > 1``,
            else ``otb`` (``<seq>.txt`` + ``times/<seq>_time.txt``).
        progress: show a tqdm bar (sequences, with ETA).
        raise_on_failure: raise `TrackingFailedError` at the end if anything failed.
    Returns:
        `RunSummary`.
    """
    if runs < 1:
        raise ValueError(f"runs={runs} must be >= 1")
    layout = layout or ("got10k" if runs > 1 else "otb")
    if layout not in rf.LAYOUTS:
        raise ValueError(f"unknown layout {layout!r}; expected one of {rf.LAYOUTS}")
    if runs > 1 and layout != "got10k":
        raise ValueError(f"runs={runs} needs layout='got10k' (one folder per sequence), got {layout!r}")
    out = Path(results_dir)
    out.mkdir(parents=True, exist_ok=True)
    clean_stale_tmp(out)
    clean_stale_tmp(out / "times")
    summary = RunSummary(results_dir=out)
    failures = _read_failures(out)

    try:
        total = len(dataset)  # type: ignore[arg-type]
    except TypeError:
        total = None
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=total, unit="seq", desc=out.name, dynamic_ncols=True)
    try:
        for seq in dataset:
            _run_sequence(tracker_factory, seq, out, runs, layout, summary, failures)
            if bar is not None:
                bar.update(1)
                if summary.fps:
                    bar.set_postfix(fps=f"{summary.fps:.1f}", failed=len(summary.failed))
    finally:
        if bar is not None:
            bar.close()
    atomic_write_text(out / FAILURES_FILE, json.dumps(failures, indent=1, sort_keys=True) + "\n")
    if summary.failed and raise_on_failure:
        raise TrackingFailedError(summary.failed, out / FAILURES_FILE)
    return summary


def _run_sequence(
    tracker_factory: Callable[[], Any], seq: Sequence, out: Path, runs: int, layout: str,
    summary: RunSummary, failures: dict,
) -> None:
    n = len(seq)
    if layout == "got10k":
        clean_stale_tmp(out / seq.name)
    for run in range(1, runs + 1):
        key = seq.name if runs == 1 else f"{seq.name}#{run}"
        box_file = rf.box_path(out, seq.name, layout, run)
        if _finished(box_file, n):
            summary.skipped.append(key)
            continue
        if box_file.exists():
            summary.redone.append(key)
        try:
            boxes, times, flags = track_sequence(tracker_factory(), seq)
        except Exception as e:  # recorded with traceback, reported at the end (not swallowed)
            msg = f"{type(e).__name__}: {e}"
            summary.failed[key] = msg
            failures[key] = {"error": msg, "traceback": traceback.format_exc()}
            continue
        failures.pop(key, None)
        _write_times(rf.time_path(out, seq.name, layout), n, run, times, layout)
        fp = _flags_path(box_file)
        if flags:
            atomic_write_text(fp, json.dumps({"frames": {str(k): v for k, v in sorted(flags.items())}}, indent=1) + "\n")
        elif fp.exists():
            fp.unlink()
        rf.write_box_file(box_file, boxes)  # last: its presence marks the run complete
        summary.completed.append(key)
        summary.frames += n
        summary.seconds += float(times.sum())


def _finished(box_file: Path, n: int) -> bool:
    """`box_file` is a complete result of `n` frames: `n` newline-terminated rows of 4 numbers (a
    file cut inside its last line also has `n` lines, but no final newline or a short row)."""
    try:
        data = box_file.read_bytes()
    except FileNotFoundError:
        return False
    if not data.endswith(b"\n") or data.count(b"\n") != n:
        return False
    try:
        return rf.parse_rows(data.decode("ascii"), str(box_file), 4).shape == (n, 4)
    except ValueError:  # includes UnicodeDecodeError
        return False


def _read_failures(out: Path) -> dict:
    p = out / FAILURES_FILE
    if not p.is_file():
        return {}
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise ValueError(f"{p}:{e.lineno}: not valid JSON ({e.msg}); delete it to start a clean failure log") from None
    if not isinstance(data, dict):
        raise ValueError(f"{p}: expected a JSON object")
    return data
