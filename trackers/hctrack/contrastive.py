"""Contrastive head (Sec. 3.5; training only, never called by the online tracker).

For each crop (T, DT, S) the target box is pooled from that crop's token map at the contrastive
layer (``t_m, d_m``: Tz/p x Tz/p, ``s_m``: Sx/p x Sx/p) with ``torchvision.ops.roi_align``
(``r x r`` output, ``aligned=True`` because boxes are continuous pixel coordinates, spatial scale
1/patch), then one shared head::

    RoIAlign (r x r) -> Conv3x3 (C -> D) -> ReLU -> Conv1x1 (D -> D) -> BatchNorm (D)
      -> global average over the r x r grid -> L2 normalisation  ==> (D,)

The paper lists the layers but not how the r x r map becomes a vector; averaging the grid keeps
the head a pure conv head. All RoIs of a batch (T, DT and S of every sample) go through the head as
one batch, so BatchNorm sees all of them. The loss is `trackers.common.losses.multi_positive_info_nce`
with the source video as the label (Eq. 4).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torchvision.ops import roi_align

from trackers.common.box_ops import box_convert


class ContrastiveHead(nn.Module):
    """Shared-weight projection of RoI-pooled target features to unit vectors.

    Args:
        in_dim: token width C.
        out_dim: embedding size D (also the 3x3 conv width).
        roi_size: r, RoIAlign output side.
        patch_size: pixels per token (spatial scale = 1 / patch_size).
    """

    def __init__(self, in_dim: int, out_dim: int, roi_size: int, patch_size: int) -> None:
        super().__init__()
        self.roi_size, self.patch_size = roi_size, patch_size
        self.conv1 = nn.Conv2d(in_dim, out_dim, 3, padding=1)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(out_dim, out_dim, 1)
        self.bn = nn.BatchNorm2d(out_dim)

    def extra_repr(self) -> str:
        return f"roi_size={self.roi_size}, spatial_scale=1/{self.patch_size}"

    def pool(self, tokens: Tensor, boxes_xywh: Tensor) -> Tensor:
        """RoIAlign of one box per sample.

        Args:
            tokens: ``(B, g*g, C)`` row-major token map of a crop of side ``g * patch``.
            boxes_xywh: ``(B, 4)`` target boxes in that crop's pixels.
        Returns:
            ``(B, C, r, r)`` float32.
        """
        B, N, C = tokens.shape
        g = int(round(N ** 0.5))
        # float32 for the pooling: bf16 would round box corners of a 256 px crop by up to 1 px
        fmap = tokens.float().transpose(1, 2).reshape(B, C, g, g)          # NLC -> NCHW
        rois = torch.cat([
            torch.arange(B, device=tokens.device, dtype=torch.float32)[:, None],
            box_convert(boxes_xywh.float(), "xywh", "xyxy"),
        ], dim=1)                                                         # (B, 5): batch index, x1, y1, x2, y2
        return roi_align(fmap, rois, self.roi_size, spatial_scale=1.0 / self.patch_size,
                         sampling_ratio=2, aligned=True)

    def forward(self, token_maps: list[Tensor], boxes: list[Tensor]) -> Tensor:
        """Embeddings of the target in each crop.

        Args:
            token_maps: V tensors ``(B, g_v*g_v, C)`` (e.g. ``[t_m, d_m, s_m]``).
            boxes: V tensors ``(B, 4)`` xywh in the matching crop's pixels.
        Returns:
            ``(V, B, D)`` L2-normalised embeddings.
        """
        if len(token_maps) != len(boxes) or not token_maps:
            raise ValueError(f"need one box tensor per token map, got {len(token_maps)} maps and {len(boxes)} boxes")
        pooled = torch.cat([self.pool(t, b) for t, b in zip(token_maps, boxes)], dim=0)  # (V*B, C, r, r)
        x = self.bn(self.conv2(self.relu(self.conv1(pooled))))
        emb = F.normalize(x.mean(dim=(2, 3)), dim=1)                      # (V*B, D)
        return emb.reshape(len(token_maps), -1, emb.shape[1])
