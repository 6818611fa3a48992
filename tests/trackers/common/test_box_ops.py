import numpy as np
import pytest
import torch
import torchvision.ops as tvo

from trackers.common.box_ops import box_area, box_convert, box_iou, generalized_box_iou


def test_box_convert_hand_values_and_roundtrip():
    b = torch.tensor([[10.0, 20.0, 30.0, 40.0]])
    assert box_convert(b, "xywh", "xyxy").tolist() == [[10, 20, 40, 60]]
    assert box_convert(b, "xywh", "cxcywh").tolist() == [[25, 40, 30, 40]]
    assert box_convert(torch.tensor([[25.0, 40, 30, 40]]), "cxcywh", "xyxy").tolist() == [[10, 20, 40, 60]]
    r = torch.rand(5, 3, 4, dtype=torch.float64)
    for f1 in ("xywh", "xyxy", "cxcywh"):
        for f2 in ("xywh", "xyxy", "cxcywh"):
            torch.testing.assert_close(box_convert(box_convert(r, f1, f2), f2, f1), r)
    with pytest.raises(ValueError, match="unknown box format"):
        box_convert(b, "xywh", "yxhw")
    with pytest.raises(ValueError, match="last dimension"):
        box_convert(torch.zeros(3, 5), "xywh", "xyxy")


def test_iou_and_giou_hand_values():
    a = torch.tensor([[0.0, 0.0, 2.0, 2.0]])
    b = torch.tensor([[1.0, 1.0, 3.0, 3.0]])
    # inter 1, union 7, enclosing 9 -> giou = 1/7 - 2/9
    assert box_iou(a, b).item() == pytest.approx(1 / 7)
    assert generalized_box_iou(a, b).item() == pytest.approx(1 / 7 - 2 / 9)
    # disjoint boxes: iou 0, giou = -(enclose - union)/enclose = -(9 - 2)/9 ... here [0,1]^2 and [2,3]^2
    c = torch.tensor([[0.0, 0.0, 1.0, 1.0]])
    d = torch.tensor([[2.0, 2.0, 3.0, 3.0]])
    assert box_iou(c, d).item() == 0.0
    assert generalized_box_iou(c, d).item() == pytest.approx(-(9 - 2) / 9)
    assert box_area(torch.tensor([1.0, 2.0, 4.0, 6.0])).item() == 12.0


def _brute_iou(p, q):
    ix = max(0.0, min(p[2], q[2]) - max(p[0], q[0]))
    iy = max(0.0, min(p[3], q[3]) - max(p[1], q[1]))
    inter = ix * iy
    union = (p[2] - p[0]) * (p[3] - p[1]) + (q[2] - q[0]) * (q[3] - q[1]) - inter
    ex = max(p[2], q[2]) - min(p[0], q[0])
    ey = max(p[3], q[3]) - min(p[1], q[1])
    return inter / union, inter / union - (ex * ey - union) / (ex * ey)


def _rand_xyxy(n, g):
    xy = torch.rand(n, 2, generator=g, dtype=torch.float64) * 10
    wh = torch.rand(n, 2, generator=g, dtype=torch.float64) * 5 + 0.1
    return torch.cat([xy, xy + wh], 1)


def test_pairwise_and_aligned_against_loop_and_torchvision():
    g = torch.Generator().manual_seed(0)
    a, b = _rand_xyxy(7, g), _rand_xyxy(5, g)
    ref = np.array([[_brute_iou(p.tolist(), q.tolist()) for q in b] for p in a])  # (7, 5, 2)
    np.testing.assert_allclose(box_iou(a, b).numpy(), ref[..., 0], rtol=1e-12)
    np.testing.assert_allclose(generalized_box_iou(a, b).numpy(), ref[..., 1], rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(box_iou(a, b), tvo.box_iou(a, b))
    torch.testing.assert_close(generalized_box_iou(a, b), tvo.generalized_box_iou(a, b))
    c = _rand_xyxy(5, g)
    torch.testing.assert_close(box_iou(b, c, aligned=True), torch.diagonal(tvo.box_iou(b, c)))
    torch.testing.assert_close(
        generalized_box_iou(b, c, aligned=True), torch.diagonal(tvo.generalized_box_iou(b, c))
    )
    # leading dims
    assert generalized_box_iou(a[:4].view(2, 2, 4), a[:4].view(2, 2, 4), aligned=True).shape == (2, 2)


def test_half_input_upcast_and_dtype_kept():
    a = torch.tensor([[0.0, 0.0, 300.0, 300.0]], dtype=torch.float16)
    b = torch.tensor([[100.0, 100.0, 400.0, 400.0]], dtype=torch.float16)
    out = box_iou(a, b)
    assert out.dtype == torch.float16
    # 300*300 = 90000 overflows float16 (max 65504) without the upcast
    assert out.item() == pytest.approx(200 * 200 / (2 * 90000 - 40000), rel=1e-3)


def test_giou_rejects_degenerate_and_is_differentiable():
    good = torch.tensor([[0.0, 0.0, 1.0, 1.0]])
    with pytest.raises(ValueError, match="degenerate"):
        generalized_box_iou(torch.tensor([[1.0, 0.0, 0.0, 1.0]]), good, aligned=True)
    with pytest.raises(ValueError, match="degenerate"):
        generalized_box_iou(torch.tensor([[float("nan"), 0.0, 1.0, 1.0]]), good, aligned=True)
    with pytest.raises(ValueError, match="equal shapes"):
        box_iou(good, torch.zeros(2, 4), aligned=True)
    p = torch.tensor([[0.1, 0.2, 0.8, 0.9]], dtype=torch.float64, requires_grad=True)
    q = torch.tensor([[0.3, 0.1, 0.7, 0.95]], dtype=torch.float64)
    assert torch.autograd.gradcheck(lambda x: generalized_box_iou(x, q, aligned=True), (p,))
