import dataclasses

import pytest
import torch
import torch.nn.functional as F

from trackers.common.box_ops import box_iou
from trackers.common.losses import centernet_focal_loss, giou_loss, multi_positive_info_nce
from trackers.hctrack.api import build_actor, build_model
from trackers.hctrack.overfit import synthetic_batch


def test_loss_is_eq5_weighted_sum(small_cfg):
    cfg = small_cfg()
    model, actor = build_model(cfg).train(), build_actor(cfg)
    batch = synthetic_batch(cfg, 6)
    loss, stats = actor(model, batch)
    assert set(stats) >= {"Loss/total", "Loss/focal", "Loss/l1", "Loss/giou", "Loss/contrastive", "IoU"}
    # independent recomputation from the raw outputs (BatchNorm in train mode is deterministic here)
    out = model(batch["template"], batch["dynamic_template"], batch["search"],
                batch["template_box"], batch["dynamic_template_box"], batch["search_box"])
    cx, cy, w, h = out["pred_boxes"].unbind(1)
    pred = torch.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], 1)
    x, y, bw, bh = (batch["search_box"] / 128.0).unbind(1)
    gt = torch.stack([x, y, x + bw, y + bh], 1).clamp(0, 1)
    focal = centernet_focal_loss(out["score_map"][:, 0], batch["search_heatmap"])
    l1 = (pred - gt).abs().mean()
    giou = giou_loss(pred, gt)
    emb = out["embeddings"]
    labels = torch.cat([batch["video_id"]] * 3)
    cl = multi_positive_info_nce(emb.reshape(18, -1), labels, 0.07)
    expected = 1.0 * focal + 5.0 * l1 + 2.0 * giou + 0.1 * cl
    assert loss.item() == pytest.approx(expected.item(), rel=1e-5)
    assert stats["Loss/l1"] == pytest.approx(l1.item(), rel=1e-5)
    assert stats["Loss/contrastive"] == pytest.approx(cl.item(), rel=1e-5)
    assert stats["IoU"] == pytest.approx(box_iou(pred, gt, aligned=True).mean().item(), rel=1e-5)
    loss.backward()
    assert model.contrastive_head.conv1.weight.grad is not None


def test_contrastive_switches(small_cfg):
    cfg = small_cfg()
    no_dt = dataclasses.replace(cfg, loss=dataclasses.replace(cfg.loss, include_dynamic_template=False))
    model = build_model(no_dt)
    seen = []
    model.contrastive_head.register_forward_hook(lambda m, i, o: seen.append(o.shape))
    build_actor(no_dt)(model, synthetic_batch(no_dt, 6))
    assert seen[0][0] == 2                                            # T and S only
    off = dataclasses.replace(cfg, loss=dataclasses.replace(cfg.loss, contrastive_weight=0.0))
    model_off = build_model(off)
    assert model_off.contrastive_head is None
    _, stats = build_actor(off)(model_off, synthetic_batch(off, 6))
    assert stats["Loss/contrastive"] == 0.0


def test_missing_batch_key_is_named(small_cfg):
    cfg = small_cfg()
    batch = synthetic_batch(cfg, 3)
    del batch["search_heatmap"]
    with pytest.raises(KeyError, match="search_heatmap"):
        build_actor(cfg)(build_model(cfg), batch)


def test_param_groups_backbone_multiplier(small_cfg):
    cfg = dataclasses.replace(small_cfg(), train=dataclasses.replace(small_cfg().train, backbone_lr_mult=0.1))
    from trackers.hctrack.api import param_groups
    model = build_model(cfg)
    groups = param_groups(model, cfg)
    names = {id(p): n for n, p in model.named_parameters()}
    bb, heads = groups
    assert bb["lr"] == pytest.approx(cfg.train.lr * 0.1) and heads["lr"] == cfg.train.lr
    assert all(names[id(p)].startswith("backbone.") for p in bb["params"])
    assert all(not names[id(p)].startswith("backbone.") for p in heads["params"])
    assert len(bb["params"]) + len(heads["params"]) == len(list(model.parameters()))
