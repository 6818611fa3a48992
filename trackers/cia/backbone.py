"""The CIA backbone: torchvision ResNet layer1..layer3 (the category classifier owns a layer4-shaped
block). ResNet-18 for cia18, ResNet-50 (conv1..layer2 frozen) for cia50, a narrow 1-block ResNet
for cia-tiny."""
from __future__ import annotations

from trackers.cia.config import CIAModelConfig
from trackers.common.resnet import ResNetBackbone


def build_backbone(cfg: CIAModelConfig) -> ResNetBackbone:
    """layer2 (stride 8) and layer3 (stride 16) feature extractor of `cfg`."""
    return ResNetBackbone(block=cfg.backbone_block, layers=cfg.backbone_layers,
                          widths=cfg.backbone_widths, frozen=cfg.frozen_backbone_layers)
