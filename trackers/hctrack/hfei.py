"""Hybrid feature extraction and interaction (HFEI, Sec. 3.2, Fig. 2): the HCTrack backbone.

Data flow (1-based layers, ``L = depth``, ``k = first_csa_layer``; ViT-B paper values in brackets)::

    T, DT  --patch embed + pos_z (shared)--> [T ; DT] (B, 2*Nz, C)   [2 x 64 tokens]
           --SSA 1..L-->  levels t_j, d_j (j = 0..L); t_m, d_m = level `contrastive_layer` [6];
                          t_o, d_o = level L [9]
    S      --patch embed + pos_x--> (B, Nx, C)                        [256 tokens]
           --SSA 1..k-1 (same weights as the template's)--> s_{k-1}   [s_m = s_6]
           --CSA k..L (query s, keys/values [s ; template levels of the association mode])-->
           --RIP after the CSA of `rip_layer` [9]: keep mask--> LayerNorm --> zero-fill pruned
           --> (B, Nx, C) for the centre head

The template branch never sees the search tokens, so `forward_template` runs once per template
pair and returns a `TemplateFeatures` cache (each CSA block's template keys/values, RIP's centre
queries, the contrastive tap); `forward_search` only runs the search branch. Training calls both
(same code path), the online tracker caches the first. Template blocks that no consumer needs
(e.g. block L in the ``current`` ablation) are not built.

``pos_embed_z`` is shared by T and DT (no segment embedding). The final LayerNorm is the ViT's
``norm`` (loaded from MAE, as OSTrack).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from trackers.hctrack.association import required_template_levels, template_levels
from trackers.hctrack.blocks import CSABlock, SSABlock
from trackers.hctrack.config import HCTrackModelConfig
from trackers.hctrack.rip import RIP


@dataclass
class TemplateFeatures:
    """Everything the search branch needs from one ``(T, DT)`` pair.

    Attributes:
        kv: per CSA layer (in order), ``(k, v)`` each ``(B, H, Nt_l, d)``, Nt_l = 2 Nz x #levels.
        rip_query: ``(B, H, Nc, d)`` queries of the central template tokens, or None (no RIP).
        tap: ``(B, 2 Nz, C)`` template tokens after the contrastive layer (``[t_m ; d_m]``).
    """

    kv: list[tuple[Tensor, Tensor]]
    rip_query: Tensor | None
    tap: Tensor


@dataclass
class SearchFeatures:
    """Output of the search branch.

    Attributes:
        tokens: ``(B, Nx, C)`` normalised search tokens, pruned positions zero-filled.
        keep: ``(B, Nx)`` bool RIP keep mask, or None (no RIP).
        energy: ``(B, Nx)`` RIP energies, or None.
        tap: ``(B, Nx, C)`` search tokens after the contrastive layer (``s_m``).
    """

    tokens: Tensor
    keep: Tensor | None
    energy: Tensor | None
    tap: Tensor


class PatchEmbed(nn.Module):
    """Non-overlapping ``patch x patch`` convolution: ``(B, 3, H, W) -> (B, H/p * W/p, C)``."""

    def __init__(self, patch_size: int, embed_dim: int) -> None:
        super().__init__()
        self.patch_size = patch_size
        self.proj = nn.Conv2d(3, embed_dim, kernel_size=patch_size, stride=patch_size)

    def forward(self, x: Tensor) -> Tensor:
        return self.proj(x).flatten(2).transpose(1, 2)  # (B, C, h, w) -> (B, h*w, C)


class HFEI(nn.Module):
    """The HCTrack backbone.

    Args:
        cfg: model config (layer indices validated there).
        template_grid: template tokens per side (template_size / patch).
        search_grid: search tokens per side (search_size / patch).
        rip_centre: side of RIP's central template window.
    """

    def __init__(self, cfg: HCTrackModelConfig, template_grid: int, search_grid: int, rip_centre: int) -> None:
        super().__init__()
        C, L = cfg.embed_dim, cfg.depth
        self.cfg = cfg
        self.template_grid, self.search_grid = template_grid, search_grid
        self.csa_layers = tuple(range(cfg.first_csa_layer, L + 1))
        self.levels = {layer: template_levels(cfg.association, layer, L) for layer in self.csa_layers}
        self.needed_levels = required_template_levels(
            cfg.association, L, cfg.first_csa_layer, cfg.contrastive_layer, cfg.rip_layer
        )
        n_template_blocks = max(self.needed_levels)

        dpr = [cfg.drop_path_rate * j / max(L - 1, 1) for j in range(L)]  # linspace(0, rate, L)
        kw = dict(num_heads=cfg.num_heads, mlp_ratio=cfg.mlp_ratio, qkv_bias=cfg.qkv_bias)
        self.patch_embed = PatchEmbed(cfg.patch_size, C)
        self.pos_embed_z = nn.Parameter(torch.zeros(1, template_grid ** 2, C))
        self.pos_embed_x = nn.Parameter(torch.zeros(1, search_grid ** 2, C))
        self.blocks = nn.ModuleList(SSABlock(C, drop_path=dpr[j], **kw) for j in range(n_template_blocks))
        self.csa_blocks = nn.ModuleList(CSABlock(C, drop_path=dpr[layer - 1], **kw) for layer in self.csa_layers)
        self.norm = nn.LayerNorm(C, eps=1e-6)
        self.rip = RIP(cfg.rip_ratio, template_grid, rip_centre) if cfg.rip_layer is not None else None
        self._init_weights()

    def _init_weights(self) -> None:
        nn.init.trunc_normal_(self.pos_embed_z, std=0.02)
        nn.init.trunc_normal_(self.pos_embed_x, std=0.02)
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.trunc_normal_(m.weight, std=0.02)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)

    def _check(self, images: Tensor, grid: int, what: str) -> None:
        side = grid * self.cfg.patch_size
        if images.dim() != 4 or images.shape[1] != 3 or images.shape[-2:] != (side, side):
            raise ValueError(f"{what}: expected (B, 3, {side}, {side}) images, got {tuple(images.shape)}")

    def forward_template(self, template: Tensor, dynamic_template: Tensor) -> TemplateFeatures:
        """Template branch.

        Args:
            template, dynamic_template: ``(B, 3, Tz, Tz)`` ImageNet-normalised crops.
        Returns:
            `TemplateFeatures` (CSA keys/values per layer, RIP queries, contrastive tap).
        """
        self._check(template, self.template_grid, "template")
        self._check(dynamic_template, self.template_grid, "dynamic_template")
        B = template.shape[0]
        z = self.patch_embed(torch.cat([template, dynamic_template], dim=0)) + self.pos_embed_z  # (2B, Nz, C)
        z = torch.cat([z[:B], z[B:]], dim=1)                              # [T ; DT]: (B, 2*Nz, C)
        levels = {0: z} if 0 in self.needed_levels else {}
        for j, blk in enumerate(self.blocks, start=1):
            z = blk(z)
            if j in self.needed_levels:
                levels[j] = z
        kv = [
            blk.template_kv(torch.cat([levels[lv] for lv in self.levels[layer]], dim=1))
            for layer, blk in zip(self.csa_layers, self.csa_blocks)
        ]
        rip_query = None
        if self.rip is not None:
            rip_blk = self.csa_blocks[self.cfg.rip_layer - self.cfg.first_csa_layer]
            rip_query = rip_blk.template_q(self.rip.centre_tokens(levels[self.cfg.rip_layer - 1]))
        return TemplateFeatures(kv=kv, rip_query=rip_query, tap=levels[self.cfg.contrastive_layer])

    def forward_search(self, search: Tensor, tf: TemplateFeatures) -> SearchFeatures:
        """Search branch.

        Args:
            search: ``(B, 3, Sx, Sx)`` ImageNet-normalised crop.
            tf: from `forward_template` for the same batch size B.
        Returns:
            `SearchFeatures`.
        """
        cfg = self.cfg
        self._check(search, self.search_grid, "search")
        s = self.patch_embed(search) + self.pos_embed_x                   # (B, Nx, C)
        B, Nx, _ = s.shape
        tap = None
        for j, blk in enumerate(self.blocks[: cfg.first_csa_layer - 1], start=1):
            s = blk(s)
            if j == cfg.contrastive_layer:
                tap = s
        keep = energy = None
        for i, (layer, blk) in enumerate(zip(self.csa_layers, self.csa_blocks)):
            key_mask = None
            if keep is not None:  # pruned search tokens are no longer keys; template keys always are
                nt = tf.kv[i][0].shape[2]
                key_mask = torch.cat([keep, keep.new_ones(B, nt)], dim=1)  # (B, Nx + Nt)
            s, k_s, _ = blk(s, tf.kv[i], key_mask)
            if layer == cfg.rip_layer:
                keep, energy = self.rip(tf.rip_query, k_s)
            if layer == cfg.contrastive_layer:
                tap = s if keep is None else s * keep[..., None]
        s = self.norm(s)
        if keep is not None:
            s = s * keep[..., None]                                       # zero-fill pruned positions
        return SearchFeatures(tokens=s, keep=keep, energy=energy, tap=tap)
