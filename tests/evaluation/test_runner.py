"""evaluation.runner: output files, sanitation and flags, failures, runs, and resume after SIGKILL."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pytest

from evaluation import results as rf
from evaluation.report import evaluate_trackers
from evaluation.runner import INVALID_OUTPUT_FLAG, TrackingFailedError, run_tracker


class Result(NamedTuple):  # a TrackResult look-alike: unpacks as (box, score) plus .flag
    box: np.ndarray
    score: float
    flag: str = ""

    def __iter__(self):
        return iter((self.box, self.score))


def box_bytes(d: Path) -> dict[str, bytes]:
    return {str(p.relative_to(d)): p.read_bytes() for p in sorted(d.rglob("*.txt")) if not p.name.endswith("_time.txt")}


def test_writes_one_file_per_sequence_with_init_box_first(tmp_path, got10k_val, evtools):
    out = tmp_path / "res" / "blob"
    s = run_tracker(evtools.BrightBlobTracker, got10k_val, out, progress=False)
    assert sorted(s.completed) == sorted(got10k_val.names) and not s.failed
    for seq in got10k_val:
        b = rf.read_box_file(out / f"{seq.name}.txt")
        assert b.shape == (len(seq), 4)
        np.testing.assert_allclose(b[0], seq.boxes[0], atol=5e-4)
        t = rf.read_time_file(out / "times" / f"{seq.name}_time.txt")
        assert t.shape == (len(seq), 1) and (t >= 0).all()
    assert json.loads((out / "failures.json").read_text()) == {}
    # the dummy tracker follows the square: a sane score through the whole pipeline
    ev = evaluate_trackers("got10k", [out], dataset=got10k_val)
    assert ev["trackers"]["blob"]["ao"] > 0.6


def test_invalid_outputs_replaced_by_previous_box_and_flags_recorded(tmp_path, got10k_val):
    class Flaky:
        def initialize(self, image, box):
            self.i, self.box = 0, np.asarray(box, float)

        def track(self, image):
            self.i += 1
            if self.i == 3:
                return np.array([np.nan, 1.0, 2.0, 3.0]), 0.5
            if self.i == 4:
                return Result(np.array([1.0, 1.0, 0.0, 5.0]), 0.1, "fallback")  # degenerate and flagged
            if self.i == 5:
                return Result(self.box + 2, 0.9, "fallback")
            return self.box + self.i, 1.0

    seq = got10k_val[0]
    out = tmp_path / "flaky"
    run_tracker(Flaky, got10k_val.select([seq.name]), out, progress=False)
    b = rf.read_box_file(out / f"{seq.name}.txt")
    np.testing.assert_allclose(b[3], b[2])
    np.testing.assert_allclose(b[4], b[2])
    flags = json.loads((out / f"{seq.name}_flags.json").read_text())["frames"]
    assert flags == {"3": INVALID_OUTPUT_FLAG, "4": f"fallback+{INVALID_OUTPUT_FLAG}", "5": "fallback"}
    assert np.isfinite(b).all()


def test_failure_is_recorded_run_goes_on_and_raises_at_end(tmp_path, got10k_val, evtools):
    bad = got10k_val.names[1]

    class Crashy(evtools.BrightBlobTracker):
        def initialize(self, image, box):
            super().initialize(image, box)
            self.crash = abs(box[0] - got10k_val[1].boxes[0, 0]) < 1e-9 and abs(box[1] - got10k_val[1].boxes[0, 1]) < 1e-9

        def track(self, image):
            if self.crash and self.frame == 2:
                raise RuntimeError("boom")
            return super().track(image)

    out = tmp_path / "crashy"
    with pytest.raises(TrackingFailedError, match=bad) as e:
        run_tracker(Crashy, got10k_val, out, progress=False)
    assert "RuntimeError: boom" in e.value.failures[bad]
    log = json.loads((out / "failures.json").read_text())
    assert "Traceback" in log[bad]["traceback"] and "boom" in log[bad]["traceback"]
    assert not (out / f"{bad}.txt").exists()
    assert all((out / f"{n}.txt").exists() for n in got10k_val.names if n != bad)
    s = run_tracker(evtools.BrightBlobTracker, got10k_val, out, progress=False)  # resume: only `bad` runs
    assert s.completed == [bad] and len(s.skipped) == 2
    assert json.loads((out / "failures.json").read_text()) == {}


def test_runs_use_got10k_layout_with_n_by_r_times(tmp_path, got10k_val, evtools):
    out = tmp_path / "rep"
    run_tracker(evtools.BrightBlobTracker, got10k_val, out, runs=3, progress=False)
    seq = got10k_val[0]
    assert [p.name for p in rf.find_box_files(out, seq.name)] == [f"{seq.name}_00{r}.txt" for r in (1, 2, 3)]
    assert rf.read_time_file(out / seq.name / f"{seq.name}_time.txt").shape == (len(seq), 3)
    with pytest.raises(ValueError, match="needs layout='got10k'"):
        run_tracker(evtools.BrightBlobTracker, got10k_val, tmp_path / "x", runs=2, layout="otb", progress=False)


def test_truncated_result_is_never_scored_and_is_redone(tmp_path, got10k_val, evtools):
    out = tmp_path / "blob"
    run_tracker(evtools.BrightBlobTracker, got10k_val, out, progress=False)
    reference = box_bytes(out)
    name = got10k_val.names[2]
    f = out / f"{name}.txt"
    f.write_bytes(b"".join(f.read_bytes().splitlines(keepends=True)[:6]))  # a crashed non-atomic writer
    with pytest.raises(ValueError, match=rf"{name}\.txt: 6 rows for 15 frames"):
        evaluate_trackers("got10k", [out], dataset=got10k_val)
    s = run_tracker(evtools.BrightBlobTracker, got10k_val, out, progress=False)
    assert s.redone == [name] and s.completed == [name]
    assert box_bytes(out) == reference


KILL_SCRIPT = textwrap.dedent("""
    import importlib.util, pathlib, sys
    spec = importlib.util.spec_from_file_location("ev_conftest", sys.argv[1])
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    from evaluation.runner import run_tracker
    marker = pathlib.Path(sys.argv[4])
    state = {"seq": 0}

    def factory():
        state["seq"] += 1
        n = state["seq"]
        def on_frame(i):
            if n == 2 and i == 4:
                marker.write_text("mid-sequence")
        return mod.BrightBlobTracker(sleep=0.03, on_frame=on_frame)

    run_tracker(factory, mod.Got10kStandIn(sys.argv[2], "val"), sys.argv[3], progress=False)
""")


@pytest.mark.slow
def test_sigkill_mid_sequence_then_resume_gives_identical_files(tmp_path, got10k_root, got10k_val, evtools):
    script = tmp_path / "run.py"
    script.write_text(KILL_SCRIPT)
    killed, clean, marker = tmp_path / "killed" / "blob", tmp_path / "clean" / "blob", tmp_path / "marker"
    repo = str(evtools.conftest_path.parents[2])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([repo, os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.Popen([sys.executable, str(script), str(evtools.conftest_path), str(got10k_root),
                             str(killed), str(marker)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    deadline = time.monotonic() + 60
    while not marker.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise AssertionError(f"runner subprocess ended early: {proc.communicate()[1].decode()[-2000:]}")
        time.sleep(0.005)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    names = got10k_val.names
    assert (killed / f"{names[0]}.txt").exists()            # sequence 1 finished before the kill
    assert not (killed / f"{names[1]}.txt").exists()        # killed in the middle of sequence 2
    s = run_tracker(evtools.BrightBlobTracker, got10k_val, killed, progress=False)
    assert s.skipped == [names[0]] and s.completed == names[1:]
    run_tracker(evtools.BrightBlobTracker, got10k_val, clean, progress=False)
    assert box_bytes(killed) == box_bytes(clean) and len(box_bytes(clean)) == 3
    assert not [p for p in killed.rglob("*") if ".tmp-" in p.name]
