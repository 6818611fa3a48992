"""uint8 crops -> ImageNet-normalized float32 NCHW tensors, in one pass of fused torch ops."""
from __future__ import annotations

import numpy as np
import torch

from datasets.processing.config import IMAGENET_MEAN, IMAGENET_STD

_MEAN = torch.tensor(IMAGENET_MEAN, dtype=torch.float32)
_STD = torch.tensor(IMAGENET_STD, dtype=torch.float32)


def normalize_crops(images: np.ndarray, brightness: np.ndarray | None = None) -> torch.Tensor:
    """Convert a stack of uint8 RGB crops to the network input.

    ``out = (clamp(x * b / 255, 0, 1) - mean) / std`` per channel, with ``b`` the per-crop
    brightness factor (OSTrack / pytracking ``ToTensorAndJitter`` then ``Normalize``).

    Args:
        images: (N, H, W, 3) uint8 RGB (any strides; copied once).
        brightness: (N,) factors, or None for 1.
    Returns:
        (N, 3, H, W) float32, contiguous.
    """
    x = np.asarray(images)
    if x.dtype != np.uint8 or x.ndim != 4 or x.shape[-1] != 3:
        raise ValueError(f"expected (N, H, W, 3) uint8 crops, got {x.shape} {x.dtype}")
    n = x.shape[0]
    t = torch.from_numpy(np.ascontiguousarray(x)).permute(0, 3, 1, 2).to(torch.float32, memory_format=torch.contiguous_format)
    if brightness is not None:
        b = torch.as_tensor(np.asarray(brightness, dtype=np.float32)).view(n, 1, 1, 1)
        t.mul_(b).clamp_(max=255.0)
    t.mul_((1.0 / (255.0 * _STD)).view(1, 3, 1, 1)).sub_((_MEAN / _STD).view(1, 3, 1, 1))
    return t
