"""DiMP's target localisation with distractor handling (pytracking ``localize_advanced``).

Works on one score map (Ho, Wo) in score-cell units. Flags: "normal", "not_found" (peak below
`target_not_found_threshold`), "hard_negative" (a strong second peak: the memory update uses a
higher learning rate), "uncertain" (two comparable peaks that displacement cannot separate: the
memory is not updated).
"""
from __future__ import annotations

import math

import torch
from torch import Tensor


def _argmax2d(scores: Tensor) -> tuple[float, Tensor]:
    idx = int(torch.argmax(scores))
    wo = scores.shape[-1]
    return float(scores.reshape(-1)[idx]), torch.tensor([idx // wo, idx % wo], dtype=torch.float64)


def localize(scores: Tensor, target_size_cells: Tensor, prev_pos_cells: Tensor, params
             ) -> tuple[Tensor, str, float]:
    """Pick the target peak.

    Args:
        scores: (Ho, Wo) filter response.
        target_size_cells: (2,) (h, w) of the target in score cells.
        prev_pos_cells: (2,) (y, x) previous target centre in score cells.
        params: CIATrackerParams (thresholds).
    Returns:
        (peak (2,) (y, x) in cells float64, flag, peak score).
    """
    max1, pos1 = _argmax2d(scores)
    if not params.advanced_localization:
        return pos1, "normal", max1
    if max1 < params.target_not_found_threshold:
        return pos1, "not_found", max1
    ho, wo = scores.shape
    neigh = params.target_neighborhood_scale * target_size_cells.to(torch.float64)
    top = pos1 - neigh / 2
    bottom = pos1 + neigh / 2 + 1
    y0, x0 = max(int(round(float(top[0]))), 0), max(int(round(float(top[1]))), 0)
    y1, x1 = min(int(round(float(bottom[0]))), ho), min(int(round(float(bottom[1]))), wo)
    masked = scores.clone()
    masked[y0:y1, x0:x1] = 0
    max2, pos2 = _argmax2d(masked)
    if max2 > params.distractor_threshold * max1:
        d1 = float(torch.linalg.norm(pos1 - prev_pos_cells))
        d2 = float(torch.linalg.norm(pos2 - prev_pos_cells))
        thr = params.displacement_scale * math.sqrt(ho * wo) / 2
        if d1 <= thr < d2:
            return pos1, "hard_negative", max1
        if d2 <= thr < d1:
            return pos2, "hard_negative", max2
        return pos1, "uncertain", max1
    if max2 > params.hard_negative_threshold * max1 and max2 > params.target_not_found_threshold:
        return pos1, "hard_negative", max1
    return pos1, "normal", max1
