"""The inference path of PrRoIPool (`prroi_pool_with_context` + `prroi_pool_boxes_grad`) against
`prroi_pool2d` and autograd through it, including boxes that leave the map, empty and inverted
boxes, and the support-window crop."""
import numpy as np
import pytest
import torch

from trackers.common.prroi_pool import (box_bounds, prroi_pool2d, prroi_pool_boxes_grad, prroi_pool_with_context,
                                        support_window)

BOXES = [  # x1, y1, x2, y2 in feature coordinates of a 12 x 12 map
    [2.3, 1.7, 6.9, 5.2],
    [-1.5, -0.4, 3.1, 2.6],      # leaves the map on the top left
    [7.2, 8.5, 11.8, 13.9],      # leaves it on the bottom right
    [4.0, 3.0, 4.0, 7.0],        # zero width: output 0
    [5.0, 6.0, 3.0, 8.0],        # inverted: output 0
    [20.0, 30.0, 24.0, 33.0],    # entirely outside
    [0.0, 0.0, 11.0, 11.0],      # the whole map, corners on samples
]


@pytest.mark.parametrize("bins", [1, 3, 5])
@pytest.mark.parametrize("crop", [False, True])
def test_values_and_box_gradient_equal_autograd_float64(bins, crop):
    g = torch.Generator().manual_seed(bins)
    fmap = torch.randn(6, 12, 12, generator=g, dtype=torch.float64)
    boxes = torch.tensor(BOXES, dtype=torch.float64)
    grad_out = torch.randn(len(BOXES), 6, bins, bins, generator=g, dtype=torch.float64)

    b = boxes.clone().requires_grad_(True)
    ref = prroi_pool2d(fmap[None], b[None], bins, 1.0)[0]
    (ref_grad,) = torch.autograd.grad((ref * grad_out).sum(), b)

    if crop:
        x0, y0, n = support_window(box_bounds(boxes), 12)
        out, ctx = prroi_pool_with_context(fmap[:, y0:y0 + n, x0:x0 + n], boxes, bins, (x0, y0))
    else:
        out, ctx = prroi_pool_with_context(fmap, boxes, bins)
    torch.testing.assert_close(out, ref.detach(), rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(prroi_pool_boxes_grad(ctx, grad_out), ref_grad, rtol=1e-10, atol=1e-12)
    assert ref_grad[:3].abs().min() > 0          # the test boxes do have gradients


def test_box_gradient_matches_central_differences():
    g = torch.Generator().manual_seed(0)
    fmap = torch.randn(3, 9, 9, generator=g, dtype=torch.float64)
    box = torch.tensor([[1.3, 2.2, 6.7, 5.9]], dtype=torch.float64)
    weights = torch.randn(1, 3, 3, 3, generator=g, dtype=torch.float64)
    _, ctx = prroi_pool_with_context(fmap, box, 3)
    grad = prroi_pool_boxes_grad(ctx, weights)[0]
    assert grad.abs().min() > 0
    eps = 1e-6
    for i in range(4):
        d = torch.zeros(1, 4, dtype=torch.float64)
        d[0, i] = eps
        hi = (prroi_pool_with_context(fmap, box + d, 3)[0] * weights).sum()
        lo = (prroi_pool_with_context(fmap, box - d, 3)[0] * weights).sum()
        assert float(grad[i]) == pytest.approx(float(hi - lo) / (2 * eps), rel=1e-6, abs=1e-8)


def test_support_window_covers_exactly_the_reachable_samples():
    # hats of samples s reach (s - 1, s + 1): x in [2.5, 4.2] touches samples 2..5, y in [3.0, 6.0] 3..6
    assert support_window([2.5, 3.0, 4.2, 6.0], 20) == (2, 3, 4)
    assert support_window([-3.0, 1.0, 0.5, 1.5], 20) == (0, 1, 2)          # clipped at 0
    assert support_window([18.5, 18.0, 30.0, 19.0], 20) == (18, 18, 2)     # clipped at the end
    assert support_window([40.0, 2.0, 50.0, 4.0], 20) == (17, 2, 3)        # x outside: shifted to fit n = 3
    assert support_window([float("nan"), 1.0, 1.0, 2.0], 20) == (0, 0, 20)  # not finite: everything
    boxes = torch.tensor([[4.0, 1.0, 2.0, 3.0], [1.5, 2.0, 3.0, 7.0]])       # the first inverted in x
    assert box_bounds(boxes) == [1.5, 1.0, 4.0, 7.0]
    assert support_window([2.5, 3.0, 4.2, 6.0], 20, margin=2) == (0, 1, 8)  # widened, clipped at 0
    # pooling from the window is exact for random boxes, and a small box reads a small window
    rng = np.random.default_rng(0)
    fmap = torch.randn(4, 16, 16, dtype=torch.float64)
    xy = torch.from_numpy(rng.uniform(-2, 16, (20, 2)))
    for boxes in (torch.cat([xy, xy + torch.from_numpy(rng.uniform(0.1, 6, (20, 2)))], dim=1),
                  torch.tensor([[5.2, 6.1, 7.9, 8.3]], dtype=torch.float64)):
        x0, y0, n = support_window(box_bounds(boxes), 16)
        full, _ = prroi_pool_with_context(fmap, boxes, 5)
        cropped, _ = prroi_pool_with_context(fmap[:, y0:y0 + n, x0:x0 + n], boxes, 5, (x0, y0))
        torch.testing.assert_close(cropped, full, rtol=1e-12, atol=1e-12)
    assert (x0, y0, n) == (5, 6, 4)                          # rows 6..9, cols 5..8 for the small box


def test_non_square_maps_are_refused():
    with pytest.raises(ValueError, match="square map"):
        prroi_pool_with_context(torch.zeros(2, 6, 5), torch.tensor([[0.0, 0.0, 2.0, 2.0]]), 3)
