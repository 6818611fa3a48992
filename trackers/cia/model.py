"""The CIA network (paper Fig. 2): backbone -> instance-aware module -> category-aware module -> DiMP.

Feature path of the target classifier (training and tracking alike)::

    layer3 --(IE: angle modulation with mlp_q's instance map)--> instance-aware map
           --(CE: category encoder over the dictionary atoms)---> instance+category-aware map
           --> DiMP classification features -> model initializer / optimizer -> target filter

Training-only heads: the contrastive embeddings (mlp_q on the PrRoI-pooled target, keys from the
momentum encoder) and the category classifier's logits. The IoU-Net uses plain layer2/layer3.
A disabled module (config switch) is simply absent (``None``) and its stage is the identity.
"""
from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from trackers.cia.backbone import build_backbone
from trackers.cia.category import CategoryClassifier, CategoryEncoder, FreeDictionary
from trackers.cia.config import CIAModelConfig
from trackers.cia.dimp.classifier_features import ClassificationFeatures
from trackers.cia.dimp.iou_net import IoUNet
from trackers.cia.dimp.kl_iou_net import KLIoUNet
from trackers.cia.dimp.model_initializer import ModelInitializer
from trackers.cia.dimp.model_optimizer import ModelOptimizer
from trackers.cia.dimp.target_classifier import TargetClassifier
from trackers.cia.instance import AngleModulation, InstanceMLP, MomentumEncoder, embed_targets
from trackers.common.box_ops import box_convert

FEATURE_STRIDE = 16


class CIANet(nn.Module):
    """CIA18 / CIA50 / tiny network.

    Args:
        cfg: the model config (switches and sizes).
        init_gauss_sigma: initial label sigma of the model optimizer, in score cells
            (``output_sigma_factor / search_factor * feat_size``; 0.9 for cia18).
    """

    def __init__(self, cfg: CIAModelConfig, init_gauss_sigma: float = 0.9) -> None:
        super().__init__()
        self.cfg = cfg
        c2, c3 = cfg.layer2_channels, cfg.layer3_channels
        self.backbone = build_backbone(cfg)
        need_mlp = cfg.use_contrastive or cfg.use_instance_encoder
        self.mlp_q = InstanceMLP(c3) if need_mlp else None
        self.momentum_encoder = (MomentumEncoder(self.backbone, self.mlp_q, cfg.momentum)
                                 if cfg.use_contrastive and cfg.use_momentum else None)
        self.angle_modulation = AngleModulation(c3) if cfg.use_instance_encoder else None
        self.category_classifier = (
            CategoryClassifier(c3, cfg.num_categories, cfg.category_block, cfg.category_block_layers,
                               cfg.category_block_width) if cfg.use_category_classification else None)
        atom_dim = (self.category_classifier.out_dim if self.category_classifier is not None
                    else cfg.category_block_width * (4 if cfg.category_block == "bottleneck" else 1))
        self.dictionary = (FreeDictionary(cfg.dictionary_size, atom_dim)
                           if cfg.use_category_encoder and not cfg.use_category_classification else None)
        self.category_encoder = (
            CategoryEncoder(c3, atom_dim, cfg.encoder_layers, cfg.encoder_heads, cfg.encoder_ffn_dim,
                            cfg.encoder_dropout) if cfg.use_category_encoder else None)
        self.target_classifier = TargetClassifier(
            ClassificationFeatures(c3, cfg.clf_feat_dim, cfg.clf_feat_blocks, cfg.filter_size),
            ModelInitializer(cfg.clf_feat_dim, cfg.filter_size, FEATURE_STRIDE),
            ModelOptimizer(cfg.optim_iter, FEATURE_STRIDE, cfg.optim_init_step, cfg.optim_init_reg,
                           cfg.optim_min_reg, cfg.num_dist_bins, cfg.bin_displacement, init_gauss_sigma,
                           cfg.mask_init_factor),
        )
        head = KLIoUNet if cfg.box_regression == "kl" else IoUNet
        self.box_head = head((c2, c3), cfg.iou_pred_dims, cfg.iou_inter_dims, cfg.iou_ref_dims, cfg.iou_test_dim)

    # -- feature stages (shared by training and tracking) --------------------------------------
    def extract(self, images: Tensor) -> dict[str, Tensor]:
        """images (N, 3, S, S) -> {"layer2": (N, C2, S/8, S/8), "layer3": (N, C3, S/16, S/16)}."""
        return self.backbone(images, ("layer2", "layer3"))

    def atoms(self) -> Tensor | None:
        """The category encoder's dictionary, read live: classifier weight W (C, D) or free atoms."""
        if self.category_classifier is not None:
            return self.category_classifier.atoms
        return self.dictionary.atoms if self.dictionary is not None else None

    def instance_aware(self, layer3: Tensor) -> Tensor:
        """IE (Eq. 4-5) on (N, C3, H, W); identity when disabled."""
        if self.angle_modulation is None:
            return layer3
        return self.angle_modulation(layer3, self.mlp_q(layer3, dense=True))

    def category_aware(self, feat: Tensor) -> Tensor:
        """CE on (N, C3, H, W); identity when disabled."""
        if self.category_encoder is None:
            return feat
        return self.category_encoder(feat, self.atoms())

    def classification_features(self, layer3: Tensor) -> Tensor:
        """(N, C3, H, W) -> (N, clf_feat_dim, H, W): IE -> CE -> DiMP feature block."""
        return self.target_classifier.extract(self.category_aware(self.instance_aware(layer3)))

    # -- training-only heads -----------------------------------------------------------------
    def contrastive_embeddings(self, images: Tensor, layer3: Tensor, boxes_xywh: Tensor) -> tuple[Tensor, Tensor]:
        """Queries and keys of InfoNCE-V.

        Args:
            images: (N, 3, S, S) the crops (keys use the same crops); layer3: query backbone's
                (N, C3, S/16, S/16); boxes_xywh: (N, 4) targets in crop pixels.
        Returns:
            q (N, C3) with gradients, k (N, C3) (momentum encoder, no gradients; or the query
            encoder's own output when momentum is off).
        """
        rois = box_convert(boxes_xywh, "xywh", "xyxy")
        q = embed_targets(layer3, rois, self.mlp_q, self.cfg.contrastive_pool_size, FEATURE_STRIDE)
        if self.momentum_encoder is None:
            return q, q
        with torch.no_grad():
            l3k = self.momentum_encoder.backbone(images, ("layer3",))["layer3"]
            k = embed_targets(l3k, rois, self.momentum_encoder.mlp, self.cfg.contrastive_pool_size, FEATURE_STRIDE)
        return q, k

    @torch.no_grad()
    def momentum_update(self) -> None:
        """Eq. 2 (call after each optimizer step; no-op without a momentum encoder)."""
        if self.momentum_encoder is not None:
            self.momentum_encoder.update(self.backbone, self.mlp_q)

    @torch.no_grad()
    def sync_momentum_encoder(self) -> None:
        """Make the momentum encoder an exact copy of the query side (after loading weights)."""
        if self.momentum_encoder is not None:
            self.momentum_encoder.sync(self.backbone, self.mlp_q)

    # -- training forward ----------------------------------------------------------------------
    def forward(self, train_images: Tensor, test_images: Tensor, train_boxes: Tensor, test_boxes: Tensor,
                test_proposals: Tensor) -> dict[str, Any]:
        """One training pass over B sequences.

        Args:
            train_images: (Ntr, B, 3, S, S); test_images: (Nte, B, 3, S, S), ImageNet-normalised.
            train_boxes: (Ntr, B, 4); test_boxes: (Nte, B, 4) xywh crop pixels.
            test_proposals: (Nte, B, P, 4) xywh crop pixels.
        Returns:
            dict with "scores": list of (Nte, B, S/16+1, S/16+1) per filter iterate;
            "box_pred": (Nte, B, P) (2 IoU - 1, or log-density for KL); "q", "k": (Nf*B, C3)
            embeddings in frame-major order (or None without CL); "category_logits":
            (Nf*B, num_categories) (or None without CC). Nf = Ntr + Nte.
        """
        if train_images.dim() != 5 or test_images.dim() != 5:
            raise ValueError(f"images must be (frames, sequences, 3, H, W), got {tuple(train_images.shape)} "
                             f"and {tuple(test_images.shape)}")
        ntr, b = train_images.shape[:2]
        nte = test_images.shape[0]
        images = torch.cat([train_images, test_images]).flatten(0, 1)               # (Nf*B, 3, S, S)
        boxes = torch.cat([train_boxes, test_boxes]).flatten(0, 1)                  # (Nf*B, 4)
        feats = self.extract(images)
        l2, l3 = feats["layer2"], feats["layer3"]
        out: dict[str, Any] = {"q": None, "k": None, "category_logits": None}
        if self.cfg.use_contrastive:
            out["q"], out["k"] = self.contrastive_embeddings(images, l3, boxes)
        ins = self.instance_aware(l3)
        if self.category_classifier is not None:
            out["category_logits"] = self.category_classifier(ins, boxes)
        clf = self.target_classifier.extract(self.category_aware(ins))
        clf = clf.reshape(ntr + nte, b, *clf.shape[1:])
        out["scores"] = self.target_classifier(clf[:ntr], clf[ntr:], train_boxes)
        l2 = l2.reshape(ntr + nte, b, *l2.shape[1:])
        l3 = l3.reshape(ntr + nte, b, *l3.shape[1:])
        out["box_pred"] = self.box_head((l2[:ntr], l3[:ntr]), (l2[ntr:], l3[ntr:]), train_boxes, test_proposals)
        return out
