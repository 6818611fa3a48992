"""Checkpoints: weights-only, exact resume after a crash, run-directory records, release files."""
from __future__ import annotations

import csv
import json

import pytest
import torch

from experiments.trainer import RunSettings, export_release, load_release, train
from experiments.trainer.checkpoint import load_checkpoint
from experiments.trainer.loop import Hook
from trackers.common.checkpoint import CheckpointError, load_weights_only
from trackers import registry



class Crash(Hook):
    """Simulates a crash (the process dies) right after global step `at`."""

    def __init__(self, at):
        self.at = at

    def after_step(self, trainer, stats, row):
        if trainer.state.global_step == self.at:
            raise KeyboardInterrupt(f"simulated crash after step {self.at}")


def _settings(out, **kw):
    kw.setdefault("plot", False)
    return RunSettings(preset="toy", out=str(out), device="cpu", progress=False, log_every=1, **kw)


def _params(run):
    return load_weights_only(run / "last.pt")["model"]


def _losses(run):
    with open(run / "log.csv") as f:
        return [(float(r["step"]), float(r["loss"])) for r in csv.DictReader(f)]


def test_crash_and_resume_matches_uninterrupted_run_exactly(tmp_path, toy_sources, toy):
    cfg = toy.Config(dropout=0.3)              # dropout: the torch RNG must be restored too
    a = train(_settings(tmp_path / "a", checkpoint_every=2), cfg=cfg, family=toy.Family, sources=toy_sources)
    with pytest.raises(KeyboardInterrupt):
        train(_settings(tmp_path / "b", checkpoint_every=2), cfg=cfg, family=toy.Family, sources=toy_sources,
              hooks=[Crash(at=5)])
    ck = load_checkpoint(tmp_path / "b" / "last.pt")        # last checkpoint: after step 4 (epoch 1, step 1)
    assert (ck["epoch"], ck["epoch_step"], ck["global_step"]) == (1, 1, 4)
    train(_settings(tmp_path / "b", checkpoint_every=2, resume="auto"), cfg=cfg, family=toy.Family, sources=toy_sources)
    pa, pb = _params(a), _params(tmp_path / "b")
    assert pa.keys() == pb.keys()
    for k in pa:
        assert torch.equal(pa[k], pb[k]), k
    oa = load_weights_only(a / "last.pt")["optimizer"]["state"]
    ob = load_weights_only(tmp_path / "b" / "last.pt")["optimizer"]["state"]
    for i in oa:
        for k in oa[i]:
            assert torch.equal(oa[i][k], ob[i][k])
    assert _losses(a) == _losses(tmp_path / "b")            # the log continues without gaps or repeats
    assert [s for s, _ in _losses(a)] == [1, 2, 3, 4, 5, 6]


def test_checkpoint_is_weights_only_and_complete(tmp_path, toy_sources, toy):
    from experiments.trainer.run import flush_denormal_enabled

    assert not flush_denormal_enabled()
    run = train(_settings(tmp_path / "r", plot=True), cfg=toy.Config(), family=toy.Family, sources=toy_sources)
    ck = torch.load(run / "last.pt", map_location="cpu", weights_only=True)
    for k in ("model", "optimizer", "scheduler", "scaler", "rng", "epoch", "epoch_step", "global_step",
              "config", "preset", "settings"):
        assert k in ck, k
    assert (ck["epoch"], ck["epoch_step"], ck["global_step"]) == (2, 0, 6)
    assert not flush_denormal_enabled()            # the CPU flag set for training is given back
    assert ck["config"]["train"]["batch_size"] == 4 and ck["preset"] == "toy"
    # StepLR(1, 0.5) after 2 epochs, lr scaled by batch 4 / reference 4 = 1
    lrs = {g["name"]: g["lr"] for g in ck["optimizer"]["param_groups"]}
    assert lrs == pytest.approx({"head": 1e-2 * 0.25, "backbone": 0.5e-2 * 0.25})
    assert (run / "loss.png").stat().st_size > 1000
    rows = list(csv.DictReader(open(run / "log.csv")))
    assert {"lr/head", "lr/backbone", "loss", "mse", "grad_norm", "data/redraw_padding"} <= set(rows[0])


def test_config_written_before_step_zero_and_existing_run_protected(tmp_path, toy_sources, toy):
    seen = {}

    class Peek(Hook):
        def before_train(self, trainer):
            seen.update(json.loads((tmp_path / "r" / "config.json").read_text()))

    train(_settings(tmp_path / "r", seed=11), cfg=toy.Config(), family=toy.Family, sources=toy_sources, hooks=[Peek()])
    assert seen["seed"] == 11 and seen["config"]["train"]["seed"] == 11
    assert len(seen["git"]["sha"]) in (40, 7) or seen["git"]["sha"] == "unknown"
    assert seen["preset"] == "toy" and seen["effective_batch"] == 4 and seen["steps_per_epoch"] == 3
    with pytest.raises(FileExistsError, match="--resume"):
        train(_settings(tmp_path / "r"), cfg=toy.Config(), family=toy.Family, sources=toy_sources)


def test_non_finite_loss_raises_with_step_and_losses(tmp_path, toy_sources, toy):
    class NaNFamily(toy.Family):
        @staticmethod
        def build_actor(cfg):
            def actor(model, batch):
                loss = model(batch["search"]).mean() * float("nan")
                return loss, {"mse": 0.5}
            return actor

    with pytest.raises(FloatingPointError, match=r"global step 0 \(epoch 0, step 0\).*'mse': 0.5"):
        train(_settings(tmp_path / "n"), cfg=toy.Config(), family=NaNFamily, sources=toy_sources)


def test_release_export_and_load(tmp_path, toy_sources, toy, monkeypatch):
    monkeypatch.setitem(registry.PRESETS, "toy", toy.Config)
    monkeypatch.setattr(registry, "_load_all", lambda: None)
    run = train(_settings(tmp_path / "r", overrides=(("dropout", "0.25"),)), cfg=toy.Config(), family=toy.Family,
                sources=toy_sources)
    rel = torch.load(run / "release.pt", weights_only=True)
    assert set(rel) == {"format_version", "kind", "preset", "config", "model"}
    out = export_release(run / "last.pt", tmp_path / "exported.pt")
    cfg, state = load_release(out, preset="toy")
    assert isinstance(cfg, toy.Config) and cfg.dropout == 0.25 and cfg.train.dataset_ratios == (("toy", 1.0),)
    for k, v in _params(run).items():
        assert torch.equal(state[k], v)
    model = toy.Family.build_model(cfg)
    load_release(out, preset="toy", model=model)
    assert torch.equal(model.head.weight, state["head.weight"])
    with pytest.raises(CheckpointError, match="for preset 'toy', not 'cia18'"):
        load_release(out, preset="cia18")
    bad = torch.nn.Sequential(torch.nn.Linear(2, 2))
    with pytest.raises(CheckpointError, match=r"(?s)missing keys \(2\).*unexpected keys \(4\)"):
        load_release(out, model=bad)
    with pytest.raises(CheckpointError, match="not a training checkpoint"):
        load_checkpoint(out)
