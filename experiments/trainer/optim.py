"""Optimizer and learning-rate schedule from a preset's `trackers.base.TrainConfig`.

* Parameter groups come from the family's ``param_groups(model, cfg)``: dicts with ``params``
  and optionally ``lr`` (absolute, at ``reference_batch``), ``lr_mult`` (times ``train.lr``),
  ``weight_decay`` and ``name``. Without a family function: one group at ``train.lr``, with
  ``backbone*`` parameters at ``train.lr * train.backbone_lr_mult`` (OSTrack's two groups).
  Frozen parameters (``requires_grad=False``) are dropped.
* Linear scaling: every group's lr is multiplied by ``effective_batch / reference_batch`` with
  ``effective_batch = batch_size x world_size`` (users asked for this, user_needs §6).
* AdamW / Adam; on CPU the fused implementation (5x faster on this class of machine with
  flush-denormal, cpu_training_notes.md) when torch offers it, else the default one.
* StepLR(step_size = ``lr_step_epochs``, gamma = ``lr_gamma``), stepped once per epoch.
"""
from __future__ import annotations

import logging
from typing import Any, Callable

import torch
from torch import nn

log = logging.getLogger(__name__)


def default_param_groups(model: nn.Module, cfg: Any) -> list[dict]:
    """OSTrack-style: non-backbone at ``train.lr``, ``backbone*`` at ``lr * backbone_lr_mult``."""
    backbone, rest = [], []
    for name, p in model.named_parameters():
        (backbone if name.startswith("backbone") else rest).append(p)
    groups = [{"name": "main", "params": rest, "lr_mult": 1.0}]
    if backbone:
        groups.append({"name": "backbone", "params": backbone, "lr_mult": cfg.train.backbone_lr_mult})
    return groups


def lr_scale(cfg: Any, world_size: int) -> float:
    """``batch_size * world_size / reference_batch``."""
    return cfg.train.batch_size * world_size / cfg.train.reference_batch


def build_param_groups(model: nn.Module, cfg: Any, world_size: int,
                       family_groups: Callable[[nn.Module, Any], list[dict]] | None = None) -> list[dict]:
    """Groups with absolute, batch-scaled ``lr``, trainable parameters only, each named.

    Raises:
        ValueError: a trainable parameter is in no group or in two groups.
    """
    raw = family_groups(model, cfg) if family_groups is not None else default_param_groups(model, cfg)
    scale = lr_scale(cfg, world_size)
    seen: dict[int, str] = {}
    groups = []
    for i, g in enumerate(raw):
        name = str(g.get("name", f"group{i}"))
        params = [p for p in g["params"] if p.requires_grad]
        for p in params:
            if id(p) in seen:
                raise ValueError(f"parameter group {name!r}: a parameter is also in group {seen[id(p)]!r}")
            seen[id(p)] = name
        if not params:
            continue
        base = float(g["lr"]) if "lr" in g else cfg.train.lr * float(g.get("lr_mult", 1.0))
        out = {"params": params, "lr": base * scale, "name": name}
        if "weight_decay" in g:
            out["weight_decay"] = float(g["weight_decay"])
        groups.append(out)
    names = {id(p): n for n, p in model.named_parameters()}
    orphans = [names[id(p)] for p in model.parameters() if p.requires_grad and id(p) not in seen]
    if orphans:
        raise ValueError(f"trainable parameters in no optimizer group: {orphans[:10]}")
    return groups


def build_optimizer(groups: list[dict], cfg: Any, device: str) -> torch.optim.Optimizer:
    """AdamW or Adam (``cfg.train.optimizer``) with ``cfg.train.weight_decay``; fused on CPU."""
    cls = torch.optim.AdamW if cfg.train.optimizer == "adamw" else torch.optim.Adam
    kwargs = {"lr": groups[0]["lr"], "weight_decay": cfg.train.weight_decay}
    if device == "cpu" or device.startswith("cuda"):
        try:
            return cls(groups, fused=True, **kwargs)
        except (RuntimeError, TypeError) as e:  # fused kernel missing for this build/device
            log.info("fused %s unavailable (%s); using the default implementation", cls.__name__, e)
    return cls(groups, **kwargs)


def build_scheduler(optimizer: torch.optim.Optimizer, cfg: Any) -> torch.optim.lr_scheduler.StepLR:
    return torch.optim.lr_scheduler.StepLR(optimizer, step_size=cfg.train.lr_step_epochs, gamma=cfg.train.lr_gamma)
