"""PrRoIPool against independent truths: exact piecewise integration, avg-pool identity, gradcheck."""
import itertools

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from trackers.common.prroi_pool import PrRoIPool2d, prroi_pool2d, prroi_pool2d_rois


def _interp(fmap: np.ndarray, x: float, y: float) -> np.ndarray:
    """Bilinear interpolant of the zero-padded map at (x, y); samples at integer coordinates."""
    c, h, w = fmap.shape
    x0, y0 = int(np.floor(x)), int(np.floor(y))
    out = np.zeros(c)
    for yy, xx in itertools.product((y0, y0 + 1), (x0, x0 + 1)):
        if 0 <= yy < h and 0 <= xx < w:
            out += fmap[:, yy, xx] * max(0.0, 1 - abs(x - xx)) * max(0.0, 1 - abs(y - yy))
    return out


def _integrate(fmap: np.ndarray, x1: float, y1: float, x2: float, y2: float) -> np.ndarray:
    """Exact integral: split at integer lines, 2-point Gauss-Legendre per piece (exact for bilinear)."""
    def pieces(a, b):
        cuts = [a] + [float(k) for k in range(int(np.floor(a)) + 1, int(np.ceil(b)))] + [b]
        return list(zip(cuts[:-1], cuts[1:]))

    g = np.array([-1.0, 1.0]) / np.sqrt(3.0)
    total = np.zeros(fmap.shape[0])
    for (ya, yb), (xa, xb) in itertools.product(pieces(y1, y2), pieces(x1, x2)):
        for gy, gx in itertools.product(g, g):
            yy = (ya + yb) / 2 + gy * (yb - ya) / 2
            xx = (xa + xb) / 2 + gx * (xb - xa) / 2
            total += _interp(fmap, xx, yy) * (yb - ya) * (xb - xa) / 4
    return total


def _reference(fmap, box, ph, pw, scale):
    x1, y1, x2, y2 = (np.asarray(box, dtype=np.float64) * scale).tolist()
    bw, bh = max(x2 - x1, 0) / pw, max(y2 - y1, 0) / ph
    out = np.zeros((fmap.shape[0], ph, pw))
    if bw * bh == 0:
        return out
    for i, j in itertools.product(range(ph), range(pw)):
        out[:, i, j] = _integrate(fmap, x1 + j * bw, y1 + i * bh, x1 + (j + 1) * bw, y1 + (i + 1) * bh) / (bw * bh)
    return out


def test_matches_exact_integration_float64():
    rng = np.random.default_rng(0)
    fmap = rng.normal(size=(2, 3, 6, 7))
    scale = 0.5
    # fractional boxes, boxes reaching outside the map on every side, a box wholly outside
    boxes = np.array([
        [[1.3, 2.1, 9.7, 8.4], [-3.0, -2.5, 4.2, 3.3], [10.0, 7.0, 17.5, 14.9]],
        [[0.0, 0.0, 14.0, 12.0], [20.0, 20.0, 26.0, 27.0], [5.5, 1.25, 6.75, 11.0]],
    ])
    out = prroi_pool2d(torch.from_numpy(fmap), torch.from_numpy(boxes), (3, 2), scale)
    assert out.shape == (2, 3, 3, 3, 2)
    for n, m in itertools.product(range(2), range(3)):
        ref = _reference(fmap[n], boxes[n, m], 3, 2, scale)
        np.testing.assert_allclose(out[n, m].numpy(), ref, atol=1e-9)


def test_zero_area_bins_output_zero():
    fmap = torch.randn(1, 2, 5, 5, dtype=torch.float64)
    boxes = torch.tensor([[[2.0, 1.0, 2.0, 4.0], [3.0, 3.0, 1.0, 1.0]]], dtype=torch.float64)
    out = prroi_pool2d(fmap, boxes, 2, 1.0)
    assert torch.equal(out, torch.zeros_like(out))


def test_average_pool_identity():
    # upstream oracle: spatial_scale 0.5, roi [0, 0, 14, 14] -> 7x7 unit bins = 2x2 means
    feat = torch.randn(2, 4, 10, 10, dtype=torch.float64)
    boxes = torch.tensor([[0.0, 0.0, 14.0, 14.0]], dtype=torch.float64).expand(2, 1, 4)
    out = prroi_pool2d(feat, boxes, 7, 0.5)[:, 0]
    expected = F.avg_pool2d(feat, 2, stride=1)[:, :, :7, :7]
    torch.testing.assert_close(out, expected, atol=1e-12, rtol=0)
    # constant map, box well inside: every bin average equals the constant
    const = torch.full((1, 1, 8, 8), 3.0, dtype=torch.float64)
    b = torch.tensor([[[1.2, 2.3, 5.1, 6.6]]], dtype=torch.float64)
    torch.testing.assert_close(prroi_pool2d(const, b, 3, 1.0), torch.full((1, 1, 1, 3, 3), 3.0, dtype=torch.float64))


def test_rois_wrapper_and_module_agree():
    feat = torch.randn(3, 2, 6, 6)
    rois = torch.tensor([[2, 1.0, 1.0, 20.0, 18.0], [0, 4.0, 0.0, 9.0, 30.0]])
    out = prroi_pool2d_rois(feat, rois, 2, 0.25)
    mod = PrRoIPool2d(2, 0.25)
    torch.testing.assert_close(out[0], mod(feat[2:3], rois[None, 0:1, 1:])[0, 0])
    torch.testing.assert_close(out[1], mod(feat[0:1], rois[None, 1:2, 1:])[0, 0])
    with pytest.raises(ValueError, match="batch index"):
        prroi_pool2d_rois(feat, torch.tensor([[3, 0.0, 0.0, 1.0, 1.0]]), 2, 1.0)
    with pytest.raises(ValueError, match="boxes_xyxy"):
        prroi_pool2d(feat, torch.zeros(3, 4), 2, 1.0)


def test_gradcheck_features_and_boxes():
    torch.manual_seed(0)
    feat = torch.randn(2, 2, 5, 6, dtype=torch.float64, requires_grad=True)
    boxes = torch.tensor([[[0.7, 1.3, 7.9, 6.2], [-1.4, 2.2, 3.1, 11.3]],
                          [[3.3, -0.6, 12.7, 8.9], [2.05, 2.45, 4.35, 5.15]]],
                         dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda f, b: prroi_pool2d(f, b, (2, 3), 0.5), (feat, boxes))


def test_box_gradient_matches_finite_difference_of_reference():
    # the box gradient is a derivative of the exact integral: compare with central differences
    rng = np.random.default_rng(1)
    fmap = rng.normal(size=(1, 4, 4))
    box = np.array([0.6, 0.4, 2.7, 3.2])
    b = torch.tensor(box[None, None], requires_grad=True)
    prroi_pool2d(torch.from_numpy(fmap[None]), b, 1, 1.0).sum().backward()
    eps = 1e-5
    fd = []
    for k in range(4):
        d = np.zeros(4)
        d[k] = eps
        fd.append((_reference(fmap, box + d, 1, 1, 1.0).sum() - _reference(fmap, box - d, 1, 1, 1.0).sum()) / (2 * eps))
    np.testing.assert_allclose(b.grad[0, 0].numpy(), np.array(fd), atol=1e-6)


def test_half_inputs_pooled_in_float32_under_autocast():
    feat = torch.randn(1, 3, 6, 6)
    boxes = torch.tensor([[[3.0, 2.0, 17.0, 21.0]]])
    ref = prroi_pool2d(feat, boxes, 2, 0.25)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = prroi_pool2d(feat.bfloat16(), boxes, 2, 0.25)
    assert out.dtype == torch.bfloat16
    torch.testing.assert_close(out.float(), prroi_pool2d(feat.bfloat16().float(), boxes, 2, 0.25).bfloat16().float())
    assert (out.float() - ref).abs().max() < 0.05


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_matches_cpu_and_gradcheck():
    g = torch.Generator().manual_seed(0)
    feat = torch.randn(3, 4, 9, 11, generator=g, dtype=torch.float64)
    boxes = torch.rand(3, 7, 4, generator=g, dtype=torch.float64) * 200 - 30
    boxes[..., 2:] += boxes[..., :2] + 4
    cpu = prroi_pool2d(feat, boxes, (3, 2), 1 / 16)
    gpu = prroi_pool2d(feat.cuda(), boxes.cuda(), (3, 2), 1 / 16)
    torch.testing.assert_close(gpu.cpu(), cpu, atol=1e-12, rtol=0)
    f = feat[:1, :2, :5, :6].clone().cuda().requires_grad_(True)
    b = torch.tensor([[[0.7, 1.3, 7.9, 6.2]]], dtype=torch.float64, device="cuda", requires_grad=True)
    assert torch.autograd.gradcheck(lambda x, y: prroi_pool2d(x, y, 2, 0.5), (f, b))
