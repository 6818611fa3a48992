"""CIA's category-aware module (paper Sec. 3.3): category classifier and category encoder.

* `CategoryClassifier`: a convolutional block with the architecture of ResNet's layer4 (stride 2,
  initialised from ImageNet layer4 when backbone weights are loaded) applied to the
  instance-aware layer3 features, PrRoI-pooled (1x1) inside the target box, and one fully
  connected layer over the C known categories. Its weight ``W`` (C x D) holds one row per
  category: the dictionary atoms ``w_1..w_C``.
* `CategoryEncoder`: N transformer layers whose queries are the instance-aware feature tokens
  (one per layer3 cell) and whose keys and values are the atoms, linearly projected to the
  feature width. Each layer is post-norm cross-attention + FFN (the released code's layer; no
  self-attention among feature tokens). The result is added to the input map (residual), so
  the output is ``x + Enc(x, W)``.

The atoms are passed in at call time (``classifier.atoms`` returns the live ``fc.weight``), never
cached: the released code stored a detached copy at construction, which `load_state_dict` never
updated (reference_trackers.md C.10.2). Gradients of the tracking loss flow into ``W`` through the
encoder, and the category loss trains it directly. With no known categories (Table 2, C = 0) the
atoms are a free parameter trained by the tracking loss only (`FreeDictionary`).
"""
from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from trackers.common.box_ops import box_convert
from trackers.common.packed_linear import linear
from trackers.common.prroi_pool import prroi_pool2d
from trackers.common.resnet import make_stage, stage_out_channels


class CategoryClassifier(nn.Module):
    """layer4-shaped block -> PrRoIPool 1x1 @ 1/32 on the target -> Linear(D -> C).

    Args:
        in_channels: layer3 channels (256 R18, 1024 R50).
        num_categories: C.
        block, num_blocks, width: the layer4-shaped stage ("basic", 2, 512 for R18;
            "bottleneck", 3, 512 for R50 -> D = 512 / 2048).
    """

    def __init__(self, in_channels: int, num_categories: int, block: str = "basic", num_blocks: int = 2,
                 width: int = 512) -> None:
        super().__init__()
        self.block = make_stage(block, in_channels, width, num_blocks, stride=2)
        self.out_dim = stage_out_channels(block, width)
        self.fc = nn.Linear(self.out_dim, num_categories)

    @property
    def atoms(self) -> Tensor:
        """The live classifier weight W: (C, D), one row per known category."""
        return self.fc.weight

    def forward(self, feat: Tensor, boxes_xywh: Tensor) -> Tensor:
        """feat (N, C3, H, W) at stride 16, boxes (N, 4) xywh crop pixels -> logits (N, C)."""
        x = self.block(feat)                                                     # (N, D, H/2, W/2)
        rois = box_convert(boxes_xywh[:, None], "xywh", "xyxy")
        pooled = prroi_pool2d(x, rois, 1, 1.0 / 32)[:, 0, :, 0, 0]                # (N, D)
        return self.fc(pooled)


class FreeDictionary(nn.Module):
    """Learned atoms (K, D) used when no category labels train the classifier (Table 2, C = 0)."""

    def __init__(self, num_atoms: int, dim: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.empty(num_atoms, dim))
        nn.init.uniform_(self.weight, -1.0 / math.sqrt(dim), 1.0 / math.sqrt(dim))  # as nn.Linear

    @property
    def atoms(self) -> Tensor:
        return self.weight


class CrossAttentionLayer(nn.Module):
    """Post-norm layer: ``t = LN(t + Drop(MHA(t, kv, kv)))``, ``t = LN(t + Drop(FFN(t)))``.

    ``FFN = Linear -> ReLU -> Dropout -> Linear`` (``ffn.0``, ``ffn.3``); at CPU inference its linears
    may run packed with the ReLU fused (`trackers.common.packed_linear`).
    """

    packable_linears = ("ffn.0", "ffn.3")

    def __init__(self, dim: int, heads: int, ffn_dim: int, dropout: float) -> None:
        super().__init__()
        self.attn = nn.MultiheadAttention(dim, heads, dropout=dropout, batch_first=True)
        self.norm1 = nn.LayerNorm(dim)
        self.ffn = nn.Sequential(nn.Linear(dim, ffn_dim), nn.ReLU(inplace=True), nn.Dropout(dropout),
                                 nn.Linear(ffn_dim, dim))
        self.norm2 = nn.LayerNorm(dim)
        self.drop1 = nn.Dropout(dropout)
        self.drop2 = nn.Dropout(dropout)

    def forward(self, tokens: Tensor, kv: Tensor) -> Tensor:
        """tokens (N, L, d), kv (N, K, d) -> (N, L, d)."""
        tokens = self.norm1(tokens + self.drop1(self.attn(tokens, kv, kv, need_weights=False)[0]))
        ffn = self.ffn
        hidden = ffn[2](linear(ffn[0], tokens, ffn[1]))                # Linear -> ReLU -> Dropout
        return self.norm2(tokens + self.drop2(linear(ffn[3], hidden)))


class CategoryEncoder(nn.Module):
    """Transformer dictionary encoder: ``x + Enc(x, atoms)`` (see module docstring).

    Args:
        dim: feature channels d (layer3 width).
        atom_dim: D, width of the atoms.
        num_layers: N (3). heads, ffn_dim, dropout: per layer (4, 2048, 0.1).
    """

    def __init__(self, dim: int, atom_dim: int, num_layers: int = 3, heads: int = 4, ffn_dim: int = 2048,
                 dropout: float = 0.1) -> None:
        super().__init__()
        if dim % heads:
            raise ValueError(f"feature width {dim} must be divisible by encoder_heads={heads}")
        self.key_proj = nn.Linear(atom_dim, dim)
        self.layers = nn.ModuleList(CrossAttentionLayer(dim, heads, ffn_dim, dropout) for _ in range(num_layers))

    def forward(self, x: Tensor, atoms: Tensor) -> Tensor:
        """x (N, d, H, W) instance-aware map, atoms (K, D) read at call time -> (N, d, H, W)."""
        n, d, h, w = x.shape
        kv = self.key_proj(atoms).unsqueeze(0).expand(n, -1, -1)                  # (N, K, d)
        t = x.flatten(2).transpose(1, 2)                                          # NCHW -> (N, HW, d)
        for layer in self.layers:
            t = layer(t, kv)
        return x + t.transpose(1, 2).reshape(n, d, h, w)
