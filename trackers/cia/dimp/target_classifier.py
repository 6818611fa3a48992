"""DiMP's target classification branch: features -> model initializer -> model optimizer -> scores."""
from __future__ import annotations

from torch import Tensor, nn

from trackers.cia.dimp.classifier_features import ClassificationFeatures
from trackers.cia.dimp.filter_ops import apply_filter
from trackers.cia.dimp.model_initializer import ModelInitializer
from trackers.cia.dimp.model_optimizer import ModelOptimizer


class TargetClassifier(nn.Module):
    """Learns a target filter from training frames and scores test frames with every iterate."""

    def __init__(self, features: ClassificationFeatures, initializer: ModelInitializer,
                 optimizer: ModelOptimizer) -> None:
        super().__init__()
        self.features = features
        self.initializer = initializer
        self.optimizer = optimizer

    def extract(self, feat: Tensor) -> Tensor:
        """(..., C_in, H, W) -> (..., C, H, W) classification features (any leading dims)."""
        lead = feat.shape[:-3]
        out = self.features(feat.reshape(-1, *feat.shape[-3:]))
        return out.reshape(*lead, *out.shape[-3:])

    def get_filter(self, train_feat: Tensor, train_boxes: Tensor, num_iter: int | None = None,
                   sample_weight: Tensor | None = None) -> tuple[Tensor, list[Tensor], Tensor]:
        """Initial filter + optimisation. train_feat (N, B, C, H, W) classification features,
        train_boxes (N, B, 4) xywh crop pixels -> (filter, iterates, losses) as `ModelOptimizer`."""
        filt = self.initializer(train_feat, train_boxes)
        return self.optimizer(filt, train_feat, train_boxes, num_iter=num_iter, sample_weight=sample_weight)

    def forward(self, train_feat: Tensor, test_feat: Tensor, train_boxes: Tensor) -> list[Tensor]:
        """Training pass on classification features.

        Args:
            train_feat: (Ntr, B, C, H, W); test_feat: (Nte, B, C, H, W); train_boxes: (Ntr, B, 4).
        Returns:
            one (Nte, B, Ho, Wo) score map per filter iterate (initial filter first).
        """
        _, iterates, _ = self.get_filter(train_feat, train_boxes)
        return [apply_filter(test_feat, f) for f in iterates]
