"""CPU inference linears with the weights packed once: oneDNN (any row count, bias and activation
fused) or MKL (packed for one known row count, `PackedLinear` ``rows``).

Why: for a tracker's token matmuls (batch 1, M = 256 search tokens, ViT-B widths) PyTorch's
``F.linear`` (MKL sgemm, bias copied into the output first, GELU a separate pass) reached
129-137 GFLOP/s on the 2-core development machine (2 threads; 2048^3 matmul: 166 GFLOP/s), oneDNN
with the weight reordered once to its blocked layout 136-157 GFLOP/s. The whole HCTrack search
branch went from 384 to 349 ms per frame (1.52 -> 1.36 x its compute floor), outputs equal to
~1e-6.

How: ``torch.ops.mkldnn._reorder_linear_weight`` once and ``torch.ops.mkldnn._linear_pointwise``
per call, the ops PyTorch's own CPU inference compiler (inductor "freezing") emits. They are
private, so `supported` checks that they exist and run; where they do not, nothing changes.

Use: a module lists the names (or dotted paths, ``"ffn.0"``) of its ``nn.Linear`` submodules that
may be packed in a class attribute ``packable_linears`` and calls them through `linear` (``linear(self.fc1, x, self.act)``
instead of ``self.act(self.fc1(x))``); `pack_linears` (called by
`trackers.common.inference.prepare_for_inference` on CPU) attaches a `PackedLinear` snapshot to
each of them. `linear` takes the packed path only when it is valid: autograd off, CPU float32
input, no autocast, not inside ``torch.compile``, and the weight and bias are still the very
tensors that were packed (same objects, storage and version counter: an optimizer step or a
``load_state_dict`` makes the snapshot stale, and the module's own path runs). Cost: one extra
copy of each packed weight in memory. Snapshots are a cache: ``copy.deepcopy`` and pickling of
the model drop them.
"""
from __future__ import annotations

import torch
from torch import Tensor, nn

_SUPPORTED: bool | None = None


def supported() -> bool:
    """Whether this torch build has the oneDNN linear ops (checked once by running them)."""
    global _SUPPORTED
    if _SUPPORTED is None:
        try:
            w = torch.ops.mkldnn._reorder_linear_weight(torch.ones(2, 3), None)
            y = torch.ops.mkldnn._linear_pointwise(torch.ones(1, 3), w, None, "none", [], "")
            _SUPPORTED = bool(torch.backends.mkldnn.is_available() and torch.allclose(y, torch.full((1, 2), 3.0)))
        except (AttributeError, RuntimeError, NotImplementedError):
            _SUPPORTED = False
    return _SUPPORTED


def _post_op(act: nn.Module | None) -> tuple[str, str] | None:
    """oneDNN post-op ``(attr, algorithm)`` computing `act`, or None when it cannot be fused."""
    if act is None or isinstance(act, nn.Identity):
        return "none", ""
    if isinstance(act, nn.GELU):
        return "gelu", act.approximate          # "none" (erf) or "tanh", as nn.GELU
    if isinstance(act, nn.ReLU):
        return "relu", ""
    return None


def autocast_on(device_type: str = "cpu") -> bool:
    """Whether autocast is enabled for `device_type` (shared by the inference caches)."""
    try:
        return torch.is_autocast_enabled(device_type)
    except TypeError:  # torch < 2.4
        return torch.is_autocast_enabled() if device_type == "cuda" else torch.is_autocast_cpu_enabled()


def tensor_versions(tensors) -> tuple:
    """(version counter, data pointer) of each tensor (None stays None): a snapshot is stale once
    this changes (an in-place update, ``load_state_dict``, a replaced parameter's storage)."""
    return tuple(None if t is None else (t._version, t.data_ptr()) for t in tensors)


_MKL: bool | None = None


def mkl_supported() -> bool:
    """Whether this torch build has MKL's packed-GEMM linear ops (checked once by running them)."""
    global _MKL
    if _MKL is None:
        try:
            w = torch.ones(2, 3)
            packed = torch.ops.mkl._mkl_reorder_linear_weight(w, 4)
            y = torch.ops.mkl._mkl_linear(torch.ones(4, 3), packed, w, None, 4)
            _MKL = bool(torch.allclose(y, torch.full((4, 2), 3.0)))
        except (AttributeError, RuntimeError, NotImplementedError):
            _MKL = False
    return _MKL


class PackedLinear:
    """A snapshot of an ``nn.Linear``'s weight, packed for fast CPU GEMMs (see module docstring).

    Args:
        module: the linear (or `_TensorLinear`).
        rows: the number of input rows it will see in the hot loop (e.g. HCTrack's 256 search
            tokens). Given (and MKL present), the weight is packed by MKL for exactly that many
            rows (``cblas_sgemm_pack``): on the 2-core development machine 5-15 % faster than
            oneDNN for ViT-B's 256-row GEMMs (qkv 133 vs 122, proj 123 vs 106, fc2 152 vs 145,
            fc1 + GELU 138 vs 134 GFLOP/s), the activation then runs in place; other row counts
            take the module's own path (`accepts`). None: oneDNN, any row count, activation fused.
    """

    def __init__(self, module: nn.Linear, rows: int | None = None) -> None:
        w, b = module.weight, module.bias
        self._tensors = (w, b)
        self._state = tensor_versions((w, b))
        self.rows = rows if rows is not None and mkl_supported() else None
        with torch.no_grad():
            w32 = w.detach().float().contiguous()
            self.bias = None if b is None else b.detach().float().clone()
            if self.rows is None:
                self.weight = torch.ops.mkldnn._reorder_linear_weight(w32, None)
                self.original = None
            else:
                self.weight = torch.ops.mkl._mkl_reorder_linear_weight(w32, self.rows)
                self.original = w32   # MKL's op keeps a plain copy for row counts it was not packed for

    def accepts(self, x: Tensor) -> bool:
        """Whether `x` (..., in_features) has the rows this snapshot serves."""
        return self.rows is None or x.numel() == self.rows * x.shape[-1]

    @classmethod
    def from_tensors(cls, weight: Tensor, bias: Tensor | None = None) -> "PackedLinear":
        """A snapshot of ``x W^T + b`` for plain tensors W (N, K), b (N,) (e.g. weights with a
        BatchNorm folded in); `is_fresh` is meaningless for it. Needs `supported`."""
        return cls(_TensorLinear(weight, bias))

    def is_fresh(self, module: nn.Linear) -> bool:
        """The module still holds the same, unmodified weight and bias tensors."""
        w, b = module.weight, module.bias
        return w is self._tensors[0] and b is self._tensors[1] and tensor_versions((w, b)) == self._state

    def __reduce__(self):
        # a cache, not state: copies and pickles of the model (deepcopy, torch.save) drop it
        return (_dropped, ())

    def __call__(self, x: Tensor, post_op: tuple[str, str] = ("none", "")) -> Tensor:
        """``post_op(x W^T + b)`` for float32 ``x (..., in_features)`` (`accepts` must hold)."""
        if self.rows is None:
            return torch.ops.mkldnn._linear_pointwise(x, self.weight, self.bias, post_op[0], [], post_op[1])
        y = torch.ops.mkl._mkl_linear(x, self.weight, self.original, self.bias, self.rows)
        if post_op[0] == "gelu":
            torch.ops.aten.gelu_(y, approximate=post_op[1])
        elif post_op[0] == "relu":
            y.relu_()
        return y


def _dropped() -> None:
    return None


class _TensorLinear:
    """Duck-typed ``nn.Linear`` (weight, bias) for `PackedLinear.from_tensors`."""

    def __init__(self, weight: Tensor, bias: Tensor | None) -> None:
        self.weight, self.bias = weight, bias


def linear(module: nn.Linear, x: Tensor, act: nn.Module | None = None) -> Tensor:
    """``act(module(x))``: through the module's packed snapshot when valid (module docstring), else as usual."""
    packed: PackedLinear | None = module.__dict__.get("_packed_linear")
    if packed is not None and x.device.type == "cpu" and x.dtype == torch.float32 and not torch.is_grad_enabled():
        op = _post_op(act)
        if (op is not None and packed.accepts(x) and not autocast_on() and not torch.compiler.is_compiling()
                and packed.is_fresh(module)):
            return packed(x, op)
    y = module(x)
    return y if act is None else act(y)


def pack_linears(model: nn.Module, rows: int | None = None) -> int:
    """Attach a fresh `PackedLinear` to every linear named in a submodule's ``packable_linears``.

    `rows`: see `PackedLinear` (None: oneDNN, any row count). No-op (returns 0) where `supported`
    is False. Returns the number of packed linears.
    """
    if not supported():
        return 0
    n = 0
    for mod in model.modules():
        for name in getattr(mod, "packable_linears", ()):
            lin = mod.get_submodule(name)          # a child's name, or a dotted path ("ffn.0")
            if not isinstance(lin, nn.Linear):
                raise TypeError(f"{type(mod).__name__}.packable_linears names {name!r}, a {type(lin).__name__}, not nn.Linear")
            packed = lin.__dict__.get("_packed_linear")
            if packed is None or not packed.is_fresh(lin) or packed.rows != (rows if mkl_supported() else None):
                lin.__dict__["_packed_linear"] = PackedLinear(lin, rows)
            n += 1
    return n


def unpack_linears(model: nn.Module) -> None:
    """Drop every attached snapshot (frees their memory)."""
    for mod in model.modules():
        mod.__dict__.pop("_packed_linear", None)


__all__ = ["PackedLinear", "linear", "mkl_supported", "pack_linears", "supported", "unpack_linears"]
