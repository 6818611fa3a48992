"""IoU-Net box refinement at tracking time (DiMP ``refine_target_box``), all candidates in one batch.

The classifier's box and `num_init_random_boxes` jittered copies are improved together by gradient
ascent on the IoU-Net output; boxes with an extreme aspect ratio are dropped and the result is the
mean of the `iounet_k` best (centres averaged, sizes averaged in log space). As in pytracking, the
boxes are ranked by the scores of the last ascent step's evaluation (taken before that step).

Two parametrisations (``box_refinement_space``):

* "default" (DiMP18/ATOM): ``b <- b + step * dS/db * [w, h, w, h]`` on xywh crop pixels;
* "relative" (SuperDiMP): ``r = (cx / w0, cy / h0, log(w / w0), log(h / h0))`` with ``(w0, h0)`` the
  initial box size, ``r <- r + step * dS/dr``.
"""
from __future__ import annotations

from typing import Callable

import torch
from torch import Tensor


def jittered_boxes(init_box: Tensor, num: int, jitter_pos: float, jitter_sz: float,
                   generator: torch.Generator | None = None) -> Tensor:
    """init_box (4,) xywh -> (1 + num, 4): the box and `num` random copies.

    Each copy moves its centre by ``(U - 0.5) * sqrt(wh) * jitter_pos`` and its size by
    ``(U - 0.5) * sqrt(wh) * jitter_sz``, sides at least ``min(w, h) / 3``.
    """
    sq = torch.sqrt(init_box[2] * init_box[3])
    factor = sq * torch.tensor([jitter_pos, jitter_pos, jitter_sz, jitter_sz], dtype=init_box.dtype)
    rand = (torch.rand(num, 4, generator=generator, dtype=init_box.dtype) - 0.5) * factor
    size = (init_box[2:] + rand[:, 2:]).clamp(min=float(init_box[2:].min()) / 3)
    center = init_box[:2] + init_box[2:] / 2 + rand[:, :2]
    return torch.cat([init_box[None], torch.cat([center - size / 2, size], dim=1)], dim=0)


ValueAndGrad = Callable[[Tensor], tuple[Tensor, Tensor]]


def autograd_value_and_grad(score_fn: Callable[[Tensor], Tensor]) -> ValueAndGrad:
    """``boxes -> (score_fn(boxes), d sum(score) / d boxes)`` through autograd (reference path;
    the CIA tracker uses the closed-form `trackers.cia.dimp.iou_scorer.IoUBoxScorer`)."""
    def value_and_grad(boxes: Tensor) -> tuple[Tensor, Tensor]:
        with torch.enable_grad():
            b = boxes.detach().clone().requires_grad_(True)
            scores = score_fn(b)
            (grad,) = torch.autograd.grad(scores.sum(), b)
        return scores.detach(), grad
    return value_and_grad


def optimize_boxes(value_and_grad: ValueAndGrad, boxes: Tensor, iterations: int, step_length: float,
                   step_decay: float = 1.0, space: str = "default") -> tuple[Tensor, Tensor]:
    """`iterations` steps of gradient ascent from `boxes` (K, 4) xywh.

    Args:
        value_and_grad: boxes (K, 4) -> (scores (K,), d score_k / d box_k (K, 4)).
    Returns:
        (boxes after the last step (K, 4), scores (K,) of the last evaluation, i.e. of the boxes
        *before* the last step). This is pytracking's ``optimize_boxes_*``: the final boxes are not
        scored again (``select_box`` ranks them by those scores), which saves a pass per frame.
        With ``iterations == 0`` the input boxes and their scores.
    """
    if space not in ("default", "relative"):
        raise ValueError(f"space={space!r} must be 'default' or 'relative'")
    boxes = boxes.detach().clone()
    if iterations <= 0:
        return boxes, value_and_grad(boxes)[0].detach()
    sz0 = boxes[0, 2:].clone()
    step = step_length
    for _ in range(iterations):
        scores, grad = value_and_grad(boxes)
        wh = boxes[:, 2:]
        if space == "default":    # b <- b + step * dS/db * [w, h, w, h]
            boxes = boxes + step * grad * torch.cat([wh, wh], dim=1)
        else:                     # r = (cx / w0, cy / h0, log(w / w0), log(h / h0)); r <- r + step * dS/dr
            g_xy, g_wh = grad[:, :2], grad[:, 2:]
            d_rel = torch.cat([g_xy * sz0, (g_wh - g_xy / 2) * wh], dim=1)  # chain rule through x = cx - w / 2
            rel = torch.cat([(boxes[:, :2] + wh / 2) / sz0, torch.log(wh / sz0)], dim=1) + step * d_rel
            size = torch.exp(rel[:, 2:]) * sz0
            boxes = torch.cat([rel[:, :2] * sz0 - size / 2, size], dim=1)
        step *= step_decay
    return boxes.detach(), scores.detach()


def select_box(boxes: Tensor, scores: Tensor, k: int, max_aspect_ratio: float) -> tuple[Tensor, float] | None:
    """Mean of the top-`k` boxes by score (log-space size average) among those with aspect ratio
    in ``(1 / max_aspect_ratio, max_aspect_ratio)`` and finite values; None if none is left."""
    ar = boxes[:, 2] / boxes[:, 3]
    keep = (ar < max_aspect_ratio) & (ar > 1.0 / max_aspect_ratio) & torch.isfinite(boxes).all(1) & torch.isfinite(scores)
    keep &= (boxes[:, 2:] > 0).all(1)
    if not bool(keep.any()):
        return None
    b, s = boxes[keep], scores[keep]
    top = torch.topk(s, min(k, s.numel())).indices
    center = (b[top, :2] + b[top, 2:] / 2).mean(0)
    size = torch.exp(torch.log(b[top, 2:]).mean(0))
    return torch.cat([center - size / 2, size]), float(s[top].mean())
