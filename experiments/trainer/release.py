"""Slim release weights: what the run CLI loads, without optimizer or RNG state.

Layout (``torch.load(path, weights_only=True)`` loads it)::

    {"format_version": 1, "kind": "release", "preset": str, "config": asdict(cfg), "model": state_dict}

Choice: the release leaves out the family's training-only modules
(``TRAINING_ONLY_PREFIXES`` in ``trackers/<family>/api.py``: HCTrack's contrastive head, CIA's
momentum encoder), which the online trackers never call; a strict load then allows exactly those
prefixes to be missing. This keeps the shipped tiny weights under 10 MB. Fine-tuning from a
release rebuilds those modules from their initialisation (CIA: the momentum encoder starts as a
copy of the query encoder, as Eq. 2 prescribes).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from datasets.fileio import atomic_torch_save
from experiments.trainer.checkpoint import load_checkpoint
from experiments.trainer.settings import config_from_dict
from trackers.common.checkpoint import CheckpointError, load_state_dict_strict, load_weights_only

RELEASE_VERSION = 1


def training_only_prefixes_of(preset: str) -> tuple[str, ...]:
    """Training-only state-dict prefixes of a registered preset's family (``trackers.registry``);
    () for a preset the registry does not know (e.g. a test's toy family)."""
    from trackers.registry import get_config, training_only_prefixes

    try:
        return training_only_prefixes(get_config(preset))
    except KeyError:
        return ()


def release_dict(preset: str, config: dict, model_state: dict, drop_prefixes: tuple[str, ...] | None = None,
                 dtype: torch.dtype | None = None) -> dict:
    """The release layout; `drop_prefixes` (default: the preset family's training-only prefixes)
    are left out of the model state; floating-point tensors are cast to `dtype` if given (e.g.
    ``torch.float16`` halves the file; loading casts back to the model's dtype)."""
    drop = training_only_prefixes_of(preset) if drop_prefixes is None else tuple(drop_prefixes)

    def cast(v: torch.Tensor) -> torch.Tensor:
        v = v.detach().cpu()
        return v.to(dtype) if dtype is not None and v.is_floating_point() else v

    return {"format_version": RELEASE_VERSION, "kind": "release", "preset": preset, "config": config,
            "model": {k: cast(v) for k, v in model_state.items() if not k.startswith(drop)}}


def export_release(checkpoint: str | Path, out: str | Path, dtype: torch.dtype | None = None) -> Path:
    """Write the slim release file `out` from a training checkpoint or another release (atomic),
    optionally casting floating-point weights to `dtype` (the shipped tiny weights are float16).

    Raises:
        FileNotFoundError / CheckpointError: the file is missing or neither kind of file.
    """
    obj = load_weights_only(checkpoint)
    if obj.get("kind") == "training":
        obj = load_checkpoint(checkpoint)
    elif obj.get("kind") != "release" or "model" not in obj or "preset" not in obj:
        raise CheckpointError(f"{checkpoint}: neither a training checkpoint nor a release file")
    return atomic_torch_save(release_dict(obj["preset"], obj["config"], obj["model"], dtype=dtype), out)


def load_release(path: str | Path, preset: str | None = None, model: nn.Module | None = None) -> tuple[Any, dict]:
    """Load release weights safely (weights-only) and rebuild their config.

    Args:
        path: a ``release.pt`` (a training checkpoint is accepted too: its model is used).
        preset: the preset the caller expects; a different one in the file is an error.
        model: if given, the weights are loaded into it strictly, every mismatched key listed
            (`trackers.common.checkpoint.load_state_dict_strict`).
    Returns:
        (cfg, state_dict): the preset's config dataclass overlaid with the stored values, and the
        model state dict (CPU tensors).
    Raises:
        FileNotFoundError: no such file.
        CheckpointError: not a release/training file, a preset mismatch, or (with `model`) keys
            or shapes that do not match, named one by one.
    """
    from trackers.registry import get_config

    obj = load_weights_only(path)
    if obj.get("kind") not in ("release", "training") or "model" not in obj or "preset" not in obj:
        raise CheckpointError(f"{path}: not a release file (expected keys 'preset', 'config', 'model')")
    stored = obj["preset"]
    if preset is not None and stored != preset:
        raise CheckpointError(
            f"{path}: these weights are for preset {stored!r}, not {preset!r}. Pass the matching preset "
            f"(e.g. `{stored}`) or the release file trained for {preset!r}."
        )
    try:
        cfg = config_from_dict(get_config(stored), obj.get("config") or {}, where=f"{path}: config")
    except KeyError as e:
        raise CheckpointError(str(e.args[0]) if e.args else str(e)) from None
    state = obj["model"]
    if model is not None:
        load_state_dict_strict(model, state, source=str(path), allow_missing=training_only_prefixes_of(stored))
    return cfg, state


__all__ = ["export_release", "load_release", "release_dict"]
