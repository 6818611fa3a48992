"""ResNet feature extractor with torchvision's parameter names, early exit and frozen stages.

The stem and stages are torchvision's own (`torchvision.models.resnet18/50(weights=None)` for the
standard architectures, torchvision ``BasicBlock``/``Bottleneck`` stages for custom widths), so a
torchvision ImageNet state dict (``conv1.*``, ``bn1.*``, ``layer1.*`` ... ``layer4.*``) loads with
plain key matching. ``fc``/``avgpool`` are dropped: trackers use dense maps.

Strides: layer1 4, layer2 8, layer3 16, layer4 32.
"""
from __future__ import annotations

from typing import Iterable, Sequence

import torchvision
from torch import Tensor, nn
from torchvision.models.resnet import BasicBlock, Bottleneck, conv1x1

from trackers.common.fused_conv import conv_bn, run_block

LAYERS = ("conv1", "layer1", "layer2", "layer3", "layer4")
STRIDES = {"conv1": 4, "layer1": 4, "layer2": 8, "layer3": 16, "layer4": 32}
_BLOCKS = {"basic": BasicBlock, "bottleneck": Bottleneck}


def make_stage(block: str, in_channels: int, planes: int, num_blocks: int, stride: int) -> nn.Sequential:
    """A torchvision ResNet stage (``layerK``): `num_blocks` blocks, the first with `stride`.

    Output channels: ``planes * expansion`` (1 for "basic", 4 for "bottleneck").
    """
    if block not in _BLOCKS:
        raise ValueError(f"block={block!r} must be one of {sorted(_BLOCKS)}")
    if num_blocks < 1:
        raise ValueError(f"num_blocks={num_blocks} must be >= 1")
    cls = _BLOCKS[block]
    out = planes * cls.expansion
    down = None
    if stride != 1 or in_channels != out:
        down = nn.Sequential(conv1x1(in_channels, out, stride), nn.BatchNorm2d(out))
    layers = [cls(in_channels, planes, stride, down)]
    layers += [cls(out, planes) for _ in range(num_blocks - 1)]
    return nn.Sequential(*layers)


def stage_out_channels(block: str, planes: int) -> int:
    return planes * _BLOCKS[block].expansion


class ResNetBackbone(nn.Module):
    """ResNet trunk returning a dict of the requested stage outputs.

    At inference the convolutions may run with their BatchNorm folded in
    (`trackers.common.fused_conv`, attached by `trackers.common.inference.prepare_for_inference`).

    Args:
        block: "basic" or "bottleneck".
        layers: blocks per stage, e.g. (2, 2, 2, 2) for ResNet-18; its length (3 or 4) is the
            number of stages built (a 3-stage net has no ``layer4``). ResNet-18/50 prefixes with
            the standard widths are taken from `torchvision.models.resnet18/50(weights=None)`.
        widths: ``planes`` per stage (torchvision: 64, 128, 256, 512); the stem has ``widths[0]``.
        frozen: names from `LAYERS` (and "bn1") kept in eval mode with ``requires_grad=False``.
    """

    foldable_conv_bn = (("conv1", "bn1"),)   # the stem (the blocks' pairs are found by type)

    def __init__(self, block: str = "basic", layers: Sequence[int] = (2, 2, 2, 2),
                 widths: Sequence[int] = (64, 128, 256, 512), frozen: Iterable[str] = ()) -> None:
        super().__init__()
        if len(layers) not in (3, 4) or len(widths) != len(layers):
            raise ValueError(f"layers {tuple(layers)} and widths {tuple(widths)} must both have 3 or 4 entries")
        self.block = block
        standard = tuple(widths) == (64, 128, 256, 512)[: len(widths)]
        n = len(layers)
        if standard and block == "basic" and tuple(layers) == (2, 2, 2, 2)[:n]:
            ref = torchvision.models.resnet18(weights=None)
        elif standard and block == "bottleneck" and tuple(layers) == (3, 4, 6, 3)[:n]:
            ref = torchvision.models.resnet50(weights=None)
        else:
            ref = None
        if ref is not None:
            self.conv1, self.bn1, self.relu, self.maxpool = ref.conv1, ref.bn1, ref.relu, ref.maxpool
            for k in range(1, len(layers) + 1):
                setattr(self, f"layer{k}", getattr(ref, f"layer{k}"))
        else:
            self.conv1 = nn.Conv2d(3, widths[0], kernel_size=7, stride=2, padding=3, bias=False)
            self.bn1 = nn.BatchNorm2d(widths[0])
            self.relu = nn.ReLU(inplace=True)
            self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
            cin = widths[0]
            for k, (n, w) in enumerate(zip(layers, widths), start=1):
                setattr(self, f"layer{k}", make_stage(block, cin, w, n, 1 if k == 1 else 2))
                cin = stage_out_channels(block, w)
            for m in self.modules():  # torchvision's initialisation
                if isinstance(m, nn.Conv2d):
                    nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                elif isinstance(m, nn.BatchNorm2d):
                    nn.init.ones_(m.weight)
                    nn.init.zeros_(m.bias)
        self.num_stages = len(layers)
        self.out_channels = {"conv1": widths[0]}
        self.out_channels.update({f"layer{k}": stage_out_channels(block, w) for k, w in enumerate(widths, 1)})
        self.frozen = tuple(frozen)
        unknown = set(self.frozen) - set(LAYERS) - {"bn1"}
        if unknown:
            raise ValueError(f"unknown frozen layers {sorted(unknown)}; known: {LAYERS + ('bn1',)}")
        for name in self.frozen:
            for p in getattr(self, name).parameters():
                p.requires_grad_(False)

    def train(self, mode: bool = True) -> "ResNetBackbone":
        super().train(mode)
        for name in self.frozen:  # frozen stages keep their BN statistics
            getattr(self, name).eval()
        return self

    def forward(self, x: Tensor, output_layers: Sequence[str] = ("layer3",)) -> dict[str, Tensor]:
        """Run up to the deepest requested stage.

        Args:
            x: (N, 3, H, W) ImageNet-normalised images.
            output_layers: names from `LAYERS`.
        Returns:
            {name: (N, C_name, H / stride, W / stride)}.
        """
        wanted = set(output_layers)
        bad = wanted - set(LAYERS[: self.num_stages + 1])
        if bad:
            raise KeyError(f"unknown or unbuilt backbone layers {sorted(bad)}; available {LAYERS[: self.num_stages + 1]}")
        out: dict[str, Tensor] = {}
        x = self.maxpool(conv_bn(self.conv1, self.bn1, x, relu=True))
        if "conv1" in wanted:
            out["conv1"] = x
        for k in range(1, self.num_stages + 1):
            if len(out) == len(wanted):
                break
            for block in getattr(self, f"layer{k}"):
                x = run_block(block, x)
            if f"layer{k}" in wanted:
                out[f"layer{k}"] = x
        return out
