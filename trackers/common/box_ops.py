"""Torch box ops: format conversion, areas, IoU and generalized IoU (the project's one torch IoU).

Conventions (as ``datasets.geometry``): coordinates are continuous, pixel ``i`` covers
``[i, i + 1)``; formats are named strings: ``xywh`` (top-left + size), ``xyxy`` (corners, used
inside the ops), ``cxcywh`` (centre + size, used by heads). No "-1 inclusive pixel" arithmetic.

Every function works on any leading shape ``(..., 4)``. IoU/GIoU come in two flavours chosen by
``aligned``: pairwise (``boxes1 (N, 4)`` x ``boxes2 (M, 4)`` -> ``(N, M)``) or aligned
(``(..., 4)`` x ``(..., 4)`` -> ``(...,)``, the form regression losses need). Areas and overlaps
are computed in float32 or wider (half inputs are upcast); results come back in the input dtype.
"""
from __future__ import annotations

import torch
from torch import Tensor

BOX_FORMATS = ("xywh", "xyxy", "cxcywh")


def _check_fmt(fmt: str) -> None:
    if fmt not in BOX_FORMATS:
        raise ValueError(f"unknown box format {fmt!r}; expected one of {BOX_FORMATS}")


def _check_last_dim(boxes: Tensor, name: str = "boxes") -> None:
    if boxes.shape[-1] != 4:
        raise ValueError(f"{name} must have a last dimension of 4, got shape {tuple(boxes.shape)}")


def box_convert(boxes: Tensor, in_fmt: str, out_fmt: str) -> Tensor:
    """Convert ``(..., 4)`` boxes between ``xywh``, ``xyxy`` and ``cxcywh`` (same dtype/device).

    Differentiable; no clamping or validation of the values.
    """
    _check_fmt(in_fmt)
    _check_fmt(out_fmt)
    _check_last_dim(boxes)
    if in_fmt == out_fmt:
        return boxes.clone()
    a, b, c, d = boxes.unbind(-1)
    if in_fmt == "xywh":
        x1, y1, x2, y2 = a, b, a + c, b + d
    elif in_fmt == "cxcywh":
        x1, y1, x2, y2 = a - c / 2, b - d / 2, a + c / 2, b + d / 2
    else:
        x1, y1, x2, y2 = a, b, c, d
    if out_fmt == "xyxy":
        return torch.stack([x1, y1, x2, y2], dim=-1)
    if out_fmt == "xywh":
        return torch.stack([x1, y1, x2 - x1, y2 - y1], dim=-1)
    return torch.stack([(x1 + x2) / 2, (y1 + y2) / 2, x2 - x1, y2 - y1], dim=-1)


def _upcast(t: Tensor) -> Tensor:
    """Promote half/bfloat16/integer tensors to float32 so products of coordinates stay exact enough."""
    if t.is_floating_point():
        return t if t.dtype in (torch.float32, torch.float64) else t.float()
    return t.float()


def box_area(boxes_xyxy: Tensor) -> Tensor:
    """Areas ``(...,)`` of ``(..., 4)`` xyxy boxes (negative for inverted boxes: not clamped)."""
    _check_last_dim(boxes_xyxy)
    b = _upcast(boxes_xyxy)
    return ((b[..., 2] - b[..., 0]) * (b[..., 3] - b[..., 1])).to(boxes_xyxy.dtype)


def _pair(boxes1: Tensor, boxes2: Tensor, aligned: bool) -> tuple[Tensor, Tensor]:
    _check_last_dim(boxes1, "boxes1")
    _check_last_dim(boxes2, "boxes2")
    a, b = _upcast(boxes1), _upcast(boxes2)
    if aligned:
        if boxes1.shape != boxes2.shape:
            raise ValueError(
                f"aligned IoU needs equal shapes, got {tuple(boxes1.shape)} and {tuple(boxes2.shape)}"
            )
        return a, b
    if boxes1.dim() != 2 or boxes2.dim() != 2:
        raise ValueError(
            f"pairwise IoU needs (N, 4) and (M, 4) boxes, got {tuple(boxes1.shape)} and {tuple(boxes2.shape)}"
        )
    return a[:, None, :], b[None, :, :]  # (N, 1, 4), (1, M, 4)


def _inter_union(a: Tensor, b: Tensor) -> tuple[Tensor, Tensor]:
    """Intersection and union areas of broadcastable xyxy boxes (float32+)."""
    lt = torch.maximum(a[..., :2], b[..., :2])
    rb = torch.minimum(a[..., 2:], b[..., 2:])
    wh = (rb - lt).clamp(min=0)                                  # (..., 2)
    inter = wh[..., 0] * wh[..., 1]
    area_a = (a[..., 2] - a[..., 0]) * (a[..., 3] - a[..., 1])
    area_b = (b[..., 2] - b[..., 0]) * (b[..., 3] - b[..., 1])
    return inter, area_a + area_b - inter


def _check_ordered(boxes: Tensor, name: str) -> None:
    ok = (boxes[..., 2] >= boxes[..., 0]) & (boxes[..., 3] >= boxes[..., 1])
    if not bool(ok.all()):
        bad = (~ok).nonzero()[0].tolist()
        raise ValueError(
            f"{name}: degenerate xyxy box at index {bad}: {boxes[tuple(bad)].tolist()} "
            f"(needs x2 >= x1, y2 >= y1 and no NaN)"
        )


def box_iou(boxes1: Tensor, boxes2: Tensor, aligned: bool = False, eps: float = 1e-7) -> Tensor:
    """IoU of xyxy boxes.

    Args:
        boxes1, boxes2: ``(N, 4)`` and ``(M, 4)`` xyxy (pairwise), or equal shapes ``(..., 4)``
            when ``aligned``.
        aligned: compare boxes element by element instead of all pairs.
        eps: floor of the union (two empty boxes have IoU 0, not NaN).
    Returns:
        ``(N, M)`` (pairwise) or ``(...,)`` (aligned) in ``[0, 1]``, dtype of ``boxes1``.
    """
    a, b = _pair(boxes1, boxes2, aligned)
    inter, union = _inter_union(a, b)
    return (inter / union.clamp(min=eps)).to(boxes1.dtype)


def generalized_box_iou(boxes1: Tensor, boxes2: Tensor, aligned: bool = False, eps: float = 1e-7) -> Tensor:
    """Generalized IoU (Rezatofighi et al. 2019): ``IoU - (|C| - |A u B|) / |C|``, C = enclosing box.

    Same shapes and ``aligned`` switch as `box_iou`; values in ``[-1, 1]``.

    Raises:
        ValueError: a box has ``x2 < x1``, ``y2 < y1`` or NaN (GIoU is undefined there; OSTrack
            asserted, we raise and name the box).
    """
    a, b = _pair(boxes1, boxes2, aligned)
    _check_ordered(a, "boxes1")
    _check_ordered(b, "boxes2")
    inter, union = _inter_union(a, b)
    iou = inter / union.clamp(min=eps)
    lt = torch.minimum(a[..., :2], b[..., :2])
    rb = torch.maximum(a[..., 2:], b[..., 2:])
    wh = (rb - lt).clamp(min=0)
    enclose = wh[..., 0] * wh[..., 1]
    giou = iou - (enclose - union) / enclose.clamp(min=eps)
    return giou.to(boxes1.dtype)
