"""DiMP's classification feature block: residual block(s), a 3x3 conv and instance L2 normalisation.

ResNet-18 (``residual_basic_block``): BasicBlock(256) -> Conv3x3(256 -> 256, no bias) -> InstanceL2Norm.
ResNet-50 (``residual_bottleneck`` with 0 blocks): Conv3x3(1024 -> 512, no bias) -> InstanceL2Norm.
The norm scale ``sqrt(1 / (C_out * fh * fw))`` makes the filter response scale-free in the map size.
"""
from __future__ import annotations

import math

import torch
from torch import Tensor, nn
from torchvision.models.resnet import BasicBlock

from trackers.common.fused_conv import run_block


def instance_l2_norm(x: Tensor, scale: float, eps: float = 1e-5) -> Tensor:
    """``x * scale * sqrt(C H W / (sum x^2 + eps))`` per sample: x (N, C, H, W) -> same shape."""
    c, h, w = x.shape[-3:]
    ss = (x * x).sum(dim=(-3, -2, -1), keepdim=True)
    return x * (scale * torch.sqrt(c * h * w / (ss + eps)))


class InstanceL2Norm(nn.Module):
    def __init__(self, scale: float, eps: float = 1e-5) -> None:
        super().__init__()
        self.scale, self.eps = float(scale), float(eps)

    def forward(self, x: Tensor) -> Tensor:
        return instance_l2_norm(x, self.scale, self.eps)

    def extra_repr(self) -> str:
        return f"scale={self.scale:.6g}, eps={self.eps:g}"


class ClassificationFeatures(nn.Sequential):
    """(N, C_in, H, W) layer3-level features -> (N, C_out, H, W) classification features.

    Args:
        in_dim: input channels (256 R18, 1024 R50).
        out_dim: output channels (256 R18, 512 R50).
        num_blocks: BasicBlocks (in_dim -> in_dim) before the final conv.
        filter_size: DiMP filter side (sets the norm scale).
    """

    def __init__(self, in_dim: int, out_dim: int, num_blocks: int = 1, filter_size: int = 4) -> None:
        layers: list[nn.Module] = [BasicBlock(in_dim, in_dim) for _ in range(num_blocks)]
        layers.append(nn.Conv2d(in_dim, out_dim, kernel_size=3, padding=1, bias=False))
        layers.append(InstanceL2Norm(scale=math.sqrt(1.0 / (out_dim * filter_size * filter_size))))
        super().__init__(*layers)
        for m in self.modules():  # DiMP's initialisation
            if isinstance(m, nn.Conv2d):
                n = m.kernel_size[0] * m.kernel_size[1] * m.out_channels
                nn.init.normal_(m.weight, 0.0, math.sqrt(2.0 / n))
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def forward(self, x: Tensor) -> Tensor:
        for m in self:
            x = run_block(m, x)   # residual blocks with folded convolutions at inference, else m(x)
        return x
