"""DiMP parts against hand computations, loop references and invariants."""
import math

import numpy as np
import pytest
import torch

from trackers.cia.dimp.classifier_features import ClassificationFeatures, instance_l2_norm
from trackers.cia.dimp.filter_ops import apply_feat_transpose, apply_filter
from trackers.cia.dimp.iou_net import IoUNet
from trackers.cia.dimp.label_predictors import distance_bins, leaky_relu_par, leaky_relu_par_deriv
from trackers.cia.dimp.losses import classification_loss, kl_regression_loss, lb_hinge
from trackers.cia.dimp.model_initializer import ModelInitializer
from trackers.cia.dimp.model_optimizer import ModelOptimizer, steepest_descent_step


def _np_conv(feat, filt):
    """Loop reference of apply_filter for one frame/sequence: feat (C,H,W), filt (C,fh,fw)."""
    c, h, w = feat.shape
    _, fh, fw = filt.shape
    ph, pw = fh // 2, fw // 2
    pad = np.zeros((c, h + 2 * ph, w + 2 * pw))
    pad[:, ph:ph + h, pw:pw + w] = feat
    ho, wo = h + 2 * ph - fh + 1, w + 2 * pw - fw + 1
    out = np.zeros((ho, wo))
    for i in range(ho):
        for j in range(wo):
            out[i, j] = (pad[:, i:i + fh, j:j + fw] * filt).sum()
    return out


def test_apply_filter_matches_loop_and_transpose_is_adjoint():
    g = torch.Generator().manual_seed(0)
    feat = torch.randn(2, 3, 4, 5, 6, generator=g, dtype=torch.float64)
    filt = torch.randn(3, 4, 4, 4, generator=g, dtype=torch.float64, requires_grad=True)
    s = apply_filter(feat, filt)
    assert s.shape == (2, 3, 6, 7)  # even filter: H + 1
    np.testing.assert_allclose(s[1, 2].detach().numpy(), _np_conv(feat[1, 2].numpy(), filt[2].detach().numpy()), atol=1e-12)
    r = torch.randn(2, 3, 6, 7, generator=g, dtype=torch.float64)
    (auto,) = torch.autograd.grad((s * r).sum(), filt)
    torch.testing.assert_close(apply_feat_transpose(feat, r, (4, 4)), auto)


@pytest.mark.parametrize("fsize", [(4, 4), (5, 5), (3, 4)])
@pytest.mark.parametrize("channels_last", [False, True])
def test_one_sequence_gemm_path_matches_loop_and_is_the_adjoint(fsize, channels_last):
    """B = 1 on CPU takes the GEMM path (1x1 conv + fold, unfold + bmm): against the loop reference,
    autograd through it (first and second order, as DiMP's training differentiates the optimizer)."""
    from trackers.cia.dimp import filter_ops

    g = torch.Generator().manual_seed(1)
    fh, fw = fsize
    feat = torch.randn(3, 1, 5, 7, 6, generator=g, dtype=torch.float64)
    if channels_last:
        feat = feat[:, 0].contiguous(memory_format=torch.channels_last)[:, None]
    filt = torch.randn(1, 5, fh, fw, generator=g, dtype=torch.float64, requires_grad=True)
    assert filter_ops._use_gemm(feat, 1)
    s = apply_filter(feat, filt)
    assert s.shape == (3, 1, 7 + 1 - fh % 2, 6 + 1 - fw % 2)
    for n in range(3):
        np.testing.assert_allclose(s[n, 0].detach().numpy(), _np_conv(feat[n, 0].numpy(), filt[0].detach().numpy()),
                                   atol=1e-12)
    r = torch.randn(s.shape, generator=g, dtype=torch.float64)
    (auto,) = torch.autograd.grad((s * r).sum(), filt)
    torch.testing.assert_close(apply_feat_transpose(feat, r, fsize), auto)
    with pytest.raises(ValueError, match="do not match"):
        apply_feat_transpose(feat, r[..., :-1], fsize)
    torch.autograd.gradcheck(lambda f, x: apply_feat_transpose(x, apply_filter(x, f), fsize),
                             (filt, feat.detach().clone().requires_grad_(True)))
    torch.autograd.gradgradcheck(lambda f: apply_filter(feat, f), (filt,))


def test_steepest_descent_step_hand_computed():
    # 1 frame, 1 channel, 1x2 map x = [1, 2], 1x1 filter f = 0.5, label [1, 0], identity activation
    # (mask 1), lambda = 0.1, step factor 1. r = [-0.5, 1]; g = 1*-0.5 + 2*1 + 0.1*0.5 = 1.55;
    # a = g^2 / (|X g|^2 + lambda g^2) = 2.4025 / (12.0125 + 0.24025); f' = 0.5 - a g = 1/5.1
    # (the 1-D Gauss-Newton step is the exact ridge solution sum(xy) / (sum(x^2) + lambda)).
    feat = torch.tensor([1.0, 2.0], dtype=torch.float64).reshape(1, 1, 1, 1, 2)
    f = torch.tensor([0.5], dtype=torch.float64).reshape(1, 1, 1, 1)
    label = torch.tensor([1.0, 0.0], dtype=torch.float64).reshape(1, 1, 1, 2)
    ones = torch.ones_like(label)
    new, loss = steepest_descent_step(f, feat, label, ones, ones, torch.tensor(0.1, dtype=torch.float64),
                                      torch.tensor(1.0, dtype=torch.float64))
    assert new.item() == pytest.approx(1 / 5.1, abs=1e-12)
    assert loss.item() == pytest.approx(0.25 + 1.0 + 0.1 * 0.25, abs=1e-12)
    # with a step factor of 0.9 the move is 0.9 of the exact step
    new9, _ = steepest_descent_step(f, feat, label, ones, ones, torch.tensor(0.1, dtype=torch.float64),
                                    torch.tensor(0.9, dtype=torch.float64))
    assert new9.item() == pytest.approx(0.5 - 0.9 * (0.5 - 1 / 5.1), abs=1e-12)


def test_steepest_descent_step_matches_numpy_loops_with_mask():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(2, 1, 2, 3, 3))
    f = rng.normal(size=(1, 2, 2, 2))
    y = rng.random((2, 1, 4, 4))
    m = rng.random((2, 1, 4, 4))
    sw = rng.random((2, 1, 4, 4))
    lam, step = 0.05, 0.8

    def act(s, mm):
        return 0.5 * (1 - mm) * abs(s) + 0.5 * (1 + mm) * s

    s = np.stack([_np_conv(x[n, 0], f[0]) for n in range(2)])
    d = 0.5 * (1 - m[:, 0]) * np.sign(s) + 0.5 * (1 + m[:, 0])
    r = sw[:, 0] * (act(s, m[:, 0]) - y[:, 0])
    q = d * sw[:, 0] * r
    grad = lam * f[0].copy()
    for n in range(2):  # adjoint by brute force: d/df of sum(q * conv(x, f))
        pad = np.pad(x[n, 0], ((0, 0), (1, 1), (1, 1)))
        for c in range(2):
            for u in range(2):
                for v in range(2):
                    grad[c, u, v] += (q[n] * pad[c, u:u + 4, v:v + 4]).sum()
    xg = np.stack([_np_conv(x[n, 0], grad) for n in range(2)])
    den = ((sw[:, 0] * d * xg) ** 2).sum() + lam * (grad ** 2).sum()
    expected = f[0] - step * (grad ** 2).sum() / den * grad
    t = lambda a: torch.from_numpy(a)
    new, loss = steepest_descent_step(t(f), t(x), t(y), t(m), t(sw), torch.tensor(lam, dtype=torch.float64),
                                      torch.tensor(step, dtype=torch.float64))
    np.testing.assert_allclose(new[0].numpy(), expected, atol=1e-10)
    assert loss.item() == pytest.approx((r ** 2).sum() + lam * (f ** 2).sum(), rel=1e-10)


def test_optimizer_loss_decreases_on_synthetic_target():
    g = torch.Generator().manual_seed(1)
    opt = ModelOptimizer(num_iter=10, init_gauss_sigma=0.9).double()
    feat = torch.randn(3, 2, 8, 6, 6, generator=g, dtype=torch.float64)
    boxes = torch.tensor([[40.0, 36.0, 20.0, 24.0], [30.0, 44.0, 30.0, 16.0]], dtype=torch.float64).expand(3, 2, 4)
    f0 = torch.zeros(2, 8, 4, 4, dtype=torch.float64)
    _, iterates, losses = opt(f0, feat, boxes)
    assert len(iterates) == 11 and losses.shape == (10,)
    assert losses[-1] < 0.5 * losses[0]
    assert bool((losses[1:] <= losses[:-1] + 1e-9).all())


def test_targets_peak_at_box_centre_cell():
    opt = ModelOptimizer(init_gauss_sigma=0.9)
    box = torch.tensor([[[100.0, 60.0, 40.0, 24.0]]])  # centre (120, 72) -> cell (x 7.5, y 4.5)
    y, m, v = opt.targets(box, (4, 4), (19, 19))
    assert y.shape == m.shape == v.shape == (1, 1, 19, 19)
    # the 4 cells around (4.5, 7.5) are the closest and share the maximum
    top = set(map(tuple, torch.nonzero(y[0, 0] == y[0, 0].max()).tolist()))
    assert top == {(4, 7), (4, 8), (5, 7), (5, 8)}
    assert torch.allclose(v, torch.ones_like(v))
    d = math.hypot(0.5, 0.5)  # distance of those cells; bins interpolate the initial profiles
    assert m[0, 0, 4, 7].item() == pytest.approx(1 / (1 + math.exp(-3 * math.tanh(2 - d))), abs=1e-3)


def test_distance_bins_hand_values():
    bins = distance_bins(torch.tensor([[0.0, 0.0]]), (1, 3), num_bins=4, bin_displacement=1.0)
    # distances 0, 1, 2 -> one-hot in bins 0, 1, 2; the last bin saturates for d >= 3
    expected = torch.tensor([[1, 0, 0], [0, 1, 0], [0, 0, 1], [0, 0, 0]], dtype=torch.float32)
    torch.testing.assert_close(bins[0, :, 0], expected)
    far = distance_bins(torch.tensor([[0.0, 0.0]]), (1, 1), 4, 0.1)  # d = 0 -> bin 0
    assert far[0, :, 0, 0].tolist() == [1, 0, 0, 0]
    sat = distance_bins(torch.tensor([[0.0, -10.0]]), (1, 1), 4, 1.0)
    assert sat[0, :, 0, 0].tolist() == [0, 0, 0, 1]
    half = distance_bins(torch.tensor([[0.0, -0.25]]), (1, 1), 4, 0.5)
    torch.testing.assert_close(half[0, :, 0, 0], torch.tensor([0.5, 0.5, 0.0, 0.0]))


def test_leaky_relu_par_and_derivative():
    x = torch.tensor([-2.0, 3.0])
    assert leaky_relu_par(x, torch.tensor(1.0)).tolist() == [-2.0, 3.0]   # identity
    assert leaky_relu_par(x, torch.tensor(0.0)).tolist() == [0.0, 3.0]    # relu
    assert leaky_relu_par(x, torch.tensor(0.5)).tolist() == [-1.0, 3.0]   # slope 0.5 on negatives
    xr = torch.tensor([-1.3, 0.7], requires_grad=True)
    m = torch.tensor([0.2, 0.6])
    (g,) = torch.autograd.grad(leaky_relu_par(xr, m).sum(), xr)
    torch.testing.assert_close(g, leaky_relu_par_deriv(xr.detach(), m))


def test_lb_hinge_and_iterate_weights():
    scores = torch.tensor([0.5, -0.3, 0.2, 0.9])
    label = torch.tensor([0.0, 0.01, 0.5, 1.0])
    # negatives (label < 0.05): relu(score) vs 0 -> 0.25, 0; positives: MSE -> 0.09, 0.01
    assert lb_hinge(scores, label).item() == pytest.approx((0.25 + 0 + 0.09 + 0.01) / 4)
    it = [torch.full((2,), v) for v in (0.1, 0.2, 0.3, 0.4)]
    total, parts = classification_loss(it, torch.ones(2), 100, 100, 400)
    # init 0.81, intermediates 0.64 and 0.49 (mean 0.565 weighted 400), final 0.36
    assert total.item() == pytest.approx(100 * 0.36 + 100 * 0.81 + 400 * 0.565)
    assert parts["iter"].item() == pytest.approx(0.565)


def test_kl_regression_loss_formula():
    s = torch.tensor([[0.3, -1.0, 2.0]], dtype=torch.float64)
    q = torch.tensor([[0.5, 0.2, 1.0]], dtype=torch.float64)
    p = torch.tensor([[1.0, 0.1, 0.4]], dtype=torch.float64)
    log_z = math.log(sum(math.exp(a) / b for a, b in zip(s[0].tolist(), q[0].tolist())) / 3)
    e_p = sum(a * c / b for a, b, c in zip(s[0].tolist(), q[0].tolist(), p[0].tolist())) / 3
    assert kl_regression_loss(s, q, p).item() == pytest.approx(log_z - e_p)


def test_instance_l2_norm_and_feature_block():
    x = torch.randn(2, 3, 4, 5)
    y = instance_l2_norm(x, scale=0.5, eps=0.0)
    # each sample gets RMS value exactly `scale`
    torch.testing.assert_close((y ** 2).mean(dim=(1, 2, 3)).sqrt(), torch.full((2,), 0.5))
    block = ClassificationFeatures(8, 6, num_blocks=1, filter_size=4)
    out = block(torch.randn(2, 8, 5, 5))
    assert out.shape == (2, 6, 5, 5)
    torch.testing.assert_close((out ** 2).sum(dim=(1, 2, 3)), torch.full((2,), 6 * 25 / (6 * 16)), rtol=1e-4, atol=0)


def test_initializer_pools_target_and_averages_frames():
    init = ModelInitializer(feat_dim=2, filter_size=2, feature_stride=16)
    with torch.no_grad():  # identity conv: the filter is the pooled feature itself
        init.filter_conv.weight.zero_()
        init.filter_conv.weight[[0, 1], [0, 1], 1, 1] = 1.0
        init.filter_conv.bias.zero_()
    feat = torch.zeros(2, 1, 2, 6, 6)
    feat[0, 0, 0] = 1.0
    feat[1, 0, 0] = 3.0
    boxes = torch.tensor([[[16.0, 16.0, 32.0, 32.0]], [[16.0, 16.0, 32.0, 32.0]]])
    f = init(feat, boxes)
    assert f.shape == (1, 2, 2, 2)
    torch.testing.assert_close(f[0, 0], torch.full((2, 2), 2.0))   # mean of 1 and 3
    torch.testing.assert_close(f[0, 1], torch.zeros(2, 2))


def test_iou_net_shapes_and_reference_frame_only():
    net = IoUNet((8, 16), (8, 8), (8, 8), (4, 8), 8).eval()
    tr = (torch.randn(2, 3, 8, 8, 8), torch.randn(2, 3, 16, 4, 4))
    te = (torch.randn(1, 3, 8, 8, 8), torch.randn(1, 3, 16, 4, 4))
    bb = torch.tensor([10.0, 12.0, 20.0, 24.0]).expand(2, 3, 4)
    props = torch.tensor([8.0, 10.0, 22.0, 20.0]).expand(1, 3, 5, 4).clone()
    out = net(tr, te, bb, props)
    assert out.shape == (1, 3, 5)
    tr2 = (tr[0].clone(), tr[1].clone())
    tr2[0][1] += 5.0  # the second train frame does not matter
    torch.testing.assert_close(net(tr2, te, bb, props), out)
