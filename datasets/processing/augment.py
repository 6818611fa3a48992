"""Box jitter and photometric / geometric augmentations of training crops (numpy + OpenCV).

Randomness only through an explicit ``rng`` (numpy Generator). Images are (H, W, 3) uint8 RGB.
"""
from __future__ import annotations

import cv2
import numpy as np


def jitter_boxes(boxes_xywh: np.ndarray, center_jitter: np.ndarray, scale_jitter: np.ndarray,
                 rng: np.random.Generator) -> np.ndarray:
    """The jittered windows the crops are centred on (OSTrack / pytracking ``_get_jittered_box``, §A.5).

    Per box: ``w', h' = (w, h) * exp(N(0, 1) * scale_jitter)`` (independently per side), then
    ``centre' = centre + (U[0, 1) - 0.5) * sqrt(w' h') * center_jitter`` per axis, so the centre
    moves by at most ``0.5 * center_jitter * sqrt(w' h')``. Zero jitter returns the box itself.

    Args:
        boxes_xywh: (N, 4) boxes in image pixels.
        center_jitter, scale_jitter: (N,) factors per box (or scalars).
    Returns:
        (N, 4) float64 xywh.
    """
    b = np.asarray(boxes_xywh, dtype=np.float64).reshape(-1, 4)
    n = b.shape[0]
    sj = np.broadcast_to(np.asarray(scale_jitter, dtype=np.float64), (n,))[:, None]
    cj = np.broadcast_to(np.asarray(center_jitter, dtype=np.float64), (n,))
    size = b[:, 2:4] * np.exp(rng.standard_normal((n, 2)) * sj)
    max_offset = np.sqrt(size[:, 0] * size[:, 1]) * cj
    centre = b[:, :2] + b[:, 2:4] / 2 + max_offset[:, None] * (rng.random((n, 2)) - 0.5)
    return np.concatenate([centre - size / 2, size], axis=1)


def jitter_box(box_xywh: np.ndarray, center_jitter: float, scale_jitter: float, rng: np.random.Generator) -> np.ndarray:
    """`jitter_boxes` for one (4,) box."""
    return jitter_boxes(np.asarray(box_xywh)[None], center_jitter, scale_jitter, rng)[0]


def flip_box_xywh(box_xywh: np.ndarray, width: float) -> np.ndarray:
    """Mirror (..., 4) xywh boxes horizontally inside an image of `width` pixels: x -> W - x - w."""
    b = np.array(box_xywh, dtype=np.float64)
    b[..., 0] = width - b[..., 0] - b[..., 2]
    return b


def to_grayscale(image: np.ndarray) -> np.ndarray:
    """RGB -> luma (ITU-R BT.601, OpenCV) replicated on 3 channels; (H, W, 3) uint8 in and out."""
    return cv2.cvtColor(cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_RGB2GRAY), cv2.COLOR_GRAY2RGB)


def brightness_factors(rng: np.random.Generator, jitter: float, n: int) -> np.ndarray:
    """(n,) per-crop brightness factors ``U[1 - jitter, 1 + jitter]`` (OSTrack / pytracking
    ``ToTensorAndJitter``)."""
    return rng.uniform(1.0 - jitter, 1.0 + jitter, n)


def finish_crop(crop: np.ndarray, gray: bool, flip: bool) -> np.ndarray:
    """Grayscale (joint roll) and horizontal flip (per crop) of one crop, on uint8.

    Brightness is not applied here: it is folded into the normalization tables of the collate
    (`datasets.processing.normalize.normalize_crops`), which is exact and costs nothing extra.

    Args:
        crop: (S, S, 3) uint8 RGB.
    Returns:
        (S, S, 3) uint8, or (S, S) uint8 luma when `gray` (the collate replicates it on 3 channels).
    """
    out = cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY) if gray else crop
    return cv2.flip(out, 1) if flip else out
