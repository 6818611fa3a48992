"""MAE / timm ViT checkpoints -> HCTrack backbone weights (a pure remap plus a strict load).

``remap_mae_vit`` maps (a table of prefixes, one-to-one per target key)::

    patch_embed.proj.{weight,bias}  -> backbone.patch_embed.proj.*
    pos_embed (1, 1 + 14*14, C)     -> backbone.pos_embed_z (1, gz*gz, C), backbone.pos_embed_x (1, gx*gx, C)
                                       (cls entry dropped, bicubic resize in float32, OSTrack finetune_track)
    blocks.N.*        (N < built)   -> backbone.blocks.N.*          (SSA, shared by template and search)
    blocks.{l-1}.*    (CSA layer l) -> backbone.csa_blocks.{l-k}.*  (CSA initialised from the same layer)
    norm.{weight,bias}              -> backbone.norm.*

Ignored: ``cls_token``, ``mask_token``, ``decoder_*``, ``fc_norm``, ``head``, blocks beyond the model
depth. A ``{"model": state_dict}`` wrapper (MAE's release format) is unwrapped. The prediction and
contrastive heads stay at their initialisation (the only keys allowed to be missing).
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Mapping

import torch
from torch import Tensor, nn

from trackers.common.checkpoint import CheckpointError, load_state_dict_strict, load_weights_only
from trackers.common.pos_embed import resample_abs_pos_embed
from trackers.hctrack.association import required_template_levels
from trackers.hctrack.config import HCTrackConfig

#: prefixes of the model that a ViT checkpoint does not provide
ALLOWED_MISSING = ("box_head.", "contrastive_head.")


def _unwrap(state_dict: Mapping[str, object]) -> Mapping[str, Tensor]:
    if "model" in state_dict and isinstance(state_dict["model"], Mapping):
        return state_dict["model"]  # type: ignore[return-value]
    return state_dict  # type: ignore[return-value]


def _n_template_blocks(cfg: HCTrackConfig) -> int:
    """How many SSA blocks the HFEI builds (blocks that no consumer needs are skipped)."""
    m = cfg.model
    return max(required_template_levels(m.association, m.depth, m.first_csa_layer, m.contrastive_layer, m.rip_layer))


def remap_mae_vit(state_dict: Mapping[str, object], cfg: HCTrackConfig) -> dict[str, Tensor]:
    """Pure function: MAE/timm ViT state dict -> HCTrack ``backbone.*`` state dict.

    Args:
        state_dict: ViT keys (``patch_embed.*``, ``pos_embed``, ``blocks.N.*``, ``norm.*``), possibly
            wrapped as ``{"model": ...}``.
        cfg: the HCTrack config (depth, CSA layers, template/search grids).
    Returns:
        new dict; tensors are shared with the input except the resampled position embeddings.
    Raises:
        CheckpointError: ``pos_embed`` missing or not a (1, [1 +] g*g, C) grid.
    """
    sd = _unwrap(state_dict)
    m = cfg.model
    out: dict[str, Tensor] = {}
    for k in ("patch_embed.proj.weight", "patch_embed.proj.bias", "norm.weight", "norm.bias"):
        if k in sd:
            out["backbone." + k] = sd[k]
    if "pos_embed" not in sd:
        raise CheckpointError("ViT checkpoint has no 'pos_embed' key")
    pe = sd["pos_embed"]
    n = pe.shape[1] if pe.dim() == 3 else -1
    prefix = 0 if math.isqrt(max(n, 0)) ** 2 == n else 1
    try:
        out["backbone.pos_embed_z"] = resample_abs_pos_embed(pe, (cfg.template_grid,) * 2, num_prefix_tokens=prefix)
        out["backbone.pos_embed_x"] = resample_abs_pos_embed(pe, (cfg.search_grid,) * 2, num_prefix_tokens=prefix)
    except ValueError as e:
        raise CheckpointError(f"key 'pos_embed' {tuple(pe.shape)}: {e}") from None
    n_blocks = _n_template_blocks(cfg)
    targets = {f"blocks.{j}.": [f"backbone.blocks.{j}."] for j in range(n_blocks)}
    for layer in range(m.first_csa_layer, m.depth + 1):
        targets.setdefault(f"blocks.{layer - 1}.", []).append(f"backbone.csa_blocks.{layer - m.first_csa_layer}.")
    for k, v in sd.items():
        if not k.startswith("blocks."):
            continue
        src = ".".join(k.split(".")[:2]) + "."
        for dst in targets.get(src, ()):
            out[dst + k[len(src):]] = v
    return out


def load_mae_vit(model: nn.Module, path: str | Path, cfg: HCTrackConfig) -> None:
    """Load a local MAE/timm ViT checkpoint into `model`'s backbone (weights-only, strict).

    Every model key except the heads (`ALLOWED_MISSING`) must come from the checkpoint; a shape
    mismatch raises `CheckpointError` naming the key and both shapes.
    """
    sd = load_weights_only(path)
    remapped = remap_mae_vit(sd, cfg)
    load_state_dict_strict(model, remapped, source=str(path), allow_missing=ALLOWED_MISSING)


def load_pretrained(model: nn.Module, spec: str, cfg: HCTrackConfig) -> None:
    """``spec`` = ``"mae_vit:PATH"`` or a bare ``PATH`` (MAE/timm ViT, the only source HCTrack uses)."""
    source, sep, path = spec.partition(":")
    if not sep or len(source) == 1:  # bare path (a Windows drive letter is not a source name)
        source, path = "mae_vit", spec
    if source != "mae_vit":
        raise KeyError(f"unknown pretrained source {source!r} in {spec!r}; known: 'mae_vit'")
    with torch.no_grad():
        load_mae_vit(model, path, cfg)
