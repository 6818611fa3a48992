import math

import torch

from trackers.hctrack.attention import Attention, attention
from trackers.hctrack.model import HCTrackModel


def test_fused_and_explicit_paths_agree_with_mask():
    g = torch.Generator().manual_seed(1)
    q, k, v = (torch.randn(2, 3, 5, 4, generator=g) for _ in range(3))
    k, v = torch.randn(2, 3, 7, 4, generator=g), torch.randn(2, 3, 7, 4, generator=g)
    mask = torch.ones(2, 7, dtype=torch.bool)
    mask[0, [1, 4]] = False
    fused, none = attention(q, k, v, mask)
    explicit, w = attention(q, k, v, mask, need_weights=True)
    assert none is None
    torch.testing.assert_close(fused, explicit, rtol=1e-5, atol=1e-6)
    assert torch.all(w[0, :, :, [1, 4]] == 0)
    torch.testing.assert_close(w.sum(-1), torch.ones(2, 3, 5))


def test_explicit_attention_hand_value():
    # one head, d = 1: logits = q k / 1; q = 1, keys 0 and ln 3 -> weights 1/4, 3/4
    q = torch.ones(1, 1, 1, 1)
    k = torch.tensor([0.0, math.log(3.0)]).view(1, 1, 2, 1)
    v = torch.tensor([10.0, 20.0]).view(1, 1, 2, 1)
    out, w = attention(q, k, v, need_weights=True)
    torch.testing.assert_close(w.flatten(), torch.tensor([0.25, 0.75]))
    assert out.item() == torch.tensor(17.5).item()


def test_attention_module_extra_kv_equals_concatenated_tokens():
    """Attending to precomputed template K/V == self-attention over [x ; t] restricted to x's queries."""
    attn = Attention(8, 2)
    x, t = torch.randn(1, 5, 8), torch.randn(1, 3, 8)
    out, _, _ = attn(x, attn.project_kv(t))
    full, _, _ = attn(torch.cat([x, t], 1))  # plain self-attention; its first 5 rows use the same keys
    torch.testing.assert_close(out, full[:, :5], rtol=1e-5, atol=1e-6)


def test_model_outputs_same_with_explicit_attention(small_cfg):
    model = HCTrackModel(small_cfg(rip_layer=None)).eval()
    z, x = torch.randn(2, 3, 64, 64), torch.randn(2, 3, 128, 128)
    with torch.no_grad():
        a = model(z, z, x)
        for m in model.modules():
            if isinstance(m, Attention):
                m.fused = False
        b = model(z, z, x)
    for key in ("score_map", "size_map", "offset_map"):
        torch.testing.assert_close(a[key], b[key], rtol=1e-4, atol=1e-5)
