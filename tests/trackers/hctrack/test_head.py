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
