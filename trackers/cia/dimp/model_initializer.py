"""DiMP's model initializer: a conv over the training features, PrRoI-pooled to the filter size
inside each target box, averaged over the training frames (``FilterInitializerLinear``)."""
from __future__ import annotations

import math

from torch import Tensor, nn

from trackers.common.box_ops import box_convert
from trackers.common.prroi_pool import prroi_pool2d


class ModelInitializer(nn.Module):
    """Initial filter from the training frames.

    Args:
        feat_dim: classification feature channels C.
        filter_size: filter side (cells).
        feature_stride: crop pixels per feature cell (16).
    """

    def __init__(self, feat_dim: int, filter_size: int = 4, feature_stride: int = 16) -> None:
        super().__init__()
        self.filter_size = filter_size
        self.feature_stride = feature_stride
        self.filter_conv = nn.Conv2d(feat_dim, feat_dim, kernel_size=3, padding=1)
        n = 3 * 3 * feat_dim
        nn.init.normal_(self.filter_conv.weight, 0.0, math.sqrt(2.0 / n))
        nn.init.zeros_(self.filter_conv.bias)

    def forward(self, feat: Tensor, boxes_xywh: Tensor) -> Tensor:
        """feat (N, B, C, H, W), boxes (N, B, 4) xywh crop pixels -> filter (B, C, fs, fs)."""
        n, b, c, h, w = feat.shape
        x = self.filter_conv(feat.reshape(n * b, c, h, w))                         # (N*B, C, H, W)
        rois = box_convert(boxes_xywh.reshape(n * b, 1, 4), "xywh", "xyxy")
        pooled = prroi_pool2d(x, rois, self.filter_size, 1.0 / self.feature_stride)  # (N*B, 1, C, fs, fs)
        return pooled.reshape(n, b, c, self.filter_size, self.filter_size).mean(dim=0)

    def extra_repr(self) -> str:
        return f"filter_size={self.filter_size}, feature_stride={self.feature_stride}"
