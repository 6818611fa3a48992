"""Packed oneDNN linears against nn.Linear: values, fused activations, and every case that must
fall back to the module (autograd, autocast, changed weights)."""
import copy

import pytest
import torch
from torch import nn

from trackers.common import packed_linear as pl

pytestmark = pytest.mark.skipif(not pl.supported(), reason="torch build without oneDNN linear ops")


class Block(nn.Module):
    packable_linears = ("fc1", "fc2")

    def __init__(self, act=None, bias=True):
        super().__init__()
        self.fc1 = nn.Linear(12, 20, bias=bias)
        self.fc2 = nn.Linear(20, 7)
        self.act = act or nn.GELU()
        self.other = nn.Linear(7, 3)                  # not declared: never packed

    def forward(self, x):
        return self.other(pl.linear(self.fc2, pl.linear(self.fc1, x, self.act)))


def _reference(block, x):
    return block.other(block.fc2(block.act(block.fc1(x))))


def _packed_calls(monkeypatch):
    calls = []
    original = pl.PackedLinear.__call__

    def spy(self, x, post_op=("none", "")):
        calls.append(post_op)
        return original(self, x, post_op)

    monkeypatch.setattr(pl.PackedLinear, "__call__", spy)
    return calls


@pytest.mark.parametrize("act", [nn.GELU(), nn.GELU(approximate="tanh"), nn.ReLU()])
@pytest.mark.parametrize("bias", [True, False])
def test_packed_equals_module_with_fused_activation(act, bias, monkeypatch):
    torch.manual_seed(0)
    block = Block(act, bias).eval()
    assert pl.pack_linears(block) == 2
    calls = _packed_calls(monkeypatch)
    x = torch.randn(2, 5, 12)
    with torch.no_grad():
        got, ref = block(x), _reference(block, x)
        got_t = block(torch.randn(5, 2, 12).transpose(0, 1))      # non-contiguous input
    torch.testing.assert_close(got, ref, rtol=1e-5, atol=1e-5)
    assert got_t.shape == (2, 5, 3)
    assert calls[0][0] == ("gelu" if isinstance(act, nn.GELU) else "relu") and calls[1] == ("none", "")
    assert "_packed_linear" not in block.other.__dict__


def test_falls_back_when_grad_autocast_or_weights_change(monkeypatch):
    torch.manual_seed(0)
    block = Block().eval()
    pl.pack_linears(block)
    calls = _packed_calls(monkeypatch)
    x = torch.randn(3, 12)
    y = block(x)                                             # autograd on: module path, differentiable
    y.sum().backward()
    assert block.fc1.weight.grad is not None and not calls
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        assert block(x).dtype == torch.bfloat16 and not calls
    with torch.no_grad():
        block.fc1.weight.mul_(2.0)                           # in place (optimizer step): stale
        torch.testing.assert_close(block(x), _reference(block, x))
        assert calls == [("none", "")]                       # only fc2 still packed
        block.fc2.load_state_dict({"weight": torch.zeros(7, 20), "bias": torch.ones(7)})
        torch.testing.assert_close(block(x), _reference(block, x))
        block.fc1.weight = nn.Parameter(torch.randn(20, 12))  # replaced parameter: stale
        torch.testing.assert_close(block(x), _reference(block, x))
        n = len(calls)
        pl.pack_linears(block)                               # re-pack: packed again, same values
        torch.testing.assert_close(block(x), _reference(block, x), rtol=1e-5, atol=1e-5)
        assert len(calls) == n + 2


def test_copies_drop_the_snapshot_and_unpack():
    block = Block().eval()
    pl.pack_linears(block)
    twin = copy.deepcopy(block)
    assert twin.fc1.__dict__.get("_packed_linear") is None
    x = torch.randn(4, 12)
    with torch.no_grad():
        torch.testing.assert_close(twin(x), block(x), rtol=1e-5, atol=1e-5)
    pl.unpack_linears(block)
    assert "_packed_linear" not in block.fc1.__dict__


def test_declared_non_linear_is_an_error():
    class Bad(nn.Module):
        packable_linears = ("conv",)

        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(1, 1, 1)

    with pytest.raises(TypeError, match="conv"):
        pl.pack_linears(Bad())


@pytest.mark.skipif(not pl.mkl_supported(), reason="torch build without MKL packed GEMM ops")
@pytest.mark.parametrize("act", [nn.GELU(), nn.GELU(approximate="tanh"), nn.ReLU()])
def test_row_packed_mkl_path_serves_its_row_count_only(act, monkeypatch):
    torch.manual_seed(0)
    block = Block(act).eval()
    assert pl.pack_linears(block, rows=10) == 2
    assert block.fc1.__dict__["_packed_linear"].rows == 10
    calls = _packed_calls(monkeypatch)
    x = torch.randn(2, 5, 12)                                # 10 rows: the MKL-packed path, activation in place
    other = torch.randn(3, 12)                               # 3 rows: the modules' own path
    with torch.no_grad():
        torch.testing.assert_close(block(x), _reference(block, x), rtol=1e-5, atol=1e-5)
        assert len(calls) == 2
        torch.testing.assert_close(block(other), _reference(block, other), rtol=0, atol=0)
        assert len(calls) == 2
    pl.pack_linears(block)                                   # re-pack for any row count: oneDNN again
    assert block.fc1.__dict__["_packed_linear"].rows is None


def test_dotted_names_reach_submodules():
    class Outer(nn.Module):
        packable_linears = ("ffn.0",)

        def __init__(self):
            super().__init__()
            self.ffn = nn.Sequential(nn.Linear(4, 6), nn.ReLU())

    outer = Outer()
    assert pl.pack_linears(outer) == 1 and "_packed_linear" in outer.ffn[0].__dict__
