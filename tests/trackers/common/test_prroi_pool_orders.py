"""The two-GEMM PrRoIPool contraction (both orders) against a one-shot einsum of the same weights,
values and box gradients, float64."""
import pytest
import torch

from trackers.common import prroi_pool as pp


def _einsum_reference(features, boxes, ph, pw, scale):
    b = boxes * scale
    h, w = features.shape[-2:]
    ky, bh = pp._bin_weights(b[..., 1], b[..., 3], ph, h)
    kx, bw = pp._bin_weights(b[..., 0], b[..., 2], pw, w)
    area = bh * bw
    inv = torch.where(area > 0, 1 / area.clamp(min=1e-300), torch.zeros_like(area))
    return torch.einsum("nmph,nchw,nmqw->nmcpq", ky, features, kx) * inv[..., None, None, None]


@pytest.mark.parametrize("hw,out", [((9, 7), (3, 2)),    # columns first
                                    ((11, 5), (1, 4)),   # rows first
                                    ((8, 8), (5, 5))])
def test_both_contraction_orders_match_einsum(hw, out):
    h, w = hw
    ph, pw = out
    cols_first = h * pw * (w + ph) <= w * ph * (h + pw)
    assert cols_first == (hw != (11, 5))  # the cases cover both branches
    g = torch.Generator().manual_seed(0)
    feat = torch.randn(2, 3, h, w, generator=g, dtype=torch.float64)
    xy = torch.rand(2, 4, 2, generator=g, dtype=torch.float64) * torch.tensor([w, h]) * 4 - 4
    wh = torch.rand(2, 4, 2, generator=g, dtype=torch.float64) * 20 + 0.5
    boxes = torch.cat([xy, xy + wh], dim=-1).requires_grad_(True)
    got = pp.prroi_pool2d(feat, boxes, out, 0.25)
    ref = _einsum_reference(feat, boxes, ph, pw, 0.25)
    assert got.is_contiguous() and got.shape == (2, 4, 3, ph, pw)
    torch.testing.assert_close(got, ref, rtol=1e-12, atol=1e-12)
    weights = torch.randn(got.shape, generator=g, dtype=torch.float64)
    (g_got,) = torch.autograd.grad((got * weights).sum(), boxes)
    (g_ref,) = torch.autograd.grad((ref * weights).sum(), boxes)
    torch.testing.assert_close(g_got, g_ref, rtol=1e-10, atol=1e-12)
