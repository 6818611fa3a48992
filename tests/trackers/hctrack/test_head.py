import torch

from trackers.hctrack.head import CenterHead, decode_boxes, hann2d


def test_decode_hand_values():
    F_ = 4
    score = torch.full((2, 1, F_, F_), 0.1)
    score[0, 0, 1, 2] = 0.9           # (iy, ix) = (1, 2)
    score[1, 0, 3, 0] = 0.8           # (iy, ix) = (3, 0)
    offset = torch.zeros(2, 2, F_, F_)
    size = torch.zeros(2, 2, F_, F_)
    offset[0, :, 1, 2] = torch.tensor([0.25, 0.5])
    size[0, :, 1, 2] = torch.tensor([0.3, 0.2])
    offset[1, :, 3, 0] = torch.tensor([0.75, 0.0])
    size[1, :, 3, 0] = torch.tensor([0.5, 0.125])
    boxes, idx = decode_boxes(score, offset, size)
    assert idx.tolist() == [6, 12]
    torch.testing.assert_close(boxes, torch.tensor([[2.25 / 4, 1.5 / 4, 0.3, 0.2], [0.75 / 4, 3 / 4, 0.5, 0.125]]))


def test_hann2d_hand_values():
    torch.testing.assert_close(hann2d(3), torch.tensor([[0.25, 0.5, 0.25], [0.5, 1.0, 0.5], [0.25, 0.5, 0.25]]))
    w = hann2d(16)
    assert w.shape == (16, 16) and (w > 0).all()
    assert abs(w[0, 0].item() - (0.5 * (1 - torch.cos(torch.tensor(2 * torch.pi / 17)))) ** 2) < 1e-6


def test_head_shapes_and_ranges():
    head = CenterHead(32, 16, 8).eval()
    score, offset, size = head(torch.randn(2, 64, 32) * 10)
    assert score.shape == (2, 1, 8, 8) and offset.shape == (2, 2, 8, 8) and size.shape == (2, 2, 8, 8)
    assert score.min() >= 1e-4 and score.max() <= 1 - 1e-4
    assert size.min() >= 1e-4 and size.max() <= 1 - 1e-4


def _randomised_head(feat_size=16, folded=False):
    from torch import nn

    from trackers.common.fused_conv import fold_conv_bn

    torch.manual_seed(0)
    head = CenterHead(24, 16, feat_size)
    with torch.no_grad():
        for m in head.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.normal_()
                m.running_var.uniform_(0.5, 2.0)
                m.bias.normal_(0.0, 0.5)
            if isinstance(m, nn.Conv2d) and m.bias is not None:
                m.bias.normal_(0.0, 0.5)                       # non-zero: padding mistakes would show
    head = head.eval()
    if folded:
        fold_conv_bn(head)
    return head


def test_predict_peak_equals_full_maps_at_every_kind_of_peak():
    """Offset/size evaluated on the 9x9 patch around the peak == the full towers, for peaks in the
    corners, on the edges and inside (zero padding of every layer reproduced), folded or not."""
    F_ = 16
    for folded in (False, True):
        head = _randomised_head(F_, folded)
        tokens = torch.randn(1, F_ * F_, 24, dtype=torch.float32)
        with torch.no_grad():
            score, offset, size = head(tokens)
            for iy, ix in [(0, 0), (0, 15), (15, 0), (15, 15), (2, 9), (7, 8), (13, 1), (4, 3)]:
                window = torch.full((F_, F_), 1e-3)
                window[iy, ix] = 1e6                           # forces the ranked argmax to (iy, ix)
                got_score, got_box = head.predict_peak(tokens, window)
                ref_box, idx = decode_boxes(score * window, offset, size)
                assert int(idx) == iy * F_ + ix
                torch.testing.assert_close(got_score, score, rtol=0, atol=0)
                torch.testing.assert_close(got_box, ref_box, rtol=1e-5, atol=1e-6)
            # no window: the raw argmax; batches and autograd take the full-map path
            torch.testing.assert_close(head.predict_peak(tokens)[1], decode_boxes(score, offset, size)[0],
                                       rtol=1e-5, atol=1e-6)
            two = torch.randn(2, F_ * F_, 24)
            s2, o2, z2 = head(two)
            torch.testing.assert_close(head.predict_peak(two)[1], decode_boxes(s2, o2, z2)[0])
    grad_tokens = torch.randn(1, F_ * F_, 24, requires_grad=True)
    _, box = head.predict_peak(grad_tokens)
    box.sum().backward()
    assert grad_tokens.grad is not None
