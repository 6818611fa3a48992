"""CIA's own losses: InfoNCE-V (Eq. 3) and the category cross-entropy that ignores unlabeled samples."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def infonce_v(q: Tensor, k: Tensor, video_ids: Tensor, temperature: float = 0.07) -> Tensor:
    """InfoNCE-V (paper Eq. 3): one ratio over the whole batch, positives over negatives::

        L = -log( sum_i sum_{j,f} exp(q_i^j . k_i^f / tau)  /  sum_{i != l} sum_{j,f} exp(q_i^j . k_l^f / tau) )
          = logsumexp_{neg}(S) - logsumexp_{pos}(S),        S = q k^T / tau

    Every (query, key) pair of crops from the same video is a positive (including a crop with its
    own key), pairs from different videos are negatives, and the negatives alone form the
    denominator (as the equation is written; the released code's denominator also holds the
    positives). The loss can be negative. With a single video in the batch there are no negatives
    and the loss is defined as 0 (keeping the graph).

    Args:
        q: (N, D) L2-normalised query embeddings; k: (N, D) keys (same crops, same order).
        video_ids: (N,) integer video of each crop.
        temperature: tau.
    Returns:
        scalar.
    """
    if q.shape != k.shape or q.dim() != 2 or video_ids.shape != q.shape[:1]:
        raise ValueError(f"q {tuple(q.shape)}, k {tuple(k.shape)} must be (N, D) and video_ids {tuple(video_ids.shape)} (N,)")
    if temperature <= 0:
        raise ValueError(f"temperature={temperature} must be > 0")
    if q.dtype in (torch.float16, torch.bfloat16):
        q, k = q.float(), k.float()
    s = (q @ k.t()) / temperature                                                # (N, N)
    pos = video_ids[:, None] == video_ids[None, :]
    if bool(pos.all()):
        return s.sum() * 0.0
    log_pos = torch.logsumexp(s[pos], dim=0)
    log_neg = torch.logsumexp(s[~pos], dim=0)
    return log_neg - log_pos


def category_loss(logits: Tensor, labels: Tensor) -> tuple[Tensor, int]:
    """Cross-entropy over samples with a known category (label >= 0); labels of -1 are ignored.

    Args:
        logits: (N, C); labels: (N,) int64 in [-1, C).
    Returns:
        (mean CE over the labelled samples, 0 with the graph kept when none is labelled;
        number of labelled samples).
    """
    if labels.shape != logits.shape[:1]:
        raise ValueError(f"labels {tuple(labels.shape)} do not match logits {tuple(logits.shape)}")
    if bool((labels >= logits.shape[1]).any()) or bool((labels < -1).any()):
        raise ValueError(f"category labels must be in [-1, {logits.shape[1]}), got {labels.unique().tolist()}")
    valid = labels >= 0
    n = int(valid.sum())
    if n == 0:
        return logits.sum() * 0.0, 0
    return F.cross_entropy(logits[valid], labels[valid]), n
