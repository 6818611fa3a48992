"""A compute proxy of OSTrack-256 (without candidate elimination), for a same-machine frame-rate baseline.

OSTrack-256 (Ye et al., ECCV 2022): ViT-B/16, 12 layers, 768 wide, 12 heads; the 64 template tokens
(128 px) and 256 search tokens (256 px) attend jointly in every layer; the centre head (the same
three conv towers as HCTrack's) reads the 256 search tokens. With random weights and without
candidate elimination this is the same sequence of matmuls, attention and convolutions as the
official model (61.8 GFLOP per frame counted here, as for the official code), built from
HCTrack's own `SSABlock` and `CenterHead`. Per frame only the search image is embedded (the
template tokens are cached, as OSTrack's tracker does); every layer still processes all 320 tokens.

Used by ``benchmarks/speed.py --ostrack-proxy``. Candidate elimination (45.3 GFLOP, 1.50 x its
floor in the reference measurement vs 1.29 x for 61.8 GFLOP without) is not modelled; the
reference ratios convert one to the other: FPS(with CE) ~= FPS(without) x (61.8 x 1.29) / (45.3 x 1.50).
"""
from __future__ import annotations

import torch
from torch import Tensor, nn

from trackers.hctrack.blocks import SSABlock
from trackers.hctrack.head import CenterHead, decode_boxes

#: FLOPs and compute-floor ratios of the official OSTrack-256 code in the reference measurement
REFERENCE = {"gflop_ce": 45.3, "ratio_ce": 1.50, "gflop_no_ce": 61.8, "ratio_no_ce": 1.29, "ratio_track_ce": 1.52}


class OSTrackProxy(nn.Module):
    """ViT-B one-stream tracker forward: ``search (1, 3, 256, 256)`` + cached template tokens -> boxes."""

    def __init__(self, dim: int = 768, depth: int = 12, heads: int = 12, patch: int = 16,
                 template: int = 128, search: int = 256) -> None:
        super().__init__()
        self.nz = (template // patch) ** 2
        self.feat = search // patch
        self.patch_embed = nn.Conv2d(3, dim, patch, patch)
        self.pos_x = nn.Parameter(torch.randn(1, self.feat ** 2, dim) * 0.02)
        self.blocks = nn.ModuleList(SSABlock(dim, heads) for _ in range(depth))
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.head = CenterHead(dim, 256, self.feat)
        self.register_buffer("z_tokens", torch.randn(1, self.nz, dim) * 0.02)  # cached template embedding

    def forward(self, search: Tensor) -> Tensor:
        x = self.patch_embed(search).flatten(2).transpose(1, 2) + self.pos_x          # (1, 256, C)
        t = torch.cat([self.z_tokens.expand(x.shape[0], -1, -1), x], dim=1)           # (1, 320, C)
        for blk in self.blocks:
            t = blk(t)
        score, offset, size = self.head(self.norm(t[:, self.nz:]))
        return decode_boxes(score, offset, size)[0]
