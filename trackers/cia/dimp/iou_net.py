"""ATOM's IoU-Net (Danelljan et al., CVPR 2019) as used by DiMP: predicts the IoU of proposal boxes
with the target, conditioned on a reference frame.

Reference branch (first training frame): layer2 -> conv -> PrRoIPool 3x3 @1/8 -> 3x3 conv (pad 0,
-> 1x1); layer3 -> conv -> PrRoIPool 1x1 @1/16; concatenated and projected by two 1x1 conv
blocks to one channel-modulation vector per level. Test branch: two conv blocks per level,
multiplied channel-wise by the modulation, PrRoIPool 5x5 @1/8 and 3x3 @1/16 per proposal, a
linear block per level, and a final linear layer -> one value per proposal.

Every "conv" is Conv(bias) + BatchNorm + ReLU; boxes are xywh in crop pixels.
"""
from __future__ import annotations

import torch
from torch import Tensor, nn

from trackers.common.box_ops import box_convert
from trackers.common.fused_conv import ConvBNReLU
from trackers.common.prroi_pool import prroi_pool2d


def conv_bn_relu(cin: int, cout: int, kernel_size: int = 3, padding: int = 1) -> ConvBNReLU:
    """Conv(bias) + BatchNorm + ReLU (``Sequential`` names 0, 1, 2; folded at inference)."""
    return ConvBNReLU(nn.Conv2d(cin, cout, kernel_size, padding=padding, bias=True), nn.BatchNorm2d(cout))


class LinearBlock(nn.Module):
    """Flatten (N, C, k, k) -> Linear(C k k -> out) -> BatchNorm -> ReLU: (N, out)."""

    def __init__(self, in_dim: int, out_dim: int, input_size: int) -> None:
        super().__init__()
        self.linear = nn.Linear(in_dim * input_size * input_size, out_dim)
        self.bn = nn.BatchNorm1d(out_dim)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: Tensor) -> Tensor:
        return self.relu(self.bn(self.linear(x.flatten(1))))


class IoUNet(nn.Module):
    """IoU prediction network.

    Args:
        input_dims: channels of (layer2, layer3): (128, 256) R18, (512, 1024) R50.
        pred_input_dims: channels of the modulated test features (256, 256).
        pred_inter_dims: linear-block widths (256, 256).
        ref_dims: reference conv widths (128, 256) (ATOM's fixed numbers).
        test_dim: first test conv width (256).
    """

    output_kind = "iou"   # the output is 2 IoU - 1 (KLIoUNet: a log-density score)

    def __init__(self, input_dims: tuple[int, int] = (128, 256), pred_input_dims: tuple[int, int] = (256, 256),
                 pred_inter_dims: tuple[int, int] = (256, 256), ref_dims: tuple[int, int] = (128, 256),
                 test_dim: int = 256) -> None:
        super().__init__()
        r2, r3 = ref_dims
        self.ref_conv_l2 = conv_bn_relu(input_dims[0], r2)
        self.ref_fc_l2 = conv_bn_relu(r2, r3, kernel_size=3, padding=0)
        self.ref_conv_l3 = conv_bn_relu(input_dims[1], r3)
        self.mod_l2 = conv_bn_relu(2 * r3, pred_input_dims[0], kernel_size=1, padding=0)
        self.mod_l3 = conv_bn_relu(2 * r3, pred_input_dims[1], kernel_size=1, padding=0)
        self.test_conv1_l2 = conv_bn_relu(input_dims[0], test_dim)
        self.test_conv2_l2 = conv_bn_relu(test_dim, pred_input_dims[0])
        self.test_conv1_l3 = conv_bn_relu(input_dims[1], test_dim)
        self.test_conv2_l3 = conv_bn_relu(test_dim, pred_input_dims[1])
        self.fc_l2 = LinearBlock(pred_input_dims[0], pred_inter_dims[0], 5)
        self.fc_l3 = LinearBlock(pred_input_dims[1], pred_inter_dims[1], 3)
        self.iou_predictor = nn.Linear(pred_inter_dims[0] + pred_inter_dims[1], 1)
        for m in self.modules():  # ATOM's initialisation
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.kaiming_normal_(m.weight, mode="fan_in")
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, (nn.BatchNorm2d, nn.BatchNorm1d)):
                nn.init.uniform_(m.weight)
                nn.init.zeros_(m.bias)

    def get_modulation(self, feat2: Tensor, feat3: Tensor, boxes_xywh: Tensor) -> tuple[Tensor, Tensor]:
        """Reference frame -> modulation vectors.

        Args:
            feat2: (B, C2, H/8, W/8) layer2; feat3: (B, C3, H/16, W/16) layer3;
            boxes_xywh: (B, 4) target boxes in crop pixels.
        Returns:
            two (B, pred_input_dims[k], 1, 1) tensors.
        """
        rois = box_convert(boxes_xywh[:, None], "xywh", "xyxy")                       # (B, 1, 4)
        c2 = self.ref_conv_l2(feat2)
        roi2 = prroi_pool2d(c2, rois, 3, 1.0 / 8)[:, 0]                                # (B, r2, 3, 3)
        c3 = self.ref_conv_l3(feat3)
        roi3 = prroi_pool2d(c3, rois, 1, 1.0 / 16)[:, 0]                               # (B, r3, 1, 1)
        fc = torch.cat([self.ref_fc_l2(roi2), roi3], dim=1)                            # (B, 2 r3, 1, 1)
        return self.mod_l2(fc), self.mod_l3(fc)

    def get_iou_feat(self, feat2: Tensor, feat3: Tensor) -> tuple[Tensor, Tensor]:
        """Test-frame features (N, C2, ., .), (N, C3, ., .) -> (N, pred0, ., .), (N, pred1, ., .)."""
        return (self.test_conv2_l2(self.test_conv1_l2(feat2)),
                self.test_conv2_l3(self.test_conv1_l3(feat3)))

    def modulate(self, modulation: tuple[Tensor, Tensor], iou_feat: tuple[Tensor, Tensor]) -> tuple[Tensor, Tensor]:
        """Test features times the reference modulation, per level: (N, pred_k, ., .), contiguous NCHW
        (the layout PrRoIPool reads in place). At tracking time the box ascent modulates only the pooled
        windows instead (`trackers.cia.dimp.iou_scorer.IoUBoxScorer`, same values)."""
        return ((iou_feat[0] * modulation[0]).contiguous(), (iou_feat[1] * modulation[1]).contiguous())

    def predict_iou_modulated(self, feat: tuple[Tensor, Tensor], proposals_xywh: Tensor) -> Tensor:
        """`predict_iou` from `modulate`'s output: feat (N, pred_k, ., .) x 2, proposals (N, P, 4) -> (N, P)."""
        n, p = proposals_xywh.shape[:2]
        rois = box_convert(proposals_xywh, "xywh", "xyxy")
        roi2 = prroi_pool2d(feat[0], rois, 5, 1.0 / 8).flatten(0, 1)                   # (N*P, pred0, 5, 5)
        roi3 = prroi_pool2d(feat[1], rois, 3, 1.0 / 16).flatten(0, 1)                  # (N*P, pred1, 3, 3)
        fc = torch.cat([self.fc_l2(roi2), self.fc_l3(roi3)], dim=1)
        return self.iou_predictor(fc).reshape(n, p)

    def predict_iou(self, modulation: tuple[Tensor, Tensor], iou_feat: tuple[Tensor, Tensor],
                    proposals_xywh: Tensor) -> Tensor:
        """Score P proposals per test image.

        Args:
            modulation: two (N, pred_k, 1, 1) vectors (the reference repeated per test image).
            iou_feat: output of `get_iou_feat` for the N test images.
            proposals_xywh: (N, P, 4) crop pixels.
        Returns:
            (N, P) predictions.
        """
        return self.predict_iou_modulated(self.modulate(modulation, iou_feat), proposals_xywh)

    def forward(self, train_feat: tuple[Tensor, Tensor], test_feat: tuple[Tensor, Tensor],
                train_boxes: Tensor, test_proposals: Tensor) -> Tensor:
        """Training pass: the modulation comes from the first training frame only.

        Args:
            train_feat: layer2 (Ntr, B, C2, ., .) and layer3 (Ntr, B, C3, ., .).
            test_feat: the same for Nte test frames.
            train_boxes: (Ntr, B, 4) xywh crop pixels.
            test_proposals: (Nte, B, P, 4) xywh crop pixels.
        Returns:
            (Nte, B, P).
        """
        nte, b, p = test_proposals.shape[:3]
        mod = self.get_modulation(train_feat[0][0], train_feat[1][0], train_boxes[0])
        mod = tuple(m.unsqueeze(0).expand(nte, *m.shape).reshape(nte * b, *m.shape[1:]) for m in mod)
        feat = self.get_iou_feat(test_feat[0].flatten(0, 1), test_feat[1].flatten(0, 1))
        return self.predict_iou(mod, feat, test_proposals.reshape(nte * b, p, 4)).reshape(nte, b, p)
