"""Getting a network ready for online tracking (shared by the HCTrack and CIA trackers).

`prepare_for_inference` moves the model to the device and switches it to eval mode (in place,
as the trackers always did) and, on CPU, also:

* stores its 4-D weights channels-last (same values, ``model.to(memory_format=channels_last)``):
  the trackers' crops are channels-last views of the (H, W, 3) frames (and HCTrack's head reads
  the (B, N, C) tokens as a channels-last map), so PyTorch runs the convolutions channels-last
  and, with NCHW weights, copied every conv weight to that layout on every call (7 copies of
  2.4 MB per CIA18 frame, 3 of 7 MB per HCTrack frame). Measured on the 2-core development
  machine (1 thread, CPU time): CIA18 features 143 -> 139 ms, CIA50 1048 -> 958 ms per frame.
  On CUDA the layout is left alone (not measured there).
* folds every (conv, BatchNorm) pair's eval statistics into the convolution, with the ReLU fused
  where one follows (`trackers.common.fused_conv`: ResNet blocks, conv-BN-ReLU stacks), used only
  while valid (autograd off, eval mode, weights and statistics unchanged);
* packs the linears that modules declare packable (`trackers.common.packed_linear`: oneDNN with
  weights reordered once, bias and GELU fused; HCTrack's attention and MLP linears), used only
  while the snapshot is valid (autograd off, weights unchanged);
* calls `trackers.common.allocator.retain_freed_memory` (no per-frame page faults).

The model keeps working for training afterwards (call ``model.train()``): only the weights'
memory layout differs, and the packed snapshots are bypassed once the weights change
(`trackers.common.packed_linear.unpack_linears` / `trackers.common.fused_conv.unfold_conv_bn`
free them). On CUDA neither is attached (not measured there).
"""
from __future__ import annotations

import torch
from torch import nn

from trackers.common.allocator import retain_freed_memory
from trackers.common.fused_conv import fold_conv_bn
from trackers.common.packed_linear import pack_linears


def prepare_for_inference(model: nn.Module, device: str | torch.device, linear_rows: int | None = None) -> nn.Module:
    """``model.to(device).eval()`` (+ channels-last weights, folded conv-BN, packed linears, allocator
    tuning on CPU); returns `model`. `linear_rows`: the row count the packed linears are packed for
    (`trackers.common.packed_linear.PackedLinear`; None = any)."""
    device = torch.device(device)
    retain_freed_memory()
    model = model.to(device).eval()
    if device.type == "cpu":
        model = model.to(memory_format=torch.channels_last)
        fold_conv_bn(model)
        pack_linears(model, linear_rows)
    return model
