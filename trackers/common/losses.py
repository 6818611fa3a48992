"""Generic training losses: CenterNet focal loss, GIoU loss, multi-positive InfoNCE.

Each is a pure function on tensors (no modules, no state); the trackers' actors weight and sum them.
"""
from __future__ import annotations

import torch
from torch import Tensor

from trackers.common.box_ops import generalized_box_iou


def centernet_focal_loss(
    pred: Tensor, target: Tensor, alpha: float = 2.0, beta: float = 4.0, eps: float = 1e-12
) -> Tensor:
    """Weighted (penalty-reduced) focal loss of CenterNet / CornerNet, as OSTrack uses it.

    With ``p`` the predicted probability and ``y`` the Gaussian label::

        pos (y == 1):  -log(p) (1 - p)^alpha
        neg (y <  1):  -log(1 - p) p^alpha (1 - y)^beta
        loss = (sum pos + sum neg) / num_pos       (num_pos counted over the whole batch)
        loss = sum neg                              when the batch has no positive pixel

    Args:
        pred: ``(B, ...)`` probabilities in ``(0, 1)`` (already sigmoid-ed and clamped).
        target: same shape, Gaussian heat map with peak exactly 1 at the centres.
        alpha, beta: focusing and label-penalty exponents (2, 4).
        eps: floor inside the logarithms.
    Returns:
        scalar tensor.
    """
    if pred.shape != target.shape:
        raise ValueError(f"pred {tuple(pred.shape)} and target {tuple(target.shape)} must have the same shape")
    pred = pred.float()
    target = target.float()
    pos = target.eq(1).float()
    neg = 1.0 - pos
    pos_loss = torch.log(pred.clamp(min=eps)) * (1 - pred).pow(alpha) * pos
    neg_loss = torch.log((1 - pred).clamp(min=eps)) * pred.pow(alpha) * (1 - target).pow(beta) * neg
    num_pos = pos.sum()
    total = pos_loss.sum() + neg_loss.sum()
    # num_pos == 0 -> pos_loss.sum() == 0 and the rule reduces to -sum(neg)
    return -total / num_pos.clamp(min=1.0)


def giou_loss(pred_xyxy: Tensor, target_xyxy: Tensor) -> Tensor:
    """Mean of ``1 - GIoU`` over aligned ``(N, 4)`` xyxy boxes (scalar). Raises on degenerate boxes."""
    return (1.0 - generalized_box_iou(pred_xyxy, target_xyxy, aligned=True)).mean()


def multi_positive_info_nce(
    embeddings: Tensor, labels: Tensor, temperature: float = 0.07, valid: Tensor | None = None
) -> Tensor:
    """Multi-positive InfoNCE (HCTrack Eq. 4), averaged over anchors.

    For every anchor ``x`` (each row of `embeddings`), positives ``k+`` are the *other* rows with
    the same label, negatives ``k-`` the rows with a different label (the anchor itself is in
    neither)::

        L(x) = -log( sum_pos exp(x.k+ / tau) / (sum_pos exp(x.k+ / tau) + sum_neg exp(x.k- / tau)) )
             = logsumexp_{j != x}(s_j) - logsumexp_{pos}(s_j),      s_j = x.k_j / tau

    computed with `logsumexp` for stability. Anchors without any positive are skipped; the
    result is the mean over the remaining anchors (0 when there is none). With no negatives the
    ratio is 1 and the loss 0.

    Args:
        embeddings: ``(N, D)``; callers pass L2-normalised vectors (dot product = cosine).
        labels: ``(N,)`` integer group ids (HCTrack: the source video).
        temperature: tau > 0.
        valid: optional ``(N,)`` bool; invalid rows are neither anchors nor keys.
    Returns:
        scalar tensor (float32 or wider).
    """
    if embeddings.dim() != 2 or labels.shape != embeddings.shape[:1]:
        raise ValueError(
            f"embeddings must be (N, D) and labels (N,), got {tuple(embeddings.shape)} and {tuple(labels.shape)}"
        )
    if temperature <= 0:
        raise ValueError(f"temperature={temperature} must be > 0")
    n = embeddings.shape[0]
    z = embeddings.float() if embeddings.dtype in (torch.float16, torch.bfloat16) else embeddings
    logits = z @ z.t() / temperature                                     # (N, N)
    eye = torch.eye(n, dtype=torch.bool, device=z.device)
    keys = ~eye
    if valid is not None:
        keys = keys & valid[None, :] & valid[:, None]
    same = labels[:, None] == labels[None, :]
    pos = same & keys
    neg_inf = torch.finfo(logits.dtype).min
    log_all = torch.logsumexp(logits.masked_fill(~keys, neg_inf), dim=1)  # (N,)
    log_pos = torch.logsumexp(logits.masked_fill(~pos, neg_inf), dim=1)   # (N,)
    has_pos = pos.any(dim=1)
    per_anchor = (log_all - log_pos) * has_pos
    return per_anchor.sum() / has_pos.sum().clamp(min=1)
