"""A dummy tracker family (2-layer conv net + MSE actor on the HCTrack batch) and tiny data."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pytest
import torch
from torch import nn

from datasets.frames import write_frame
from datasets.processing.config import OSTrackProcessingConfig
from datasets.sequence import Sequence, SequenceDataset
from trackers.base import TrainConfig


@dataclass(frozen=True)
class ToyConfig:
    name: str = "toy"
    family: str = "toy"
    dropout: float = 0.0
    data: OSTrackProcessingConfig = field(default_factory=lambda: OSTrackProcessingConfig(
        template_size=32, search_size=64, stride=16, max_gap=5, image_min_box_side=0.0))
    train: TrainConfig = field(default_factory=lambda: TrainConfig(
        lr=1e-2, reference_batch=4, batch_size=4, videos_per_batch_pairs=2, epochs=2, samples_per_epoch=12,
        lr_step_epochs=1, lr_gamma=0.5, grad_clip=1.0, dataset_ratios=(("toy", 1.0),)))


class ToyNet(nn.Module):
    """backbone: conv 3->4 (stride 4); head: conv 4->1 -> (B, 4, 4) map after pooling."""

    def __init__(self, dropout: float) -> None:
        super().__init__()
        self.backbone = nn.Conv2d(3, 4, 3, stride=4, padding=1)
        self.drop = nn.Dropout(dropout)
        self.head = nn.Conv2d(4, 1, 3, padding=1)

    def forward(self, search: torch.Tensor) -> torch.Tensor:
        x = torch.relu(self.backbone(search))                      # (B, 4, 16, 16)
        x = self.head(self.drop(x))                                # (B, 1, 16, 16)
        return nn.functional.adaptive_avg_pool2d(x, 4)[:, 0]       # (B, 4, 4)


class ToyActor:
    def __init__(self) -> None:
        self.after_calls = 0

    def __call__(self, model, batch):
        pred = model(batch["search"])
        loss = nn.functional.mse_loss(pred, batch["search_heatmap"])
        return loss, {"mse": float(loss.detach()), "pred_mean": float(pred.detach().mean())}

    def after_step(self, model) -> None:
        assert isinstance(model, ToyNet)                            # the unwrapped module
        self.after_calls += 1


class ToyFamily:
    @staticmethod
    def build_model(cfg):
        return ToyNet(cfg.dropout)

    @staticmethod
    def build_actor(cfg):
        return ToyActor()

    @staticmethod
    def param_groups(model, cfg):
        return [{"name": "head", "params": list(model.head.parameters())},
                {"name": "backbone", "params": list(model.backbone.parameters()), "lr_mult": 0.5}]


class ListDataset(SequenceDataset):
    benchmark = "toy"

    def __init__(self, seqs):
        super().__init__("/nonexistent", "train")
        self._seqs = {s.name: s for s in seqs}

    def _list_names(self):
        return list(self._seqs)

    def _load(self, name):
        return self._seqs[name]


def make_sequences(folder, n_seq=3, n_frames=20, size=48, seed=0):
    rng = np.random.default_rng(seed)
    seqs = []
    for s in range(n_seq):
        frames, boxes = [], []
        for i in range(n_frames):
            img = rng.integers(0, 80, (size, size, 3), dtype=np.uint8)
            x, y = 8 + (i + 3 * s) % 16, 10 + (2 * i + s) % 12
            img[y:y + 12, x:x + 14] = (230, 200 - 40 * s, 40 + 60 * s)
            p = folder / f"s{s}" / f"{i:04d}.jpg"
            write_frame(p, img)
            frames.append(p)
            boxes.append([x, y, 14.0, 12.0])
        seqs.append(Sequence(f"s{s}", tuple(frames), np.array(boxes, float), np.ones(n_frames, bool), category="disk"))
    return seqs


@pytest.fixture(scope="session")
def toy_sources(tmp_path_factory):
    folder = tmp_path_factory.mktemp("toyseqs")
    return [("toy", ListDataset(make_sequences(folder)), 1.0)]


@pytest.fixture(scope="session")
def toy():
    """The dummy family's classes (test modules cannot import conftest under importlib mode)."""
    from types import SimpleNamespace

    return SimpleNamespace(Config=ToyConfig, Family=ToyFamily, Net=ToyNet, Actor=ToyActor,
                           ListDataset=ListDataset, make_sequences=make_sequences)
