"""The CLI: argument parsing, overrides, and 2 real steps of each tiny preset on synthetic data."""
from __future__ import annotations

import json

import pytest
import torch

from experiments.train import build_parser, main, settings_from_args
from experiments.trainer import DataSpec, RunSettings
from experiments.trainer.settings import apply_override, config_from_dict, config_dict, resolve_config
from trackers.common.checkpoint import load_weights_only


def test_data_spec_parsing():
    assert DataSpec.parse("got10k=/d/got") == DataSpec("got10k", "/d/got", None)
    assert DataSpec.parse("lasot") == DataSpec("lasot", None, None)
    assert DataSpec.parse("got10k:vottrain=/d") == DataSpec("got10k", "/d", "vottrain")
    with pytest.raises(ValueError, match="empty ROOT"):
        DataSpec.parse("got10k=")


def test_cli_flags_map_to_settings():
    args = build_parser().parse_args(
        ["hctrack-tiny", "--data", "synthetic=/s", "--data", "lasot", "--epochs", "3", "--batch-size", "6",
         "--set", "train.lr=1e-3", "--set", "data.max_gap=50", "--resume", "--device", "cpu", "--workers", "2"])
    s = settings_from_args(args)
    assert s.data == (DataSpec("synthetic", "/s"), DataSpec("lasot"))
    assert (s.epochs, s.batch_size, s.resume, s.workers, s.out) == (3, 6, "auto", 2, "runs/hctrack-tiny")
    assert s.overrides == (("train.lr", "1e-3"), ("data.max_gap", "50"))
    with pytest.raises(SystemExit):
        build_parser().parse_args(["cia18", "--set", "novalue"])


def test_resolve_config_applies_flags_then_overrides_with_types():
    s = RunSettings(preset="cia-tiny", epochs=3, batch_size=4, seed=9,
                    overrides=(("train.lr", "0.002"), ("data.kl_proposal_sigma", "[[0.1, 0.1]]"),
                               ("train.grad_clip", "null"), ("data.flip_prob", "1")))
    cfg = resolve_config(s)
    assert (cfg.train.epochs, cfg.train.batch_size, cfg.train.seed, cfg.train.lr) == (3, 4, 9, 0.002)
    assert cfg.data.kl_proposal_sigma == ((0.1, 0.1),) and cfg.train.grad_clip is None
    assert cfg.data.flip_prob == 1.0 and isinstance(cfg.data.flip_prob, float)
    with pytest.raises(KeyError, match="no field 'train.nope'"):
        apply_override(cfg, "train.nope", 1)
    with pytest.raises(ValueError, match="multiple of"):    # TrainConfig validation still runs
        resolve_config(RunSettings(preset="hctrack-tiny", batch_size=4))
    # round trip through the plain dict stored in checkpoints
    assert config_from_dict(resolve_config(RunSettings(preset="cia-tiny")), config_dict(cfg)) == cfg


@pytest.fixture(scope="module")
def synthetic_root(tmp_path_factory):
    from datasets.synthetic import SyntheticConfig, generate_synthetic

    root = tmp_path_factory.mktemp("synth") / "bench"
    generate_synthetic(root, SyntheticConfig(seed=1, train_sequences=2, val_sequences=0, frames=24, width=128,
                                             height=96, splits=("train",)))
    return root


@pytest.mark.slow
@pytest.mark.parametrize("preset,batch", [("hctrack-tiny", 3), ("cia-tiny", 2)])
def test_two_steps_of_each_tiny_preset_through_the_cli(preset, batch, synthetic_root, tmp_path):
    torch.set_num_threads(1)
    out = tmp_path / preset
    rc = main([preset, "--data", f"synthetic={synthetic_root}", "--epochs", "1", "--batch-size", str(batch),
               "--samples-per-epoch", str(2 * batch), "--out", str(out), "--device", "cpu", "--no-progress",
               "--no-plot", "--log-every", "1"])
    assert rc == 0
    ck = load_weights_only(out / "last.pt")
    assert ck["global_step"] == 2 and ck["preset"] == preset
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["config"]["train"]["batch_size"] == batch and cfg["world_size"] == 1
    rows = (out / "log.csv").read_text().strip().splitlines()
    assert len(rows) == 3                                           # header + 2 steps
    rel = load_weights_only(out / "release.pt")
    from trackers.registry import get_config, training_only_prefixes
    drop = training_only_prefixes(get_config(preset))
    assert drop  # both families have a training-only module (contrastive head / momentum encoder)
    assert rel["kind"] == "release"
    assert set(rel["model"]) == {k for k in ck["model"] if not k.startswith(drop)}


def test_load_sources_env_root_default_split_and_ratios(synthetic_root, monkeypatch):
    from datasets.roots import DatasetNotFoundError
    from experiments.trainer.data import load_sources

    monkeypatch.setenv("SYNTHETIC_ROOT", str(synthetic_root))
    (name, ds, ratio), = load_sources([DataSpec("synthetic")], (("lasot", 0.25),))
    assert name == "synthetic" and ratio == 1.0 and ds.split == "train" and len(ds) == 2
    (_, _, ratio), = load_sources([DataSpec("synthetic", str(synthetic_root))], (("synthetic", 3.0),))
    assert ratio == 3.0
    with pytest.raises(ValueError, match="more than once"):
        load_sources([DataSpec("synthetic"), DataSpec("synthetic")], ())
    with pytest.raises(ValueError, match="no training data"):
        load_sources([], ())
    monkeypatch.delenv("GOT10K_ROOT", raising=False)
    with pytest.raises(DatasetNotFoundError, match="GOT10K_ROOT"):
        load_sources([DataSpec("got10k")], ())


def test_cia_batches_get_lasot_category_indices():
    from experiments.trainer.run import category_index_for
    from trackers.cia.categories import lasot_classes
    from trackers.registry import family_api, get_config

    cfg = get_config("cia-tiny")
    fn = category_index_for(cfg, family_api(cfg))
    assert fn("zebra") == lasot_classes().index("zebra") and fn(None) == -1 and fn("no-such-class") == -1
    hc = get_config("hctrack-tiny")
    assert category_index_for(hc, family_api(hc)) is None
