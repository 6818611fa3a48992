"""Presets build and train (shapes, gradients, no NaN); every ablation switch changes the graph."""
import dataclasses

import pytest
import torch

from trackers.cia import api
from trackers.cia.config import CIAConfig, CIAModelConfig
from trackers.registry import family_api, get_config, list_presets

PRESETS = ("cia-tiny", "cia18", pytest.param("cia50", marks=pytest.mark.slow))


class _Capture(torch.nn.Module):
    """Runs the model once for the actor and keeps its outputs for the shape checks."""

    def __init__(self, model):
        super().__init__()
        self.inner = model
        self.out = None

    def forward(self, *args):
        self.out = self.inner(*args)
        return self.out


def _run(cfg, batch):
    model = api.build_model(cfg)
    model.train()
    loss, stats = api.build_actor(cfg)(model, batch)
    loss.backward()
    return model, loss, stats


@pytest.mark.parametrize("name", PRESETS)
def test_preset_builds_trains_and_has_gradients(name, make_batch):
    cfg = get_config(name)
    assert cfg.family == "cia" and family_api(cfg) is api
    if name != "cia-tiny":  # the network is size-agnostic: keep CPU time small for the big presets
        cfg = get_config(name, {"data.num_train": 1, "data.num_test": 1})
    size = 128 if name == "cia-tiny" else 64
    batch = make_batch(cfg, num_seq=2, image_size=size)
    model = api.build_model(cfg)
    cap = _Capture(model)
    loss, stats = api.build_actor(cfg)(cap, batch)
    out = cap.out
    nte, f = cfg.data.num_test, size // 16 + 1
    assert len(out["scores"]) == cfg.model.optim_iter + 1
    assert all(s.shape == (nte, 2, f, f) for s in out["scores"])
    assert out["box_pred"].shape == (nte, 2, cfg.data.num_proposals)
    nf = cfg.data.num_train + nte
    assert out["q"].shape == out["k"].shape == (nf * 2, cfg.model.layer3_channels)
    assert out["category_logits"].shape == (nf * 2, 70)
    loss.backward()
    assert torch.isfinite(loss)
    expected = {"Loss/total", "Loss/test_clf", "Loss/contrastive", "Loss/category",
                "Loss/kl" if cfg.model.box_regression == "kl" else "Loss/iou"}
    assert expected <= set(stats)
    for n, p in model.named_parameters():
        if n.startswith("momentum_encoder."):
            assert not p.requires_grad and p.grad is None
        elif p.requires_grad:
            assert p.grad is not None, f"{n} got no gradient"
            assert torch.isfinite(p.grad).all(), f"{n} has a non-finite gradient"
    if cfg.model.frozen_backbone_layers:
        assert not any(p.requires_grad for p in model.backbone.layer2.parameters())


@pytest.mark.slow
def test_cia18_full_size_forward_backward(make_batch):
    cfg = get_config("cia18", {"data.num_train": 1, "data.num_test": 1})
    batch = make_batch(cfg, num_seq=2)
    assert batch["train_images"].shape == (1, 2, 3, 288, 288)
    model, loss, stats = _run(cfg, batch)
    assert torch.isfinite(loss)
    grads = [p.grad for n, p in model.named_parameters() if p.requires_grad]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)


def test_presets_registered_and_validated():
    assert {"cia18", "cia50", "cia-tiny"} <= set(list_presets())
    c18, c50 = get_config("cia18"), get_config("cia50")
    assert (c18.data.image_size, c18.data.search_factor, c18.data.feat_size) == (288, 5.0, 18)
    assert (c50.data.image_size, c50.data.search_factor, c50.data.feat_size, c50.model.box_regression) == (352, 6.0, 22, "kl")
    assert c18.train.optimizer == "adam" and (c18.train.lr_step_epochs, c18.train.lr_gamma, c18.train.epochs) == (15, 0.2, 50)
    assert get_config("cia-tiny").train.dataset_ratios == (("synthetic", 1.0),)
    with pytest.raises(ValueError, match="box_regression"):
        dataclasses.replace(c18, model=dataclasses.replace(c18.model, box_regression="kl"))
    with pytest.raises(ValueError, match="num_categories"):
        CIAModelConfig(num_categories=0)
    with pytest.raises(KeyError):
        get_config("cia18", {"model.no_such_field": 1})


def test_param_groups_cover_trainables_once():
    cfg = get_config("cia-tiny")
    model = api.build_model(cfg)
    groups = api.param_groups(model, cfg)
    ids = [id(p) for g in groups for p in g["params"]]
    assert len(ids) == len(set(ids))
    trainable = {id(p) for n, p in model.named_parameters() if p.requires_grad}
    assert set(ids) == trainable
    by_name = {g["name"]: g for g in groups}
    assert by_name["model_optimizer"]["lr"] == cfg.model.lrs.model_optimizer
    assert any(p is model.target_classifier.optimizer.log_step_length for p in by_name["model_optimizer"]["params"])
    assert all(not n.startswith("momentum_encoder") for n, p in model.named_parameters() if id(p) in set(ids))


# -- ablation switches (each documented in trackers/cia/config.py) ----------------------------------

def _tiny(**model_overrides) -> CIAConfig:
    return get_config("cia-tiny", {f"model.{k}": v for k, v in model_overrides.items()})


def _forward(cfg, make_batch):
    torch.manual_seed(0)
    model = api.build_model(cfg).eval()
    b = make_batch(cfg, num_seq=2, image_size=64)
    out = model(b["train_images"], b["test_images"], b["train_boxes"], b["test_boxes"], b["test_proposals"])
    return model, out, b


def test_switch_cc_off_uses_free_dictionary(make_batch):
    model, out, b = _forward(_tiny(use_category_classification=False), make_batch)
    assert model.category_classifier is None and out["category_logits"] is None
    assert model.atoms() is model.dictionary.weight
    _, stats = api.build_actor(_tiny(use_category_classification=False))(model, {**b, "category": None})
    assert "Loss/category" not in stats


def test_switch_ce_off_is_identity_and_cuts_atoms_from_tracking_loss(make_batch):
    model, out, _ = _forward(_tiny(use_category_encoder=False), make_batch)
    assert model.category_encoder is None
    l3 = torch.randn(2, model.cfg.layer3_channels, 4, 4)
    torch.testing.assert_close(model.classification_features(l3),
                               model.target_classifier.extract(model.instance_aware(l3)))
    sum(s.sum() for s in out["scores"]).backward()          # tracking loss only
    assert model.category_classifier.fc.weight.grad is None
    on, out_on, _ = _forward(_tiny(), make_batch)
    sum(s.sum() for s in out_on["scores"]).backward()
    assert on.category_classifier.fc.weight.grad.abs().sum() > 0


def test_switch_cl_off_removes_contrastive_branch(make_batch):
    model, out, b = _forward(_tiny(use_contrastive=False), make_batch)
    assert out["q"] is None and model.momentum_encoder is None
    _, stats = api.build_actor(_tiny(use_contrastive=False))(model, b)
    assert "Loss/contrastive" not in stats
    # mlp_q (kept for IE) is then untrained: IE stops the gradient at its output
    none, out2, _ = _forward(_tiny(use_contrastive=False, use_instance_encoder=False), make_batch)
    assert none.mlp_q is None and none.angle_modulation is None


def test_switch_ie_off_feeds_plain_layer3(make_batch):
    model, out, _ = _forward(_tiny(use_instance_encoder=False), make_batch)
    assert model.angle_modulation is None
    l3 = torch.randn(1, model.cfg.layer3_channels, 3, 3)
    assert model.instance_aware(l3) is l3
    sum(s.sum() for s in out["scores"]).backward()
    assert all(p.grad is None for p in model.mlp_q.parameters())
    on, out_on, _ = _forward(_tiny(), make_batch)
    ins = on.instance_aware(l3)
    assert not torch.allclose(ins, l3)
    torch.testing.assert_close(ins.norm(dim=1), l3.norm(dim=1))


def test_switch_momentum_off_uses_query_encoder_for_keys(make_batch):
    cfg = _tiny(use_momentum=False)
    model, out, b = _forward(cfg, make_batch)
    assert model.momentum_encoder is None
    assert out["k"] is out["q"]
    model.momentum_update()                                     # no-op, no error
    loss, _ = api.build_actor(cfg)(model, b)
    loss.backward()
    assert model.mlp_q.conv1.weight.grad is not None
    with_m, out_m, _ = _forward(_tiny(), make_batch)
    assert not out_m["k"].requires_grad and out_m["q"].requires_grad


def test_switch_no_known_categories_table2(make_batch):
    cfg = _tiny(use_category_classification=False, num_categories=0, dictionary_size=12)
    model, out, b = _forward(cfg, make_batch)
    assert model.dictionary.weight.shape[0] == 12 and model.category_classifier is None
    loss, stats = api.build_actor(cfg)(model.train(), b)
    loss.backward()
    assert model.dictionary.weight.grad.abs().sum() > 0        # trained by the tracking loss only
    assert "Loss/category" not in stats
