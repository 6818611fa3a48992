"""Fault injection: SIGKILL the evaluation runner at seeded random points, rerun until complete.

The box files must come out byte-identical to an uninterrupted run, and at no point may a partial
result file exist where the scorer could read it.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from datasets.loaders.got10k import GOT10kDataset
from evaluation import results as rf
from evaluation.report import evaluate_trackers
from evaluation.results import IncompleteResultsError, load_tracker_results
from evaluation.runner import run_tracker

LENGTHS = (9, 12, 7, 11, 8)
RUNS = 2
KILLS = 5
SEED = 20240611     # kill points


def _box_bytes(d: Path) -> dict[str, bytes]:
    """Relative path -> bytes of every run's box file (``<seq>/<seq>_NNN.txt``)."""
    runs = [p for p in sorted(d.glob("*/*.txt")) if re.search(r"_\d{3}\.txt$", p.name)]
    return {str(p.relative_to(d)): p.read_bytes() for p in runs}


def _remaining_frames(ds: GOT10kDataset, out: Path) -> int:
    """Tracked frames still to do: frames of every (sequence, run) without a complete box file."""
    left = 0
    for seq in ds:
        for run in range(1, RUNS + 1):
            if rf.count_rows(rf.box_path(out, seq.name, "got10k", run)) != len(seq):
                left += len(seq) - 1
    return left


def _child(report, root: str, out: str) -> None:
    ds = GOT10kDataset(root, "val")
    run_tracker(lambda: _tools.BlobTracker(sleep=0.002, on_frame=report), ds, out, runs=RUNS, progress=False)


_tools = None  # set by the test (the forked child inherits it)


def _check_never_partial(ds: GOT10kDataset, out: Path, reference: dict[str, bytes]) -> int:
    """Every box file on disk is complete and final (equal to the uninterrupted run's bytes);
    time files parse with one row per frame. Returns the number of complete box files."""
    files = _box_bytes(out)
    for rel, data in files.items():
        assert data == reference[rel], f"{rel}: a box file on disk differs from the uninterrupted run"
    for seq in ds:
        tf = rf.time_path(out, seq.name, "got10k")
        if tf.exists():
            assert rf.read_time_file(tf).shape[0] == len(seq), tf
    return len(files)


@pytest.mark.slow
def test_runner_survives_seeded_sigkills_with_byte_identical_results(tmp_path, tools, tally):
    global _tools
    _tools = tools
    root = tools.write_got10k(tmp_path / "data", LENGTHS)
    ds = GOT10kDataset(root, "val")
    names, lengths = ds.names, {s.name: len(s) for s in ds}

    clean = tmp_path / "clean" / "blob"
    run_tracker(tools.BlobTracker, ds, clean, runs=RUNS, progress=False)
    reference = _box_bytes(clean)
    assert len(reference) == len(LENGTHS) * RUNS

    out = tmp_path / "killed" / "blob"
    rng = np.random.default_rng(SEED)
    kills, launches = 0, 0
    while kills < KILLS:
        left = _remaining_frames(ds, out)
        assert left > KILLS - kills, "the fixture is too small for the number of kills"
        kill_after = int(rng.integers(1, max(2, left // (KILLS - kills + 1))))
        outcome = tools.fork_and_kill(_child, (str(root), str(out)), kill_after, delay_s=float(rng.uniform(0, 0.006)))
        launches += 1
        assert outcome.killed, f"runner child ended before the kill (exit {outcome.exitcode}): {outcome.error}"
        kills += 1
        done = _check_never_partial(ds, out, reference)
        if done < len(reference):   # whatever is missing is reported missing, never scored partially
            with pytest.raises(IncompleteResultsError) as e:
                load_tracker_results(out, names, lengths)
            assert "rows for" not in str(e.value) and "no result file" in str(e.value)
    tally.add("kills_survived", kills)

    summary = run_tracker(tools.BlobTracker, ds, out, runs=RUNS, progress=False)
    assert _box_bytes(out) == reference
    assert not tools.tmp_files(out), "stale temporary files survived the completed rerun"
    assert json.loads((out / "failures.json").read_text()) == {}
    for seq in ds:                           # every run's time column is filled
        t = rf.read_time_file(rf.time_path(out, seq.name, "got10k"))
        assert t.shape == (len(seq), RUNS) and np.isfinite(t).all()
    assert len(summary.completed) + len(summary.skipped) == len(LENGTHS) * RUNS
    ev = evaluate_trackers("got10k", [out], dataset=ds)
    assert ev["trackers"]["blob"]["ao"] > 0.5


@pytest.mark.parametrize("field", [2, 3])
def test_result_file_cut_inside_its_last_line_is_redone(tmp_path, tools, tally, field):
    """A file with the right number of lines whose last line is cut (a non-atomic foreign writer)
    never counts as complete: the runner redoes it. Cut inside the third number the row is short and
    the scorer refuses it (file and line named); cut inside the fourth it still parses, so only the
    missing final newline gives it away."""
    root = tools.write_got10k(tmp_path / "data", (8, 6))
    ds = GOT10kDataset(root, "val")
    out = tmp_path / "blob"
    run_tracker(tools.BlobTracker, ds, out, progress=False)
    bad = out / f"{ds.names[0]}.txt"
    reference = bad.read_bytes()
    last = reference.rstrip(b"\n").rsplit(b"\n", 1)[1]
    start = len(reference) - 1 - len(last)
    cut = start + len(b",".join(last.split(b",")[:field])) + 2        # two characters into the next number
    bad.write_bytes(reference[:cut])
    assert rf.count_rows(bad) == 8
    if field == 2:
        with pytest.raises(IncompleteResultsError, match=rf"{bad.name}:8: expected 4"):
            load_tracker_results(out, ds.names, {s.name: len(s) for s in ds})
    s = run_tracker(tools.BlobTracker, ds, out, progress=False)
    assert s.redone == [ds.names[0]] and s.skipped == [ds.names[1]]
    assert bad.read_bytes() == reference
    tally.add("bad_inputs", 1)
