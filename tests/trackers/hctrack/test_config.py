import dataclasses

import pytest

from trackers.hctrack.config import HCTrackConfig, HCTrackModelConfig
from trackers.registry import family_api, get_config


def test_paper_preset_values():
    cfg = get_config("hctrack")
    m, d, t = cfg.model, cfg.data, cfg.train
    assert (m.embed_dim, m.depth, m.num_heads, m.patch_size) == (768, 9, 12, 16)
    assert (m.first_csa_layer, m.rip_layer, m.rip_ratio, m.contrastive_layer) == (7, 9, 0.9, 6)
    assert m.association == "last+current"
    assert (d.template_size, d.template_factor, d.search_size, d.search_factor) == (128, 2.0, 256, 4.0)
    assert (cfg.template_grid, cfg.search_grid, cfg.rip_center_size) == (8, 16, 4)
    assert (cfg.loss.contrastive_weight, cfg.loss.focal_weight, cfg.loss.l1_weight, cfg.loss.giou_weight) == (0.1, 1, 5, 2)
    assert cfg.inference.update_interval == 200 and cfg.inference.hann_window
    assert (t.optimizer, t.lr, t.weight_decay, t.backbone_lr_mult) == ("adamw", 2e-4, 1e-4, 0.1)
    assert (t.epochs, t.samples_per_epoch, t.lr_step_epochs, t.lr_gamma, t.grad_clip) == (300, 60_000, 240, 0.1, 0.1)
    assert t.videos_per_batch_pairs == 3 and t.batch_size % 3 == 0
    assert family_api(cfg).__name__ == "trackers.hctrack.api"


def test_tiny_preset_is_scaled_hctrack():
    cfg = get_config("hctrack-tiny")
    m = cfg.model
    assert (m.embed_dim, m.depth, m.num_heads, m.first_csa_layer, m.rip_layer, m.contrastive_layer) == (192, 6, 3, 5, 6, 4)
    assert (cfg.data.template_size, cfg.data.search_size, cfg.template_grid, cfg.search_grid) == (64, 128, 4, 8)
    assert cfg.train.dataset_ratios == (("synthetic", 1.0),)
    assert cfg.rip_center_size == 2


@pytest.mark.parametrize(
    "field, value, match",
    [
        ("rip_layer", 4, "rip_layer"),            # an SSA layer: RIP runs after a CSA
        ("rip_layer", 7, "rip_layer"),            # beyond depth
        ("contrastive_layer", 0, "contrastive_layer"),
        ("contrastive_layer", 10, "contrastive_layer"),
        ("first_csa_layer", 1, "first_csa_layer"),
        ("association", "last+everything", "association"),
        ("rip_ratio", 0.0, "rip_ratio"),
        ("num_heads", 5, "divisible"),
    ],
)
def test_invalid_layer_indices_rejected(field, value, match):
    base = dataclasses.asdict(get_config("hctrack-tiny").model)
    base[field] = value
    with pytest.raises(ValueError, match=match):
        HCTrackModelConfig(**base)


def test_all_table_ablations_are_valid_on_the_paper_preset():
    cfg = get_config("hctrack")
    for layer in range(1, 10):  # Table 6
        get_config("hctrack", {"model.contrastive_layer": layer})
    for layer in (7, 8, 9):     # Table 4
        get_config("hctrack", {"model.rip_layer": layer})
    for mode in ("last", "current", "penultimate", "last+previous", "last+next", "last+current"):  # Table 3
        get_config("hctrack", {"model.association": mode})
    assert cfg.model.rip_layer == 9


def test_cross_field_checks():
    with pytest.raises(ValueError, match="stride"):
        get_config("hctrack", {"data.stride": 8})
    with pytest.raises(ValueError, match="rip_center"):
        get_config("hctrack-tiny", {"model.rip_center": 5})
    with pytest.raises(ValueError, match="family"):
        HCTrackConfig(family="cia")
    with pytest.raises(KeyError, match="no field"):
        get_config("hctrack", {"model.rip_layers": 8})
