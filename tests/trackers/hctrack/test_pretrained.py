import pytest
import torch
import torch.nn.functional as F

from datasets.fileio import atomic_torch_save
from trackers.common.checkpoint import CheckpointError
from trackers.hctrack.api import build_model
from trackers.hctrack.model import HCTrackModel
from trackers.hctrack.pretrained import load_mae_vit, remap_mae_vit


def _mae_state_dict(C=32, depth=8, heads_ratio=4, g=14, seed=0):
    """A synthetic MAE ViT state dict with the timm/MAE key names (written out, not taken from our model)."""
    gen = torch.Generator().manual_seed(seed)
    r = lambda *s: torch.randn(*s, generator=gen)  # noqa: E731
    sd = {
        "cls_token": r(1, 1, C), "pos_embed": r(1, 1 + g * g, C),
        "patch_embed.proj.weight": r(C, 3, 16, 16), "patch_embed.proj.bias": r(C),
        "norm.weight": r(C), "norm.bias": r(C),
        "mask_token": r(1, 1, C), "decoder_embed.weight": r(16, C), "decoder_pos_embed": r(1, 1 + g * g, 16),
        "decoder_blocks.0.norm1.weight": r(16), "decoder_pred.weight": r(768, 16),
    }
    for j in range(depth):
        p = f"blocks.{j}."
        sd.update({
            p + "norm1.weight": r(C), p + "norm1.bias": r(C),
            p + "attn.qkv.weight": r(3 * C, C), p + "attn.qkv.bias": r(3 * C),
            p + "attn.proj.weight": r(C, C), p + "attn.proj.bias": r(C),
            p + "norm2.weight": r(C), p + "norm2.bias": r(C),
            p + "mlp.fc1.weight": r(heads_ratio * C, C), p + "mlp.fc1.bias": r(heads_ratio * C),
            p + "mlp.fc2.weight": r(C, heads_ratio * C), p + "mlp.fc2.bias": r(C),
        })
    return sd


def _bicubic(pe, n):
    grid = pe[:, 1:].reshape(1, 14, 14, -1).permute(0, 3, 1, 2)
    return F.interpolate(grid, size=(n, n), mode="bicubic", align_corners=False).permute(0, 2, 3, 1).reshape(1, n * n, -1)


def test_remap_table(small_cfg):
    cfg = small_cfg()  # depth 6: blocks 0..5 SSA, CSA layers 5, 6 <- blocks 4, 5
    sd = _mae_state_dict()
    out = remap_mae_vit({"model": sd}, cfg)
    assert out["backbone.blocks.3.attn.qkv.weight"] is sd["blocks.3.attn.qkv.weight"]
    assert out["backbone.csa_blocks.0.mlp.fc2.bias"] is sd["blocks.4.mlp.fc2.bias"]
    assert out["backbone.csa_blocks.1.norm1.weight"] is sd["blocks.5.norm1.weight"]
    assert not any("blocks.6" in k or "blocks.7" in k for k in out)       # beyond the depth: ignored
    assert not any("decoder" in k or "cls" in k or "mask" in k for k in out)
    torch.testing.assert_close(out["backbone.pos_embed_z"], _bicubic(sd["pos_embed"], 4))
    torch.testing.assert_close(out["backbone.pos_embed_x"], _bicubic(sd["pos_embed"], 8))


def test_load_small_checkpoint(tmp_path, small_cfg):
    cfg = small_cfg()
    sd = _mae_state_dict()
    path = atomic_torch_save({"model": sd}, tmp_path / "mae_tiny.pth")
    model = HCTrackModel(cfg)
    head_before = model.box_head.score_tower[0][0].weight.clone()
    load_mae_vit(model, path, cfg)
    bb = model.backbone
    torch.testing.assert_close(bb.blocks[0].attn.qkv.weight, sd["blocks.0.attn.qkv.weight"])
    torch.testing.assert_close(bb.csa_blocks[0].attn.qkv.weight, sd["blocks.4.attn.qkv.weight"])
    torch.testing.assert_close(bb.norm.bias, sd["norm.bias"])
    torch.testing.assert_close(bb.patch_embed.proj.weight, sd["patch_embed.proj.weight"])
    torch.testing.assert_close(model.box_head.score_tower[0][0].weight, head_before)  # heads untouched
    # build_model with the config field does the same
    import dataclasses
    cfg2 = dataclasses.replace(cfg, model=dataclasses.replace(cfg.model, pretrained=f"mae_vit:{path}"))
    torch.testing.assert_close(build_model(cfg2).backbone.pos_embed_x, _bicubic(sd["pos_embed"], 8))


def test_load_errors_name_the_key(tmp_path, small_cfg):
    cfg = small_cfg()
    wide = atomic_torch_save(_mae_state_dict(C=48), tmp_path / "wide.pth")
    with pytest.raises(CheckpointError, match=r"shape mismatch backbone\.\S+: checkpoint \(.*48"):
        load_mae_vit(HCTrackModel(cfg), wide, cfg)
    shallow = atomic_torch_save(_mae_state_dict(depth=3), tmp_path / "shallow.pth")
    with pytest.raises(CheckpointError, match=r"missing keys .*blocks\.3\."):
        load_mae_vit(HCTrackModel(cfg), shallow, cfg)
    with pytest.raises(FileNotFoundError, match="not found"):
        load_mae_vit(HCTrackModel(cfg), tmp_path / "nope.pth", cfg)
    no_pos = {k: v for k, v in _mae_state_dict().items() if k != "pos_embed"}
    with pytest.raises(CheckpointError, match="pos_embed"):
        remap_mae_vit(no_pos, cfg)
