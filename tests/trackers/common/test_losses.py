import math

import pytest
import torch

from trackers.common.losses import centernet_focal_loss, giou_loss, multi_positive_info_nce


def test_focal_loss_hand_value():
    pred = torch.tensor([[[0.9, 0.2], [0.1, 0.5]]])
    target = torch.tensor([[[1.0, 0.5], [0.0, 0.25]]])
    expected = (
        -math.log(0.9) * 0.1 ** 2                     # the positive
        - math.log(0.8) * 0.2 ** 2 * 0.5 ** 4         # negatives: -log(1-p) p^2 (1-y)^4
        - math.log(0.9) * 0.1 ** 2 * 1.0
        - math.log(0.5) * 0.5 ** 2 * 0.75 ** 4
    ) / 1
    assert centernet_focal_loss(pred, target).item() == pytest.approx(expected, rel=1e-6)


def test_focal_loss_normalises_by_batch_positives_and_handles_none():
    pred = torch.tensor([[[0.9, 0.2]], [[0.7, 0.3]]])
    target = torch.tensor([[[1.0, 0.0]], [[1.0, 0.5]]])
    pos = -math.log(0.9) * 0.1 ** 2 - math.log(0.7) * 0.3 ** 2
    neg = -math.log(0.8) * 0.2 ** 2 - math.log(0.7) * 0.3 ** 2 * 0.5 ** 4
    assert centernet_focal_loss(pred, target).item() == pytest.approx((pos + neg) / 2, rel=1e-6)
    # no positive in the batch -> -sum(neg), not divided
    t0 = torch.tensor([[[0.5, 0.0]]])
    p0 = torch.tensor([[[0.4, 0.3]]])
    neg0 = -math.log(0.6) * 0.4 ** 2 * 0.5 ** 4 - math.log(0.7) * 0.3 ** 2
    assert centernet_focal_loss(p0, t0).item() == pytest.approx(neg0, rel=1e-6)
    with pytest.raises(ValueError, match="same shape"):
        centernet_focal_loss(p0, torch.zeros(1, 2, 1))


def test_giou_loss_hand_value():
    a = torch.tensor([[0.0, 0.0, 2.0, 2.0], [0.0, 0.0, 1.0, 1.0]])
    b = torch.tensor([[1.0, 1.0, 3.0, 3.0], [0.0, 0.0, 1.0, 1.0]])
    expected = ((1 - (1 / 7 - 2 / 9)) + 0.0) / 2
    assert giou_loss(a, b).item() == pytest.approx(expected)


def test_infonce_hand_value():
    z = torch.tensor([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    labels = torch.tensor([0, 0, 1])
    # anchors 0 and 1: one positive (dot 1) and one negative (dot 0); anchor 2 has no positive
    expected = -math.log(math.e / (math.e + 1.0))
    assert multi_positive_info_nce(z, labels, temperature=1.0).item() == pytest.approx(expected)


def _loop_reference(z, labels, tau):
    n = len(labels)
    losses = []
    for i in range(n):
        pos = [math.exp(float(z[i] @ z[j]) / tau) for j in range(n) if j != i and labels[j] == labels[i]]
        neg = [math.exp(float(z[i] @ z[j]) / tau) for j in range(n) if labels[j] != labels[i]]
        if not pos:
            continue
        losses.append(-math.log(sum(pos) / (sum(pos) + sum(neg))))
    return sum(losses) / len(losses)


@pytest.mark.parametrize("tau", [0.07, 0.5])
def test_infonce_matches_python_loop(tau):
    g = torch.Generator().manual_seed(3)
    z = torch.nn.functional.normalize(torch.randn(12, 8, generator=g, dtype=torch.float64), dim=1)
    labels = torch.tensor([0, 0, 0, 1, 1, 1, 2, 2, 2, 7, 7, 9])  # 9 alone: skipped as anchor
    out = multi_positive_info_nce(z, labels, temperature=tau)
    assert out.item() == pytest.approx(_loop_reference(z, labels.tolist(), tau), rel=1e-10)
    # valid mask: dropping rows equals computing on the subset
    valid = torch.tensor([True] * 9 + [False] * 3)
    sub = multi_positive_info_nce(z[:9], labels[:9], temperature=tau)
    assert multi_positive_info_nce(z, labels, tau, valid=valid).item() == pytest.approx(sub.item(), rel=1e-12)


def test_infonce_stable_and_degenerate_cases():
    z = torch.nn.functional.normalize(torch.randn(6, 4), dim=1)
    # tiny temperature: exp would overflow without logsumexp
    out = multi_positive_info_nce(z, torch.tensor([0, 0, 1, 1, 2, 2]), temperature=1e-4)
    assert torch.isfinite(out)
    # one group only: no negatives -> ratio 1 -> 0
    assert multi_positive_info_nce(z, torch.zeros(6, dtype=torch.long)).item() == pytest.approx(0.0, abs=1e-6)
    # no positives at all -> 0
    assert multi_positive_info_nce(z, torch.arange(6)).item() == 0.0
    with pytest.raises(ValueError, match="temperature"):
        multi_positive_info_nce(z, torch.arange(6), temperature=0.0)
