"""HCTrack family API (see `trackers.base`): build_model, build_actor, param_groups, build_tracker."""
from __future__ import annotations

import torch
from torch import nn

from trackers.hctrack.actor import HCTrackActor
from trackers.hctrack.config import HCTrackConfig
from trackers.hctrack.model import HCTrackModel
from trackers.hctrack.pretrained import load_pretrained
from trackers.hctrack.tracker import HCTrackTracker


#: state-dict prefixes of training-only modules, left out of release weights
TRAINING_ONLY_PREFIXES = ("contrastive_head.",)


def build_model(cfg: HCTrackConfig) -> HCTrackModel:
    """The training graph (contrastive head included when ``loss.contrastive_weight > 0``).

    If ``cfg.model.pretrained`` is set (``"mae_vit:PATH"`` or ``PATH``), the backbone is loaded
    from that local MAE/timm ViT checkpoint.
    """
    model = HCTrackModel(cfg, with_contrastive_head=cfg.loss.contrastive_weight > 0)
    if cfg.model.pretrained:
        load_pretrained(model, cfg.model.pretrained, cfg)
    return model


def build_actor(cfg: HCTrackConfig) -> HCTrackActor:
    """Eq. 5 objective; ``actor.after_step`` is a no-op."""
    return HCTrackActor(cfg)


def param_groups(model: nn.Module, cfg: HCTrackConfig) -> list[dict]:
    """Two AdamW groups: ``backbone.*`` at ``lr * backbone_lr_mult``, everything else at ``lr``.

    ``lr`` is ``cfg.train.lr`` (given for ``reference_batch``; the trainer scales it). Each group
    carries ``name`` and ``lr_mult`` for logging/scaling. Frozen parameters are left out.
    """
    model = getattr(model, "module", model)
    t = cfg.train
    backbone, rest = [], []
    for name, p in model.named_parameters():
        if p.requires_grad:
            (backbone if name.startswith("backbone.") else rest).append(p)
    return [
        {"name": "backbone", "params": backbone, "lr": t.lr * t.backbone_lr_mult,
         "lr_mult": t.backbone_lr_mult, "weight_decay": t.weight_decay},
        {"name": "heads", "params": rest, "lr": t.lr, "lr_mult": 1.0, "weight_decay": t.weight_decay},
    ]


def build_tracker(cfg: HCTrackConfig, model: nn.Module, device: str | torch.device = "cpu") -> HCTrackTracker:
    """Online tracker around a (trained) model; the contrastive head is never called.

    The model is moved to `device` and switched to eval mode in place (call ``model.train()``
    again to continue training after an evaluation); on CPU its conv weights are stored
    channels-last (`trackers.common.inference.prepare_for_inference`).
    """
    return HCTrackTracker(cfg, getattr(model, "module", model), device)
