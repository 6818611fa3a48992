"""uint8 crops -> ImageNet-normalized float32 NCHW tensors, brightness included, in one pass.

``out[c] = (min(x * b / 255, 1) - mean[c]) / std[c]`` (OSTrack / pytracking ``ToTensorAndJitter``
then ``Normalize``) depends only on the uint8 value ``x``, the crop's brightness factor ``b`` and
the channel, so it is a 256-entry float table per (crop, channel). ``cv2.LUT`` applies it to each
uint8 plane and writes float32 straight into the batch tensor: one pass over the pixels, no
intermediate float copies, and the HWC -> CHW layout change for free.
"""
from __future__ import annotations

import cv2
import numpy as np
import torch

from datasets.processing.config import IMAGENET_MEAN, IMAGENET_STD

_MEAN = np.asarray(IMAGENET_MEAN, dtype=np.float64)
_STD = np.asarray(IMAGENET_STD, dtype=np.float64)
_VALUES = np.arange(256, dtype=np.float64)


def normalization_tables(brightness: np.ndarray) -> np.ndarray:
    """(N, 3, 256) float32 tables ``(min(v * b / 255, 1) - mean[c]) / std[c]`` for N factors."""
    b = np.asarray(brightness, dtype=np.float64).reshape(-1, 1, 1)
    x = np.minimum(_VALUES[None, None, :] * b / 255.0, 1.0)                   # (N, 1, 256)
    return ((x - _MEAN[None, :, None]) / _STD[None, :, None]).astype(np.float32)


def normalize_crops(crops: list[np.ndarray], brightness: np.ndarray | None = None) -> torch.Tensor:
    """Stack crops into the network input.

    Args:
        crops: N crops of equal size, each (H, W, 3) uint8 RGB or (H, W) uint8 luma (used for
            all three channels).
        brightness: (N,) factors (None: 1).
    Returns:
        (N, 3, H, W) float32, contiguous.
    """
    n = len(crops)
    if n == 0:
        raise ValueError("no crops to normalize")
    h, w = crops[0].shape[:2]
    for i, c in enumerate(crops):
        if c.dtype != np.uint8 or c.shape[:2] != (h, w) or not (c.ndim == 2 or (c.ndim == 3 and c.shape[2] == 3)):
            raise ValueError(f"crop {i}: expected ({h}, {w}, 3) or ({h}, {w}) uint8, got {c.shape} {c.dtype}")
    tables = normalization_tables(np.ones(n) if brightness is None else brightness)
    out = torch.empty((n, 3, h, w), dtype=torch.float32)
    arr = out.numpy()
    for i, c in enumerate(crops):
        planes = (c, c, c) if c.ndim == 2 else cv2.split(np.ascontiguousarray(c))
        for k in range(3):
            cv2.LUT(planes[k], tables[i, k], dst=arr[i, k])
    return out
