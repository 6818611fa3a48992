import pytest
import torch

from trackers.hctrack.api import build_actor, build_model
from trackers.hctrack.model import HCTrackModel
from trackers.hctrack.overfit import synthetic_batch
from trackers.registry import get_config, list_presets

HCTRACK_PRESETS = [p for p in list_presets() if get_config(p).family == "hctrack"]


def _param_marks(name):
    return pytest.param(name, marks=pytest.mark.slow) if name == "hctrack" else name


def test_presets_listed():
    assert {"hctrack", "hctrack-tiny"} <= set(HCTRACK_PRESETS)


@pytest.mark.parametrize("preset", [_param_marks(p) for p in HCTRACK_PRESETS])
def test_preset_forward_backward(preset):
    """Batch of 2 (two videos), documented output shapes, a gradient on every parameter, no NaNs."""
    cfg = get_config(preset)
    model, actor = build_model(cfg).train(), build_actor(cfg)
    batch = synthetic_batch(cfg, 2, pairs_per_video=1)
    captured = []
    model.register_forward_hook(lambda m, i, o: captured.append(o))  # one forward only (ViT-B on CPU is slow)
    loss, stats = actor(model, batch)
    out = captured[0]
    F_ = cfg.search_grid
    assert out["score_map"].shape == (2, 1, F_, F_)
    assert out["offset_map"].shape == out["size_map"].shape == (2, 2, F_, F_)
    assert out["pred_boxes"].shape == (2, 4) and out["keep_mask"].shape == (2, F_ * F_)
    assert out["embeddings"].shape == (3, 2, cfg.model.contrastive_dim)
    assert all(torch.isfinite(v).all() for v in out.values() if v.is_floating_point())
    loss.backward()
    assert torch.isfinite(loss) and all(v == v for v in stats.values())
    no_grad = [n for n, p in model.named_parameters() if p.requires_grad and p.grad is None]
    assert not no_grad, f"parameters without gradient: {no_grad[:5]}"
    bad = [n for n, p in model.named_parameters() if p.grad is not None and not torch.isfinite(p.grad).all()]
    assert not bad


def _vit_block_params(C, r=4):
    return 2 * 2 * C + (3 * C * C + 3 * C) + (C * C + C) + (r * C * C + r * C) + (r * C * C + C)


def _tower(cin, ch, cout):
    widths = [cin, ch, ch // 2, ch // 4, ch // 8]
    n = sum(a * b * 9 + b + 2 * b for a, b in zip(widths, widths[1:]))  # conv3x3 + bias + BN
    return n + widths[-1] * cout + cout


def test_hctrack_parameter_count():
    cfg = get_config("hctrack")
    with torch.device("meta"):
        full = HCTrackModel(cfg)
        infer = HCTrackModel(cfg, with_contrastive_head=False)
    C = 768
    backbone = 12 * _vit_block_params(C) + (3 * 256 * C + C) + (64 + 256) * C + 2 * C  # 9 SSA + 3 CSA
    head = _tower(C, 256, 1) + 2 * _tower(C, 256, 2)
    contr = (C * 256 * 9 + 256) + (256 * 256 + 256) + 2 * 256
    n_full = sum(p.numel() for p in full.parameters())
    n_infer = sum(p.numel() for p in infer.parameters())
    assert n_infer == backbone + head == 92_366_469
    assert n_full == n_infer + contr == 94_202_501
    print(f"hctrack parameters: {n_full:,} (training graph), {n_infer:,} (inference graph)")


def test_wrong_crop_size_is_named(small_cfg):
    model = HCTrackModel(small_cfg())
    z = torch.randn(1, 3, 64, 64)
    with pytest.raises(ValueError, match=r"dynamic_template: expected \(B, 3, 64, 64\)"):
        model.forward_template(z, torch.randn(1, 3, 128, 128))
    with pytest.raises(ValueError, match=r"search: expected \(B, 3, 128, 128\)"):
        model(z, z, torch.randn(1, 3, 256, 256))
