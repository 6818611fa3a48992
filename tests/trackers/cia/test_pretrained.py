"""Loading pytracking DiMP checkpoints without running their pickled code, and ImageNet weights."""
import sys
import types

import pytest
import torch
import torchvision

from trackers.cia import api
from trackers.cia.pretrained import load_pytracking_dimp, read_pytracking_checkpoint, remap_pytracking_dimp
from trackers.common.checkpoint import CheckpointError
from trackers.registry import get_config

EXECUTED = []


def _boom(*args):
    EXECUTED.append(args)
    return "executed"


class NetConstructor:  # mimics ltr.admin.model_constructor.NetConstructor; unpickling it must run nothing
    def __init__(self):
        self.fun_name, self.fun_module = "dimpnet18", "ltr.models.tracking.dimpnet"

    def __reduce__(self):
        return (_boom, ("constructor",))


def _fake_ltr_module(monkeypatch):
    mod = types.ModuleType("ltr_fake_admin")
    NetConstructor.__module__ = "ltr_fake_admin"
    _boom.__module__ = "ltr_fake_admin"
    mod.NetConstructor, mod._boom = NetConstructor, _boom
    monkeypatch.setitem(sys.modules, "ltr_fake_admin", mod)


def _pytracking_state(model) -> dict:
    """Our tiny model's DiMP tensors under pytracking's names (written out by hand per module)."""
    ours = model.state_dict()
    names = {
        "backbone.": "feature_extractor.",
        "target_classifier.features.": "classifier.feature_extractor.",
        "target_classifier.initializer.filter_conv.": "classifier.filter_initializer.filter_conv.",
        "target_classifier.optimizer.log_step_length": "classifier.filter_optimizer.log_step_length",
        "target_classifier.optimizer.filter_reg": "classifier.filter_optimizer.filter_reg",
        "target_classifier.optimizer.label_predictor.": "classifier.filter_optimizer.label_map_predictor.",
        "target_classifier.optimizer.mask_predictor.": "classifier.filter_optimizer.target_mask_predictor.0.",
        "target_classifier.optimizer.weight_predictor.": "classifier.filter_optimizer.spatial_weight_predictor.",
        "box_head.ref_conv_l2.": "bb_regressor.conv3_1r.", "box_head.ref_fc_l2.": "bb_regressor.fc3_1r.",
        "box_head.ref_conv_l3.": "bb_regressor.conv4_1r.", "box_head.mod_l2.": "bb_regressor.fc34_3r.",
        "box_head.mod_l3.": "bb_regressor.fc34_4r.", "box_head.test_conv1_l2.": "bb_regressor.conv3_1t.",
        "box_head.test_conv2_l2.": "bb_regressor.conv3_2t.", "box_head.test_conv1_l3.": "bb_regressor.conv4_1t.",
        "box_head.test_conv2_l3.": "bb_regressor.conv4_2t.", "box_head.fc_l2.": "bb_regressor.fc3_rt.",
        "box_head.fc_l3.": "bb_regressor.fc4_rt.", "box_head.iou_predictor.": "bb_regressor.iou_predictor.",
    }
    out = {}
    for k, v in ours.items():
        for a, b in names.items():
            if k.startswith(a):
                out[b + k[len(a):]] = torch.randn_like(v) if v.is_floating_point() else v.clone()
    out["feature_extractor.fc.weight"] = torch.zeros(1000, 8)
    out["classifier.filter_optimizer.filter_reg"] = torch.tensor([0.123])
    return out


def test_remap_table_hand_checked_keys():
    sd = {
        "feature_extractor.layer3.1.bn2.running_var": torch.ones(3),
        "feature_extractor.layer4.0.conv1.weight": torch.ones(1),
        "feature_extractor.fc.bias": torch.ones(1),
        "classifier.filter_optimizer.target_mask_predictor.0.weight": torch.ones(1),
        "bb_regressor.fc34_3r.0.weight": torch.ones(1),
        "bb_regressor.fc4_rt.bn.running_mean": torch.ones(1),
        "classifier.feature_extractor.1.weight": torch.ones(1),
    }
    out = remap_pytracking_dimp(sd)
    assert set(out) == {
        "backbone.layer3.1.bn2.running_var", "category_classifier.block.0.conv1.weight",
        "target_classifier.optimizer.mask_predictor.weight", "box_head.mod_l2.0.weight",
        "box_head.fc_l3.bn.running_mean", "target_classifier.features.1.weight",
    }
    with pytest.raises(KeyError, match="no rule"):
        remap_pytracking_dimp({"classifier.something_new.weight": torch.ones(1)})


@pytest.mark.parametrize("zipfile_format", [True, False])
def test_read_checkpoint_never_runs_pickled_code(tmp_path, monkeypatch, zipfile_format):
    _fake_ltr_module(monkeypatch)
    net = {"a.weight": torch.arange(6.0).reshape(2, 3), "b": torch.tensor([1, 2])}
    ckpt = {"epoch": 50, "net_type": "DiMPnet", "net": net, "constructor": NetConstructor(),
            "settings": NetConstructor()}
    path = tmp_path / "dimp18.pth"
    torch.save(ckpt, path, _use_new_zipfile_serialization=zipfile_format)
    EXECUTED.clear()
    with pytest.raises(Exception):  # the safe loader refuses it outright
        torch.load(path, weights_only=True)
    torch.load(path, weights_only=False)  # a plain load would run the pickled call
    assert EXECUTED
    EXECUTED.clear()
    monkeypatch.delitem(sys.modules, "ltr_fake_admin")  # as on a machine without pytracking
    got = read_pytracking_checkpoint(path)
    assert EXECUTED == []
    assert set(got) == {"a.weight", "b"} and torch.equal(got["a.weight"], net["a.weight"])


def test_read_checkpoint_errors(tmp_path):
    with pytest.raises(FileNotFoundError):
        read_pytracking_checkpoint(tmp_path / "missing.pth")
    bad = tmp_path / "bad.pth"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="bad.pth"):
        read_pytracking_checkpoint(bad)
    nonet = tmp_path / "nonet.pth"
    torch.save({"model": {}}, nonet)
    with pytest.raises(CheckpointError, match="'net'"):
        read_pytracking_checkpoint(nonet)


def test_load_pytracking_dimp_into_cia(tmp_path, monkeypatch):
    _fake_ltr_module(monkeypatch)
    cfg = get_config("cia-tiny")
    model = api.build_model(cfg)
    sd = _pytracking_state(model)
    path = tmp_path / "dimp.pth.tar"
    torch.save({"net": sd, "constructor": NetConstructor()}, path)
    monkeypatch.delitem(sys.modules, "ltr_fake_admin")
    EXECUTED.clear()
    mlp_before = model.mlp_q.conv1.weight.clone()
    load_pytracking_dimp(model, path)
    assert EXECUTED == []
    assert model.target_classifier.optimizer.filter_reg.item() == pytest.approx(0.123)
    assert torch.equal(model.box_head.mod_l2[0].weight, sd["bb_regressor.fc34_3r.0.weight"])
    assert torch.equal(model.backbone.layer3[0].conv1.weight, sd["feature_extractor.layer3.0.conv1.weight"])
    assert torch.equal(model.mlp_q.conv1.weight, mlp_before)                 # CIA-only: untouched
    assert torch.equal(model.momentum_encoder.backbone.layer3[0].conv1.weight, model.backbone.layer3[0].conv1.weight)
    # a mismatching checkpoint is refused with the key named
    sd["bb_regressor.iou_predictor.weight"] = torch.zeros(1, 3)
    torch.save({"net": sd}, path)
    with pytest.raises(CheckpointError, match="box_head.iou_predictor.weight"):
        load_pytracking_dimp(model, path)


def test_imagenet_backbone_loading(tmp_path):
    ref = torchvision.models.resnet18(weights=None)
    path = tmp_path / "resnet18.pth"
    torch.save(ref.state_dict(), path)
    model = api.build_model(get_config("cia18", {"model.backbone_weights": str(path),
                                                 "model.use_category_encoder": False}))
    assert torch.equal(model.backbone.layer2[1].conv2.weight, ref.layer2[1].conv2.weight)
    assert torch.equal(model.category_classifier.block[0].conv1.weight, ref.layer4[0].conv1.weight)
    assert torch.equal(model.momentum_encoder.backbone.conv1.weight, ref.conv1.weight)
