"""Folded conv + BatchNorm (+ ReLU) against the modules themselves: torchvision blocks, the stem,
ConvBNReLU stacks, and every case that must fall back (autograd, training mode, changed weights
or statistics, autocast)."""
import copy
import pickle

import pytest
import torch
from torch import nn
from torchvision.models.resnet import BasicBlock, Bottleneck, conv1x1

from trackers.common import fused_conv as fc
from trackers.common.resnet import ResNetBackbone


def _randomise_bn(model):
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.copy_(torch.randn(m.num_features, generator=g))
                m.running_var.copy_(torch.rand(m.num_features, generator=g) + 0.5)
                m.weight.copy_(torch.rand(m.num_features, generator=g) + 0.5)
                m.bias.copy_(torch.randn(m.num_features, generator=g))
    return model


def _blocks():
    down = nn.Sequential(conv1x1(16, 32, 2), nn.BatchNorm2d(32))
    return [BasicBlock(16, 16), BasicBlock(16, 32, 2, down),
            Bottleneck(16, 8, 1, nn.Sequential(conv1x1(16, 32), nn.BatchNorm2d(32))),
            fc.ConvBNReLU(nn.Conv2d(16, 8, 3, padding=1), nn.BatchNorm2d(8)),
            fc.ConvBNReLU(nn.Conv2d(16, 8, 1), nn.BatchNorm2d(8), relu=False)]


@pytest.mark.parametrize("idx", range(5))
@pytest.mark.parametrize("channels_last", [False, True])
def test_folded_equals_modules(idx, channels_last, monkeypatch):
    torch.manual_seed(idx)
    block = _randomise_bn(_blocks()[idx]).eval()
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    block = block.to(memory_format=fmt)
    x = torch.randn(2, 16, 12, 12).contiguous(memory_format=fmt)
    with torch.no_grad():
        ref = block(x)
        n = fc.fold_conv_bn(block)
        calls = []
        original = fc.FoldedConv.__call__
        monkeypatch.setattr(fc.FoldedConv, "__call__", lambda self, x, relu: calls.append(relu) or original(self, x, relu))
        got = fc.run_block(block, x) if isinstance(block, (BasicBlock, Bottleneck)) else block(x)
    assert n == len(calls) == {0: 2, 1: 3, 2: 4, 3: 1, 4: 1}[idx]          # every conv ran folded
    torch.testing.assert_close(got, ref, rtol=1e-4, atol=1e-5)


def test_folded_path_is_taken_and_falls_back_when_invalid(monkeypatch):
    torch.manual_seed(0)
    stack = _randomise_bn(fc.ConvBNReLU(nn.Conv2d(4, 6, 3, padding=1), nn.BatchNorm2d(6))).eval()
    fc.fold_conv_bn(stack)
    calls = []
    original = fc.FoldedConv.__call__
    monkeypatch.setattr(fc.FoldedConv, "__call__", lambda self, x, relu: calls.append(relu) or original(self, x, relu))
    x = torch.randn(1, 4, 8, 8)
    with torch.no_grad():
        ref = stack(x)
    assert calls == [True]
    stack(x)                                            # autograd on: modules
    with torch.no_grad():
        stack.train()(x)                                # training mode: batch statistics, modules
        stack.eval()
        with torch.autocast("cpu", dtype=torch.bfloat16):
            stack(x)                                    # autocast: modules
        stack[1].running_mean.add_(1.0)                 # statistics changed: stale snapshot
        moved = stack(x)
    assert calls == [True]
    assert not torch.allclose(moved, ref)
    with torch.no_grad():
        fc.fold_conv_bn(stack)                          # re-folded: fresh again and right
        torch.testing.assert_close(stack(x), moved, rtol=1e-5, atol=1e-5)
    assert calls == [True, True]


def test_backbone_stem_and_stages_fold_and_training_still_works():
    torch.manual_seed(0)
    net = _randomise_bn(ResNetBackbone("basic", (1, 1, 1), (8, 16, 32))).eval()
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        ref = net(x, ("layer2", "layer3"))
        assert fc.fold_conv_bn(net) == 1 + 2 + 3 + 3     # stem, layer1, layer2 (+ downsample), layer3
        got = net(x, ("layer2", "layer3"))
    for k in ref:
        torch.testing.assert_close(got[k], ref[k], rtol=1e-4, atol=1e-5)
    net.train()
    out = net(x)["layer3"].sum()
    out.backward()                                      # training path: gradients reach the stem
    assert net.conv1.weight.grad is not None and net.bn1.weight.grad is not None


def test_snapshots_are_dropped_by_copies_and_pickles():
    block = _randomise_bn(_blocks()[0]).eval()
    fc.fold_conv_bn(block)
    assert "_folded_conv" in block.conv1.__dict__
    assert copy.deepcopy(block).conv1.__dict__.get("_folded_conv") is None
    assert pickle.loads(pickle.dumps(block)).conv1.__dict__.get("_folded_conv") is None
    fc.unfold_conv_bn(block)
    assert "_folded_conv" not in block.conv1.__dict__
