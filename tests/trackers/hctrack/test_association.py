import pytest
import torch
import torch.nn.functional as F

from trackers.hctrack.association import template_levels
from trackers.hctrack.model import HCTrackModel


@pytest.mark.parametrize(
    "mode, expected",  # paper geometry: CSA layers 7, 8, 9 of 9; "current" = same depth as the search input
    [
        ("last", {7: (9,), 8: (9,), 9: (9,)}),
        ("current", {7: (6,), 8: (7,), 9: (8,)}),
        ("penultimate", {7: (8,), 8: (8,), 9: (8,)}),
        ("last+previous", {7: (9, 5), 8: (9, 6), 9: (9, 7)}),
        ("last+next", {7: (9, 7), 8: (9, 8), 9: (9,)}),     # layer 9: "next" is the last itself
        ("last+current", {7: (9, 6), 8: (9, 7), 9: (9, 8)}),  # Fig. 3: s_m, t_m, d_m, t_o, d_o at layer 7
    ],
)
def test_levels_per_mode_paper_geometry(mode, expected):
    assert {layer: template_levels(mode, layer, 9) for layer in (7, 8, 9)} == expected


def test_letters_and_errors():
    assert template_levels("f", 7, 9) == template_levels("last+current", 7, 9)
    assert template_levels("a", 8, 9) == (9,)
    with pytest.raises(ValueError, match="unknown association"):
        template_levels("g", 7, 9)
    with pytest.raises(ValueError, match="CSA layer"):
        template_levels("last", 10, 9)


def _manual_levels(model, z, dz):
    """Template tokens after j blocks, computed by hand from the block weights (no HFEI code)."""
    bb = model.backbone
    p = bb.cfg.patch_size
    x = torch.cat([z, dz], 0)
    tok = F.conv2d(x, bb.patch_embed.proj.weight, bb.patch_embed.proj.bias, stride=p).flatten(2).transpose(1, 2)
    tok = tok + bb.pos_embed_z
    B = z.shape[0]
    t = torch.cat([tok[:B], tok[B:]], 1)  # [T ; DT]
    levels = {0: t}
    for j, blk in enumerate(bb.blocks, 1):
        t = blk(t)
        levels[j] = t
    return levels


@pytest.mark.parametrize("mode", ["last", "current", "penultimate", "last+previous", "last+next", "last+current"])
def test_csa_key_value_composition(small_cfg, mode):
    cfg = small_cfg(association=mode)
    model = HCTrackModel(cfg).eval()
    z, dz = torch.randn(2, 3, 64, 64), torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        tf = model.forward_template(z, dz)
        lv = _manual_levels(model, z, dz)
    C, H = 32, 2
    for i, layer in enumerate((5, 6)):
        levels = template_levels(mode, layer, 6)
        blk = model.backbone.csa_blocks[i]
        t = torch.cat([lv[j] for j in levels], 1)                      # keys in mode order
        tn = F.layer_norm(t, (C,), blk.norm1.weight, blk.norm1.bias, eps=1e-6)
        w, b = blk.attn.qkv.weight, blk.attn.qkv.bias
        k = (tn @ w[C:2 * C].T + b[C:2 * C]).reshape(2, -1, H, C // H).transpose(1, 2)
        v = (tn @ w[2 * C:].T + b[2 * C:]).reshape(2, -1, H, C // H).transpose(1, 2)
        assert tf.kv[i][0].shape == (2, H, 2 * 16 * len(levels), C // H)
        torch.testing.assert_close(tf.kv[i][0], k, rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(tf.kv[i][1], v, rtol=1e-5, atol=1e-5)


def test_unneeded_template_blocks_not_built(small_cfg):
    # "current" mode at depth 6 with RIP at 6 needs levels <= 5: the 6th template block is never used
    assert len(HCTrackModel(small_cfg(association="current")).backbone.blocks) == 5
    assert len(HCTrackModel(small_cfg()).backbone.blocks) == 6
