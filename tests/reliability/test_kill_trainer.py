"""Fault injection: SIGKILL the trainer at seeded random steps, resume until done.

The final parameters, optimizer state and log must equal an uninterrupted run's bit for bit, and
no checkpoint on disk may ever be partial. A truncated checkpoint planted by hand is refused with
an error naming the file, never loaded.
"""
from __future__ import annotations

import csv
import dataclasses
from pathlib import Path

import numpy as np
import pytest
import torch

from datasets.loaders.got10k import GOT10kDataset
from experiments.trainer import RunSettings, load_release, train
from experiments.trainer.checkpoint import LAST, load_checkpoint
from experiments.trainer.loop import Hook
from trackers.common.checkpoint import CheckpointError, load_weights_only

KILLS = 3
STEPS = 12          # ToyConfig: 3 epochs x 16 samples / batch 4
SEED = 7            # kill points


class Report(Hook):
    """Tells the parent process that a step (and its checkpoint) is done."""

    def __init__(self, report) -> None:
        self.report = report

    def after_step(self, trainer, stats, row) -> None:
        self.report(trainer.state.global_step)


def _settings(out: Path, resume: bool) -> RunSettings:
    return RunSettings(preset="toy", out=str(out), device="cpu", progress=False, plot=False, log_every=1,
                       checkpoint_every=1, resume="auto" if resume else None)


def _train(out: Path, sources, tools, hooks=()) -> Path:
    """What a user does after a crash: resume if a checkpoint exists, else start over."""
    return train(_settings(out, (out / LAST).exists()), cfg=tools.ToyConfig(), family=tools.ToyFamily,
                 sources=sources, hooks=hooks)


def _child(report, out: str, sources, tools) -> None:
    _train(Path(out), sources, tools, hooks=[Report(report)])


def _log(run: Path) -> list[tuple[str, str]]:
    with open(run / "log.csv", newline="") as f:
        return [(r["step"], r["loss"]) for r in csv.DictReader(f)]


@pytest.mark.slow
def test_trainer_survives_seeded_sigkills_with_identical_parameters(tmp_path, tools, tally):
    root = tools.write_got10k(tmp_path / "data", (20, 22, 21), split="train")
    sources = [("got10k", GOT10kDataset(root, "train"), 1.0)]
    ref = _train(tmp_path / "ref", sources, tools)

    out = tmp_path / "killed"
    rng = np.random.default_rng(SEED)
    kills, stale = 0, 0
    while kills < KILLS:
        done = load_checkpoint(out / LAST)["global_step"] if (out / LAST).exists() else 0
        left = STEPS - done
        assert left > KILLS - kills, "the schedule is too short for the number of kills"
        kill_after = int(rng.integers(1, max(2, left // (KILLS - kills + 1) + 1)))
        outcome = tools.fork_and_kill(_child, (str(out), sources, tools), kill_after,
                                      delay_s=float(rng.uniform(0, 0.03)))
        assert outcome.killed, f"trainer child ended before the kill (exit {outcome.exitcode}): {outcome.error}"
        kills += 1
        stale += len(tools.tmp_files(out))
        if (out / LAST).exists():                 # whatever is on disk loads completely
            ck = load_checkpoint(out / LAST)
            assert ck["global_step"] >= done
            upto = [r for r in _log(out) if int(float(r[0])) <= ck["global_step"]]
            assert upto == _log(ref)[: ck["global_step"]]    # the log never lags behind the checkpoint
    tally.add("kills_survived", kills)

    _train(out, sources, tools)
    assert not tools.tmp_files(out), "stale temporary files survived the resumed run"
    a, b = load_checkpoint(ref / LAST), load_checkpoint(out / LAST)
    assert b["global_step"] == STEPS
    for k in a["model"]:
        assert torch.equal(a["model"][k], b["model"][k]), k
    for i, state in a["optimizer"]["state"].items():
        for k, v in state.items():
            assert torch.equal(v, b["optimizer"]["state"][i][k]), (i, k)
    assert _log(out) == _log(ref) and len(_log(ref)) == STEPS
    rel_a, rel_b = (load_weights_only(r / "release.pt")["model"] for r in (ref, out))
    assert rel_a.keys() == rel_b.keys() and all(torch.equal(rel_a[k], rel_b[k]) for k in rel_a)


@pytest.mark.parametrize("crash_at_write", [1, 3])
def test_crash_while_writing_the_log_loses_no_row(tmp_path, tools, monkeypatch, crash_at_write):
    """The n-th log write dies (as if killed there); the resumed run's log has every step once."""
    from experiments.trainer.logs import CSVLog

    root = tools.write_got10k(tmp_path / "data", (20, 21), split="train")
    sources = [("got10k", GOT10kDataset(root, "train"), 1.0)]
    cfg = tools.ToyConfig()
    cfg = dataclasses.replace(cfg, train=dataclasses.replace(cfg.train, epochs=2))
    ref = train(_settings(tmp_path / "ref", False), cfg=cfg, family=tools.ToyFamily, sources=sources)
    real, calls = CSVLog.write, {"n": 0}

    def dying_write(self):
        calls["n"] += 1
        if calls["n"] == crash_at_write:
            raise KeyboardInterrupt("killed while writing log.csv")
        return real(self)

    monkeypatch.setattr(CSVLog, "write", dying_write)
    with pytest.raises(KeyboardInterrupt):
        train(_settings(tmp_path / "run", False), cfg=cfg, family=tools.ToyFamily, sources=sources)
    monkeypatch.setattr(CSVLog, "write", real)
    out = tmp_path / "run"
    train(_settings(out, (out / LAST).exists()), cfg=cfg, family=tools.ToyFamily, sources=sources)
    assert _log(out) == _log(ref) and [int(float(s)) for s, _ in _log(out)] == list(range(1, 9))


def test_truncated_or_corrupt_checkpoint_is_refused_naming_the_file(tmp_path, tools, tally):
    root = tools.write_got10k(tmp_path / "data", (20, 21), split="train")
    sources = [("got10k", GOT10kDataset(root, "train"), 1.0)]
    cfg = tools.ToyConfig()
    cfg = dataclasses.replace(cfg, train=dataclasses.replace(cfg.train, epochs=1))
    run = train(_settings(tmp_path / "run", False), cfg=cfg, family=tools.ToyFamily, sources=sources)
    data = (run / LAST).read_bytes()
    cases = {
        "half": data[: len(data) // 2],
        "header only": data[:64],
        "empty": b"",
        "last byte cut": data[:-1],
        "garbage": b"not a checkpoint at all\n" * 10,
        "pickle garbage": b"\x80\x02garbage",          # looks like a legacy torch file: not "pickled code"
    }
    for what, blob in cases.items():
        (run / LAST).write_bytes(blob)
        with pytest.raises(CheckpointError, match=rf"{run / LAST}: not a readable checkpoint") as e:
            train(_settings(run, True), cfg=cfg, family=tools.ToyFamily, sources=sources)
        assert "truncated or corrupt" in str(e.value), what
    rel = (run / "release.pt").read_bytes()
    (run / "release.pt").write_bytes(rel[: len(rel) - 100])
    with pytest.raises(CheckpointError, match=rf"{run / 'release.pt'}: not a readable checkpoint"):
        load_release(run / "release.pt", preset="toy")
    with pytest.raises(CheckpointError, match="not a readable checkpoint"):
        load_weights_only(run / "release.pt")
    tally.add("bad_inputs", len(cases) + 2)


def test_killed_while_writing_the_release_resumes_to_the_same_release(tmp_path, tools):
    """Killed after the last checkpoint, before ``release.pt`` landed: resuming the finished run
    trains nothing and writes the same release."""
    root = tools.write_got10k(tmp_path / "data", (20, 21), split="train")
    sources = [("got10k", GOT10kDataset(root, "train"), 1.0)]
    cfg = tools.ToyConfig()
    cfg = dataclasses.replace(cfg, train=dataclasses.replace(cfg.train, epochs=1))
    run = train(_settings(tmp_path / "run", False), cfg=cfg, family=tools.ToyFamily, sources=sources)
    release = load_weights_only(run / "release.pt")["model"]
    rows = _log(run)
    (run / "release.pt").rename(run / f"release.pt.tmp-{12345}")     # what a kill mid-write leaves
    train(_settings(run, True), cfg=cfg, family=tools.ToyFamily, sources=sources)
    again = load_weights_only(run / "release.pt")["model"]
    assert again.keys() == release.keys() and all(torch.equal(again[k], release[k]) for k in release)
    assert _log(run) == rows and not tools.tmp_files(run)
