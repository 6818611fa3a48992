"""DiMP losses: the hinge-like classification loss (LBHinge), IoU regression and KL box regression.

All are pure functions returning scalars (mean over elements) in the input's dtype.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor


def lb_hinge(scores: Tensor, label: Tensor, threshold: float = 0.05) -> Tensor:
    """DiMP's LBHinge: MSE where ``label >= threshold``; elsewhere only positive scores are
    penalised (``relu(score)`` against 0).

    Args:
        scores, label: same shape, e.g. (Nte, B, Ho, Wo).
    """
    if scores.shape != label.shape:
        raise ValueError(f"scores {tuple(scores.shape)} and label {tuple(label.shape)} differ in shape")
    neg = label < threshold
    pred = torch.where(neg, F.relu(scores), scores)
    target = torch.where(neg, torch.zeros_like(label), label)
    return F.mse_loss(pred, target)


def classification_loss(score_iterates: list[Tensor], label: Tensor, w_final: float, w_init: float,
                        w_iter: float, threshold: float = 0.05) -> tuple[Tensor, dict[str, Tensor]]:
    """DiMP's weighted sum over filter iterates: ``w_final`` on the last, ``w_init`` on the first,
    ``w_iter / (K - 2)`` on each of the K - 2 intermediate ones (K = number of iterates).

    Returns:
        (weighted sum, {"final", "init", "iter"} unweighted parts).
    """
    losses = [lb_hinge(s, label, threshold) for s in score_iterates]
    final, init = losses[-1], losses[0]
    inter = losses[1:-1]
    iter_mean = torch.stack(inter).mean() if inter else final.new_zeros(())
    total = w_final * final + (w_init * init if len(losses) > 1 else 0.0)
    if inter:
        total = total + w_iter * iter_mean
    return total, {"final": final, "init": init, "iter": iter_mean}


def iou_regression_loss(pred: Tensor, target: Tensor) -> Tensor:
    """MSE between predicted and target ``2 IoU - 1`` values (ATOM)."""
    if pred.shape != target.shape:
        raise ValueError(f"pred {tuple(pred.shape)} and target {tuple(target.shape)} differ in shape")
    return F.mse_loss(pred, target)


def kl_regression_loss(scores: Tensor, proposal_density: Tensor, gt_density: Tensor, eps: float = 0.0) -> Tensor:
    """Monte-Carlo KL divergence between the label density ``p`` and the predicted ``exp(s)/Z``.

    With M proposals ``b_k ~ q`` (density ``q_k``) and label density ``p_k`` at each::

        KL(p || exp(s)/Z) = log Z - E_p[s] + const,
        log Z  ~ log( (1/M) sum_k exp(s_k) / q_k ),     E_p[s] ~ (1/M) sum_k s_k p_k / q_k

    Args:
        scores, proposal_density, gt_density: (..., M).
    Returns:
        mean over the leading dimensions.
    """
    if not (scores.shape == proposal_density.shape == gt_density.shape):
        raise ValueError(f"shapes differ: scores {tuple(scores.shape)}, proposal_density "
                         f"{tuple(proposal_density.shape)}, gt_density {tuple(gt_density.shape)}")
    m = scores.shape[-1]
    log_z = torch.logsumexp(scores - torch.log(proposal_density + eps), dim=-1) - math.log(m)
    e_p = (scores * gt_density / (proposal_density + eps)).mean(dim=-1)
    return (log_z - e_p).mean()
