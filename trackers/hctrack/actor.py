"""HCTrack training objective (Eq. 5): ``L = l_cl L_cl + l_cls L_focal + l_1 L_1 + l_giou L_giou``.

Box losses follow OSTrack (§A.4): the box decoded at the argmax of the *predicted* score map,
as normalised xyxy, against the ground-truth search box normalised by the search size, converted
to xyxy and clamped to [0, 1]; L1 is the mean over the 4 coordinates of every sample; GIoU loss is
mean(1 - GIoU). The focal loss compares the score map with ``batch["search_heatmap"]``. The
contrastive loss (Eq. 4) runs on the T, (DT,) S embeddings of every sample, labelled by
``batch["video_id"]``.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from trackers.common.box_ops import box_convert, box_iou
from trackers.common.losses import centernet_focal_loss, giou_loss, multi_positive_info_nce
from trackers.hctrack.config import HCTrackConfig

BATCH_KEYS = ("template", "dynamic_template", "search", "template_box", "dynamic_template_box",
              "search_box", "search_heatmap", "video_id")


class HCTrackActor:
    """``actor(model, batch) -> (loss, stats)``; stats keys ``Loss/total``, ``Loss/focal``,
    ``Loss/l1``, ``Loss/giou``, ``Loss/contrastive``, ``IoU``, ``RIP/keep_ratio``."""

    def __init__(self, cfg: HCTrackConfig) -> None:
        self.cfg = cfg
        self.loss = cfg.loss
        self.search_size = cfg.data.search_size

    def __call__(self, model: nn.Module, batch: dict[str, Tensor]) -> tuple[Tensor, dict[str, float]]:
        missing = [k for k in BATCH_KEYS if k not in batch]
        if missing:
            raise KeyError(f"HCTrack batch is missing keys {missing} (see docs/INTERFACES.md)")
        lc = self.loss
        use_cl = lc.contrastive_weight > 0 and getattr(_unwrap(model), "contrastive_head", None) is not None
        out = model(
            batch["template"], batch["dynamic_template"], batch["search"],
            template_box=batch["template_box"] if use_cl else None,
            dynamic_template_box=batch["dynamic_template_box"] if use_cl and lc.include_dynamic_template else None,
            search_box=batch["search_box"] if use_cl else None,
        )
        gt = box_convert(batch["search_box"].float() / self.search_size, "xywh", "xyxy").clamp(0.0, 1.0)
        pred = box_convert(out["pred_boxes"], "cxcywh", "xyxy")
        l_giou = giou_loss(pred, gt)
        l_l1 = F.l1_loss(pred, gt)
        l_focal = centernet_focal_loss(out["score_map"][:, 0], batch["search_heatmap"])
        total = lc.focal_weight * l_focal + lc.l1_weight * l_l1 + lc.giou_weight * l_giou
        l_cl = torch.zeros((), device=total.device)
        if use_cl:
            emb = out["embeddings"]                                       # (V, B, D)
            V, B, D = emb.shape
            labels = batch["video_id"].to(emb.device).repeat(V)           # (V*B,), v-major like emb
            l_cl = multi_positive_info_nce(emb.reshape(V * B, D), labels, lc.temperature)
            total = total + lc.contrastive_weight * l_cl
        with torch.no_grad():
            iou = box_iou(pred.detach(), gt, aligned=True).mean()
            keep = out["keep_mask"].float().mean()
        stats = {
            "Loss/total": float(total.detach()), "Loss/focal": float(l_focal.detach()),
            "Loss/l1": float(l_l1.detach()), "Loss/giou": float(l_giou.detach()),
            "Loss/contrastive": float(l_cl.detach()), "IoU": float(iou), "RIP/keep_ratio": float(keep),
        }
        return total, stats

    def after_step(self, model: nn.Module) -> None:
        """No per-step state (HCTrack has no momentum encoder)."""


def _unwrap(model: nn.Module) -> nn.Module:
    """The module inside DistributedDataParallel / DataParallel wrappers."""
    return getattr(model, "module", model)
