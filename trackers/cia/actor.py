"""CIA's training objective (paper Eq. 6 with DiMP's internal weights and the release's CIA weights)::

    L = w_clf_final * L_hinge(final) + w_clf_init * L_hinge(initial) + w_clf_iter * mean L_hinge(intermediate)
      + w_iou * L_iou   (or w_kl * L_kl for cia50)
      + w_con * L_InfoNCE-V      (when CL is on)
      + w_cat * L_category       (when CC is on; unlabelled samples ignored)

`CIAActor.after_step` runs the momentum update of Eq. 2 after the optimizer step (outside
``forward``, so it is applied once per step to the real parameters, also under
DistributedDataParallel where ``model.module`` holds them).
"""
from __future__ import annotations

import torch
from torch import Tensor, nn

from trackers.cia.config import CIAConfig
from trackers.cia.dimp.losses import classification_loss, iou_regression_loss, kl_regression_loss
from trackers.cia.losses import category_loss, infonce_v

REQUIRED_KEYS = ("train_images", "test_images", "train_boxes", "test_boxes", "test_label", "test_proposals",
                 "video_id")


def unwrap(model: nn.Module) -> nn.Module:
    """The module inside DistributedDataParallel / DataParallel wrappers (or the model itself)."""
    while isinstance(model, (nn.parallel.DistributedDataParallel, nn.DataParallel)):
        model = model.module
    return model


class CIAActor:
    """``actor(model, batch) -> (loss, stats)``; stats are floats under namespaced keys."""

    def __init__(self, cfg: CIAConfig) -> None:
        self.cfg = cfg
        self.w = cfg.model.loss_weights

    def _check(self, batch: dict) -> None:
        keys = list(REQUIRED_KEYS)
        if self.cfg.model.box_regression == "iou":
            keys.append("proposal_iou")
        else:
            keys += ["proposal_density", "gt_density"]
        if self.cfg.model.use_category_classification:
            keys.append("category")
        missing = [k for k in keys if k not in batch]
        if missing:
            raise KeyError(f"CIA batch is missing keys {missing} (see docs/INTERFACES.md)")

    def __call__(self, model: nn.Module, batch: dict) -> tuple[Tensor, dict[str, float]]:
        self._check(batch)
        device = next(unwrap(model).parameters()).device
        batch = {k: (v.to(device, non_blocking=True) if torch.is_tensor(v) else v) for k, v in batch.items()}
        out = model(batch["train_images"], batch["test_images"], batch["train_boxes"], batch["test_boxes"],
                    batch["test_proposals"])
        w = self.w
        stats: dict[str, float] = {}
        clf, parts = classification_loss(out["scores"], batch["test_label"], w.test_clf, w.test_init_clf,
                                         w.test_iter_clf, self.cfg.model.hinge_threshold)
        total = clf
        stats["Loss/test_clf"] = float(parts["final"].detach())
        stats["Loss/test_init_clf"] = float(parts["init"].detach())
        stats["Loss/test_iter_clf"] = float(parts["iter"].detach())
        if self.cfg.model.box_regression == "iou":
            box = iou_regression_loss(out["box_pred"], batch["proposal_iou"])
            total = total + w.iou * box
            stats["Loss/iou"] = float(box.detach())
        else:
            box = kl_regression_loss(out["box_pred"], batch["proposal_density"], batch["gt_density"])
            total = total + w.kl * box
            stats["Loss/kl"] = float(box.detach())
        nf = batch["train_images"].shape[0] + batch["test_images"].shape[0]
        if out["q"] is not None:
            vids = batch["video_id"].reshape(1, -1).expand(nf, -1).reshape(-1)      # frame-major, like q
            con = infonce_v(out["q"], out["k"], vids, self.cfg.model.temperature)
            total = total + w.contrastive * con
            stats["Loss/contrastive"] = float(con.detach())
        if out["category_logits"] is not None:
            labels = batch["category"].reshape(1, -1).expand(nf, -1).reshape(-1)
            cat, n_valid = category_loss(out["category_logits"], labels)
            total = total + w.category * cat
            stats["Loss/category"] = float(cat.detach())
            if n_valid:
                valid = labels >= 0
                acc = (out["category_logits"][valid].argmax(1) == labels[valid]).float().mean()
                stats["Category/accuracy"] = float(acc)
        stats["Loss/total"] = float(total.detach())
        return total, stats

    def after_step(self, model: nn.Module) -> None:
        """Momentum update (Eq. 2) of the key encoder; unwraps DDP/DataParallel."""
        unwrap(model).momentum_update()
