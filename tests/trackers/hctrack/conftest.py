"""Fixtures for the HCTrack tests: small configs (fast) and a synthetic batch maker."""
import dataclasses

import pytest
import torch

from trackers.hctrack.config import HCTrackModelConfig
from trackers.registry import get_config


def _small_cfg(**model):
    """hctrack-tiny geometry (6 layers = 4 SSA + 2 CSA, template 64, search 128) at width 32."""
    base = get_config("hctrack-tiny")
    fields = dict(dataclasses.asdict(base.model))
    fields.update(embed_dim=32, num_heads=2, head_channels=16, contrastive_dim=16)
    fields.update(model)
    return dataclasses.replace(base, model=HCTrackModelConfig(**fields))


@pytest.fixture
def small_cfg():
    """Factory: ``small_cfg(rip_layer=5, association="last")`` -> HCTrackConfig."""
    return _small_cfg


@pytest.fixture(autouse=True)
def _seed_and_threads():
    torch.manual_seed(0)
    torch.set_num_threads(1)
    yield
