"""Box jitter and photometric / geometric augmentations of training crops (numpy + OpenCV).

Randomness only through an explicit ``rng`` (numpy Generator). Images are (H, W, 3) uint8 RGB.
"""
from __future__ import annotations

import cv2
import numpy as np


def jitter_box(box_xywh: np.ndarray, center_jitter: float, scale_jitter: float, rng: np.random.Generator) -> np.ndarray:
    """The jittered box the crop is centred on (OSTrack / pytracking ``_get_jittered_box``, §A.5).

    ``w', h' = (w, h) * exp(N(0, 1) * scale_jitter)`` (independently per side), then
    ``centre' = centre + (U[0, 1) - 0.5) * sqrt(w' h') * center_jitter`` per axis, so the centre
    moves by at most ``0.5 * center_jitter * sqrt(w' h')``. Zero jitter returns the box itself.

    Args:
        box_xywh: (4,) box in image pixels. Returns: (4,) float64 xywh.
    """
    b = np.asarray(box_xywh, dtype=np.float64).reshape(4)
    size = b[2:4] * np.exp(rng.standard_normal(2) * scale_jitter)
    max_offset = np.sqrt(size[0] * size[1]) * center_jitter
    centre = b[:2] + b[2:4] / 2 + max_offset * (rng.random(2) - 0.5)
    return np.concatenate([centre - size / 2, size])


def flip_box_xywh(box_xywh: np.ndarray, width: float) -> np.ndarray:
    """Mirror (..., 4) xywh boxes horizontally inside an image of `width` pixels: x -> W - x - w."""
    b = np.array(box_xywh, dtype=np.float64)
    b[..., 0] = width - b[..., 0] - b[..., 2]
    return b


def flip_image(image: np.ndarray) -> np.ndarray:
    """Horizontal mirror of an (H, W, C) image (a view; the collate's stack copies it)."""
    return image[:, ::-1]


def to_grayscale(image: np.ndarray) -> np.ndarray:
    """RGB -> luma (ITU-R BT.601, OpenCV) replicated on 3 channels; (H, W, 3) uint8 in and out."""
    return cv2.cvtColor(cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_RGB2GRAY), cv2.COLOR_GRAY2RGB)


def brightness_factors(rng: np.random.Generator, jitter: float, n: int) -> np.ndarray:
    """(n,) float32 per-crop brightness factors ``U[1 - jitter, 1 + jitter]`` (OSTrack /
    pytracking ``ToTensorAndJitter``). Applied in the collate, where ``clamp(x * f / 255, 0, 1)``
    is fused into the uint8 -> normalized float conversion (`datasets.processing.normalize`)."""
    return rng.uniform(1.0 - jitter, 1.0 + jitter, n).astype(np.float32)
