"""experiments.tracker_weights: --weights parsing, weight resolution, strict release loading."""
from __future__ import annotations

from dataclasses import asdict

import pytest
import torch

from datasets.fileio import atomic_torch_save
from experiments import tracker_weights as tw
from experiments.trainer.release import release_dict
from trackers.common.checkpoint import CheckpointError
from trackers.registry import family_api, get_config, replace_path


def test_parse_weights_args():
    assert tw.parse_weights_args(["a/w.pt"], ["cia-tiny"]) == {"cia-tiny": "a/w.pt"}
    assert tw.parse_weights_args(["cia-tiny=x.pt", "hctrack-tiny=pytracking:y"], ["hctrack-tiny", "cia-tiny"]) == {
        "cia-tiny": "x.pt", "hctrack-tiny": "pytracking:y"}
    assert tw.parse_weights_args(["dir/lr=1e-4.pt"], ["cia-tiny"]) == {"cia-tiny": "dir/lr=1e-4.pt"}  # '=' in a file name
    with pytest.raises(ValueError, match="NAME=FILE"):
        tw.parse_weights_args(["w.pt"], ["cia-tiny", "hctrack-tiny"])
    with pytest.raises(ValueError, match="'cia50' is not one of the trackers"):
        tw.parse_weights_args(["cia50=w.pt"], ["cia-tiny"])
    with pytest.raises(ValueError, match="two weight files"):
        tw.parse_weights_args(["cia-tiny=a", "cia-tiny=b"], ["cia-tiny"])
    with pytest.raises(ValueError, match="empty file name"):
        tw.parse_weights_args(["cia-tiny="], ["cia-tiny"])


def test_resolve_default_shipped_weights(tmp_path, monkeypatch):
    missing = tmp_path / "weights" / "cia-tiny.pt"
    monkeypatch.setattr(tw, "shipped_weights_path", lambda preset: missing)
    with pytest.raises(tw.WeightsNotFoundError) as e:
        tw.resolve_weights("cia-tiny", None)
    assert str(missing) in str(e.value) and "experiments.train cia-tiny" in str(e.value) and "--random-init" in str(e.value)
    missing.parent.mkdir()
    missing.write_bytes(b"x")
    assert tw.resolve_weights("cia-tiny", None) == tw.WeightsSpec("shipped", missing)
    assert tw.resolve_weights("cia-tiny", None, random_init=True) == tw.WeightsSpec("random")


def test_shipped_path_is_in_the_family_package():
    p = tw.shipped_weights_path("hctrack-tiny")
    assert p.parts[-4:] == ("trackers", "hctrack", "weights", "hctrack-tiny.pt")
    assert tw.shipped_weights_path("cia-tiny").parts[-3:] == ("cia", "weights", "cia-tiny.pt")


@pytest.mark.parametrize("preset, hint", [("hctrack", "mae_vit:"), ("cia50", "pytracking:super_dimp.pth.tar")])
def test_full_preset_without_weights(preset, hint):
    with pytest.raises(tw.WeightsNotFoundError) as e:
        tw.resolve_weights(preset, None)
    msg = str(e.value)
    assert f"experiments.train {preset}" in msg and hint in msg and "--random-init" in msg


def test_resolve_errors(tmp_path):
    with pytest.raises(ValueError, match="exclude each other"):
        tw.resolve_weights("cia-tiny", "w.pt", random_init=True)
    with pytest.raises(ValueError, match="CIA presets only"):
        tw.resolve_weights("hctrack-tiny", "pytracking:w.pt")
    with pytest.raises(tw.WeightsNotFoundError, match="nope.pt"):
        tw.resolve_weights("cia-tiny", str(tmp_path / "nope.pt"))
    (tmp_path / "d.pth").write_bytes(b"x")
    assert tw.resolve_weights("cia18", f"pytracking:{tmp_path / 'd.pth'}") == tw.WeightsSpec("pytracking", tmp_path / "d.pth")


def test_random_init_is_seeded_and_leaves_global_rng_alone():
    torch.manual_seed(7)
    before = torch.rand(3)
    torch.manual_seed(7)
    a = tw.load_model("cia-tiny", tw.WeightsSpec("random"))
    after = torch.rand(3)
    b = tw.load_model("cia-tiny", tw.WeightsSpec("random"))
    assert torch.equal(before, after)                                  # global stream not consumed
    for (k, va), vb in zip(a.model.state_dict().items(), b.model.state_dict().values()):
        assert torch.equal(va, vb), k
    assert not a.model.training and a.weights_sha256 is None


def test_release_loads_strictly_with_stale_init_paths(tmp_path):
    cfg = get_config("cia-tiny")
    torch.manual_seed(99)
    model = family_api(cfg).build_model(cfg)
    stored = replace_path(cfg, "model.backbone_weights", "/training/machine/resnet.pth")  # absent here
    path = atomic_torch_save(release_dict("cia-tiny", asdict(stored), model.state_dict()), tmp_path / "r.pt")

    lm = tw.load_model("cia-tiny", tw.WeightsSpec("release", path))
    assert lm.cfg.model.backbone_weights is None
    stored_keys = torch.load(path, weights_only=True)["model"].keys()
    assert not any(k.startswith("momentum_encoder.") for k in stored_keys)  # training-only: left out
    for k, v in model.state_dict().items():
        if not k.startswith("momentum_encoder."):
            assert torch.equal(lm.model.state_dict()[k], v), k
    assert lm.weights_sha256 == tw.file_sha256(path) and len(lm.weights_sha256) == 64
    assert lm.fingerprint()["config_sha256"] == tw.config_sha256(lm.cfg)

    with pytest.raises(CheckpointError, match="for preset 'cia-tiny', not 'cia18'"):
        tw.load_model("cia18", tw.WeightsSpec("release", path))
    state = dict(model.state_dict())
    state.pop(next(iter(state)))
    bad = atomic_torch_save(release_dict("cia-tiny", asdict(cfg), state), tmp_path / "bad.pt")
    with pytest.raises(CheckpointError, match="missing keys"):
        tw.load_model("cia-tiny", tw.WeightsSpec("release", bad))


def test_inference_config_clears_only_init_fields():
    cfg = replace_path(get_config("hctrack-tiny"), "model.pretrained", "mae_vit:/x.pth")
    out = tw.inference_config(cfg)
    assert out.model.pretrained is None
    assert replace_path(out, "model.pretrained", "mae_vit:/x.pth") == cfg
