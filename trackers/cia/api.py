"""CIA family API (see `trackers.base`): build_model, build_actor, param_groups, build_tracker."""
from __future__ import annotations

from torch import nn

from trackers.cia.actor import CIAActor, unwrap
from trackers.cia.config import CIAConfig
from trackers.cia.dimp.label_predictors import initial_label_sigma
from trackers.cia.model import CIANet


#: state-dict prefixes of training-only modules (the momentum key encoder of Eq. 2), left out of
#: release weights. The category classifier stays: its weights are the category encoder's atoms.
TRAINING_ONLY_PREFIXES = ("momentum_encoder.",)


def build_model(cfg: CIAConfig) -> CIANet:
    """The training graph of `cfg` (all enabled heads). Loads ``cfg.model.backbone_weights``
    (torchvision ImageNet state dict, weights-only) when set."""
    sigma = initial_label_sigma(cfg.data.output_sigma_factor, cfg.data.search_factor, cfg.data.feat_size)
    model = CIANet(cfg.model, init_gauss_sigma=sigma)
    if cfg.model.backbone_weights:
        from trackers.cia.pretrained import load_imagenet_backbone

        load_imagenet_backbone(model, cfg.model.backbone_weights)
    return model


def build_actor(cfg: CIAConfig) -> CIAActor:
    return CIAActor(cfg)


#: module prefix -> learning-rate field of `ModuleLRs`, first match wins
_GROUPS = (
    ("backbone.", "backbone"),
    ("target_classifier.features.", "classifier_features"),
    ("target_classifier.initializer.", "model_initializer"),
    ("target_classifier.optimizer.", "model_optimizer"),
    ("box_head.", "iou_net"),
    ("mlp_q.", "instance"),
    ("angle_modulation.", "instance"),
    ("category_classifier.", "category"),
    ("dictionary.", "category"),
    ("category_encoder.", "category"),
)


def param_groups(model: nn.Module, cfg: CIAConfig) -> list[dict]:
    """Adam parameter groups with the per-module learning rates of ``cfg.model.lrs``.

    Each group is ``{"name", "params", "lr"}`` (lr at ``cfg.train.reference_batch``; a trainer
    that rescales for the batch multiplies every group alike). Frozen parameters and the momentum
    encoder are left out. Raises KeyError for a trainable parameter no group claims.
    """
    lrs = cfg.model.lrs
    groups: dict[str, list] = {}
    for name, p in unwrap(model).named_parameters():
        if not p.requires_grad or name.startswith("momentum_encoder."):
            continue
        for prefix, key in _GROUPS:
            if name.startswith(prefix):
                groups.setdefault(key, []).append(p)
                break
        else:
            raise KeyError(f"parameter {name!r} has no learning-rate group in trackers.cia.api._GROUPS")
    return [{"name": k, "params": v, "lr": getattr(lrs, k)} for k, v in groups.items()]


def build_tracker(cfg: CIAConfig, model: nn.Module, device: str = "cpu"):
    """The online DiMP tracker around `model` (contrastive and category-classification heads unused)."""
    from trackers.cia.tracker import CIATracker

    return CIATracker(unwrap(model), cfg.tracker, name=cfg.name, device=device)
