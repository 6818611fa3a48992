import math

import pytest
import torch

from trackers.hctrack.model import HCTrackModel
from trackers.hctrack.rip import rip_energy, rip_keep_mask, template_centre_indices


def test_centre_indices_hand_values():
    assert template_centre_indices(4, 2).tolist() == [5, 6, 9, 10, 21, 22, 25, 26]
    idx = template_centre_indices(8, 4, num_templates=1).tolist()
    assert idx == [18, 19, 20, 21, 26, 27, 28, 29, 34, 35, 36, 37, 42, 43, 44, 45]
    with pytest.raises(ValueError):
        template_centre_indices(4, 5)


def test_keep_mask_hand_values_per_sample():
    e = torch.tensor([
        [0.4, 0.1, 0.3, 0.2],     # sorted .4 .3 -> .7 >= .6 -> m = 2: {0, 2}
        [0.7, 0.1, 0.1, 0.1],     # .7 >= .6 -> m = 1: {0}
        [0.25, 0.25, 0.25, 0.25],  # .25 .5 .75 -> m = 3, ties by position: {0, 1, 2}
        [0.2, 0.6, 0.1, 0.1],     # .6 >= .6 -> m = 1: {1}
    ])
    keep = rip_keep_mask(e, 0.6)
    assert keep.tolist() == [
        [True, False, True, False],
        [True, False, False, False],
        [True, True, True, False],
        [False, True, False, False],
    ]


def test_keep_mask_unnormalised_and_edge_ratios():
    e = torch.tensor([[2.0, 6.0, 1.0, 1.0]])  # theta = 10, rho theta = 7: 6 < 7, 6 + 2 >= 7 -> {1, 0}
    assert rip_keep_mask(e, 0.7).tolist() == [[True, True, False, False]]
    z = torch.tensor([[0.5, 0.0, 0.5, 0.0]])  # rho = 1 keeps exactly the tokens with energy
    assert rip_keep_mask(z, 1.0).tolist() == [[True, False, True, False]]
    assert rip_keep_mask(torch.tensor([[1.0, 0.0]]), 1e-6).tolist() == [[True, False]]


def test_keep_mask_brute_force():
    g = torch.Generator().manual_seed(0)
    e = torch.rand(20, 9, generator=g) ** 3
    keep = rip_keep_mask(e, 0.9)
    for row, k in zip(e.tolist(), keep.tolist()):
        order = sorted(range(9), key=lambda i: -row[i])
        total, acc, m = sum(row), 0.0, 0
        while acc < 0.9 * total:
            acc += row[order[m]]
            m += 1
        assert sorted(i for i in range(9) if k[i]) == sorted(order[:m])


def test_energy_hand_value():
    # 2 heads, d = 1, one centre query. head 0: logits (0, ln 3) -> (1/4, 3/4); head 1: equal -> (1/2, 1/2)
    q = torch.tensor([1.0, 1.0]).view(1, 2, 1, 1)
    k = torch.tensor([[0.0, math.log(3.0)], [5.0, 5.0]]).view(1, 2, 2, 1)
    torch.testing.assert_close(rip_energy(q, k), torch.tensor([[0.375, 0.625]]))


def test_model_zero_fills_pruned_tokens_and_keeps_masks_per_sample(small_cfg):
    model = HCTrackModel(small_cfg(rip_ratio=0.5)).eval()
    z, x = torch.randn(3, 3, 64, 64), torch.randn(3, 3, 128, 128)
    with torch.no_grad():
        tf = model.forward_template(z, z)
        sf = model.backbone.forward_search(x, tf)
    keep = sf.keep
    assert keep.shape == (3, 64) and keep.dtype == torch.bool
    assert torch.equal(keep, rip_keep_mask(sf.energy, 0.5))
    torch.testing.assert_close(sf.energy.sum(1), torch.ones(3))
    assert (~keep).any(), "rho = 0.5 must prune something"
    assert torch.all(sf.tokens[~keep] == 0)
    assert torch.all(sf.tokens[keep].abs().sum(-1) > 0)


def test_masked_later_layer_equals_physical_drop(small_cfg):
    """RIP after layer 5 of 6: masking pruned keys == running layer 6 on the kept tokens only."""
    model = HCTrackModel(small_cfg(rip_layer=5, rip_ratio=0.6)).eval()
    bb = model.backbone
    z, x = torch.randn(1, 3, 64, 64), torch.randn(1, 3, 128, 128)
    with torch.no_grad():
        tf = bb.forward_template(z, z)
        sf = bb.forward_search(x, tf)
        s = bb.patch_embed(x) + bb.pos_embed_x
        for blk in bb.blocks[:4]:
            s = blk(s)
        s, k_s, _ = bb.csa_blocks[0](s, tf.kv[0])
        keep = sf.keep[0]
        assert 0 < keep.sum() < 64
        kept = s[:, keep]                                            # physically dropped
        kept, _, _ = bb.csa_blocks[1](kept, tf.kv[1])
        kept = bb.norm(kept)
    torch.testing.assert_close(sf.tokens[:, keep], kept, rtol=1e-4, atol=1e-5)
