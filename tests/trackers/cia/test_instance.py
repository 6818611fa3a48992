"""Instance-aware module: InfoNCE-V vs an explicit loop, angle modulation invariants, momentum update."""
import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from trackers.cia.actor import CIAActor
from trackers.cia.instance import AngleModulation, InstanceMLP, MomentumEncoder, angle_modulation
from trackers.cia.losses import category_loss, infonce_v
from trackers.registry import get_config


def _infonce_loop(q, k, vids, tau):
    """Eq. 3 written out: numerator over same-video pairs, denominator over different-video pairs."""
    num = den = 0.0
    for a in range(q.shape[0]):
        for b in range(k.shape[0]):
            e = math.exp(float(q[a] @ k[b]) / tau)
            if vids[a] == vids[b]:
                num += e
            else:
                den += e
    return -math.log(num / den)


def test_infonce_v_matches_explicit_loop():
    g = torch.Generator().manual_seed(0)
    q = F.normalize(torch.randn(12, 5, generator=g, dtype=torch.float64), dim=1)
    k = F.normalize(torch.randn(12, 5, generator=g, dtype=torch.float64), dim=1)
    vids = torch.tensor([0, 0, 1, 1, 2, 2, 0, 0, 1, 1, 2, 2])  # frame-major order, 2 frames x 6 crops
    for tau in (0.07, 0.5):
        assert infonce_v(q, k, vids, tau).item() == pytest.approx(_infonce_loop(q, k, vids.tolist(), tau), rel=1e-9)


def test_infonce_v_prefers_same_video_alignment_and_handles_one_video():
    e = torch.eye(4, dtype=torch.float64)
    vids = torch.tensor([0, 0, 1, 1])
    aligned = torch.stack([e[0], e[0], e[1], e[1]])          # same video -> same embedding
    mixed = torch.stack([e[0], e[1], e[0], e[1]])
    assert infonce_v(aligned, aligned, vids) < infonce_v(mixed, mixed, vids)
    # closed form for the aligned case: 8 positives at 1/tau, 8 negatives at 0
    assert infonce_v(aligned, aligned, vids, 0.1).item() == pytest.approx(-(math.log(8) + 10 - math.log(8)))
    one = infonce_v(aligned, aligned, torch.zeros(4, dtype=torch.int64))
    assert one.item() == 0.0
    with pytest.raises(ValueError):
        infonce_v(aligned, aligned[:3], vids)


def test_category_loss_ignores_unlabelled():
    logits = torch.tensor([[2.0, 0.0, 0.0], [0.0, 1.0, 0.0], [5.0, 5.0, 5.0]])
    labels = torch.tensor([0, -1, 2])
    loss, n = category_loss(logits, labels)
    expected = (-math.log(math.exp(2) / (math.exp(2) + 2)) - math.log(1 / 3)) / 2
    assert n == 2 and loss.item() == pytest.approx(expected)
    none, n0 = category_loss(logits, torch.full((3,), -1))
    assert n0 == 0 and none.item() == 0.0
    with pytest.raises(ValueError, match="category labels"):
        category_loss(logits, torch.tensor([0, 3, 1]))


def test_angle_modulation_preserves_norm_and_rotates_toward_embedding():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(2, 6, 3, 4, generator=g, dtype=torch.float64)
    y = torch.randn(2, 6, 3, 4, generator=g, dtype=torch.float64)
    for a in (0.3, 1.0, 4.0):
        z = angle_modulation(x, y, torch.tensor(a, dtype=torch.float64))
        torch.testing.assert_close(z.norm(dim=1), x.norm(dim=1))
        cos = lambda u, v: F.cosine_similarity(u, v, dim=1)
        assert bool((cos(z, y) >= cos(x, y) - 1e-12).all())
        # z lies in the plane of x and y, on the bisector-like direction a x^ + y^
        expected = F.normalize(a * F.normalize(x, dim=1) + F.normalize(y, dim=1), dim=1) * x.norm(dim=1, keepdim=True)
        torch.testing.assert_close(z, expected)
    # smaller alpha -> stronger rotation toward y
    z_small = angle_modulation(x, y, torch.tensor(0.2, dtype=torch.float64))
    z_large = angle_modulation(x, y, torch.tensor(5.0, dtype=torch.float64))
    assert bool((F.cosine_similarity(z_small, y, dim=1) > F.cosine_similarity(z_large, y, dim=1)).all())


def test_angle_modulation_module_stops_gradient_at_mlp_output():
    mod = AngleModulation(4)
    mlp = InstanceMLP(4)
    x = torch.randn(1, 4, 5, 5, requires_grad=True)
    out = mod(x, mlp(x, dense=True))
    assert out.shape == x.shape
    out.sum().backward()
    assert all(p.grad is None for p in mlp.parameters())
    assert mod.log_alpha.grad is not None and x.grad is not None
    assert mod.alpha.item() == pytest.approx(1.0)


def test_instance_mlp_dense_and_pooled_shapes():
    mlp = InstanceMLP(3)
    assert mlp(torch.randn(2, 3, 3, 3)).shape == (2, 3, 1, 1)
    assert mlp(torch.randn(2, 3, 7, 9), dense=True).shape == (2, 3, 7, 9)


def test_momentum_update_formula():
    q_net = nn.Sequential(nn.Conv2d(2, 2, 1), nn.BatchNorm2d(2))
    mlp = InstanceMLP(2)
    enc = MomentumEncoder(q_net, mlp, momentum=0.9)
    assert all(not p.requires_grad for p in enc.parameters())
    before = [p.clone() for p in enc.parameters()]
    with torch.no_grad():
        for p in list(q_net.parameters()) + list(mlp.parameters()):
            p.add_(1.0)
    enc.update(q_net, mlp)
    for b, pk, pq in zip(before, enc.parameters(), list(q_net.parameters()) + list(mlp.parameters())):
        torch.testing.assert_close(pk, 0.9 * b + 0.1 * pq)
    enc.sync(q_net, mlp)
    for pk, pq in zip(enc.parameters(), list(q_net.parameters()) + list(mlp.parameters())):
        assert torch.equal(pk, pq)


@pytest.mark.skipif(torch.cuda.is_available(), reason="nn.DataParallel wants CUDA parameters when a GPU exists")
def test_actor_after_step_updates_through_wrappers():
    cfg = get_config("cia-tiny")
    from trackers.cia.api import build_model

    model = build_model(cfg)
    actor = CIAActor(cfg)
    with torch.no_grad():
        model.backbone.conv1.weight.add_(1.0)
    k0 = model.momentum_encoder.backbone.conv1.weight.clone()
    q = model.backbone.conv1.weight.clone()
    actor.after_step(nn.DataParallel(model))        # the same unwrapping path as DDP (.module)
    torch.testing.assert_close(model.momentum_encoder.backbone.conv1.weight, 0.999 * k0 + 0.001 * q)


def test_actor_after_step_under_ddp(tmp_path):
    import torch.distributed as dist
    from torch.nn.parallel import DistributedDataParallel

    from trackers.cia.api import build_model

    dist.init_process_group("gloo", init_method=f"file://{tmp_path / 'pg'}", rank=0, world_size=1)
    try:
        cfg = get_config("cia-tiny")
        model = build_model(cfg)
        ddp = DistributedDataParallel(model)
        with torch.no_grad():
            ddp.module.mlp_q.conv2.bias.add_(2.0)
        k0 = model.momentum_encoder.mlp.conv2.bias.clone()
        CIAActor(cfg).after_step(ddp)
        torch.testing.assert_close(model.momentum_encoder.mlp.conv2.bias, 0.999 * k0 + 0.001 * model.mlp_q.conv2.bias)
    finally:
        dist.destroy_process_group()
