"""What one training run is asked to do (`RunSettings`) and how CLI values become config fields.

The preset's config (``trackers.registry.get_config``) holds the paper schedule in ``cfg.train``;
`resolve_config` applies, in order, the shortcut flags (``--epochs``, ``--batch-size``,
``--samples-per-epoch``, ``--seed`` -> ``train.*``) and the ``--set a.b=v`` overrides.
"""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from typing import Any

from trackers.registry import get_config, replace_path


@dataclass(frozen=True)
class DataSpec:
    """One ``--data NAME[:SPLIT][=ROOT]`` entry. ``root`` None -> the environment variable."""

    name: str
    root: str | None = None
    split: str | None = None

    @staticmethod
    def parse(text: str) -> "DataSpec":
        """``got10k=/data/got10k``, ``lasot`` (root from $LASOT_ROOT), ``got10k:vottrain=/d``."""
        head, sep, root = text.partition("=")
        name, _, split = head.partition(":")
        name = name.strip()
        if not name:
            raise ValueError(f"--data {text!r}: expected NAME[:SPLIT][=ROOT]")
        if sep and not root.strip():
            raise ValueError(f"--data {text!r}: empty ROOT after '='")
        return DataSpec(name=name, root=root.strip() or None, split=split.strip() or None)


@dataclass(frozen=True)
class RunSettings:
    """One training run.

    Attributes:
        preset: tracker preset name (``trackers.registry``).
        data: training data sets.
        out: run directory (config.json, checkpoints, log.csv, loss.png, release.pt).
        epochs, batch_size, samples_per_epoch, seed: override ``cfg.train`` when not None
            (batch_size is per process).
        workers: DataLoader worker processes per training process.
        device: "cpu", "cuda" or None (cuda if available).
        resume: continue from ``out/last.pt`` ("auto") or from this checkpoint path; None = new run.
        overrides: ``("a.b", "value")`` pairs from ``--set`` (values parsed as JSON when possible).
        checkpoint_every: also checkpoint every this many optimizer steps (0 = only at epoch ends).
        keep_every: keep a copy ``epoch_XXXX.pt`` every this many epochs (0 = only ``last.pt``).
        log_every: optimizer steps averaged into one CSV row.
        find_unused_parameters: DDP flag, only for models with parameters unused in a step.
        amp: "auto" (bf16 if supported else fp16 on CUDA when ``cfg.train.amp``; off on CPU),
            "bf16", "fp16" or "off".
        progress: show tqdm progress bars (rank 0).
        plot: redraw ``loss.png`` at every epoch end (about a second each on a small CPU).
    """

    preset: str
    data: tuple[DataSpec, ...] = ()
    out: str = "runs/train"
    epochs: int | None = None
    batch_size: int | None = None
    samples_per_epoch: int | None = None
    seed: int | None = None
    workers: int = 0
    device: str | None = None
    resume: str | None = None
    overrides: tuple[tuple[str, str], ...] = ()
    checkpoint_every: int = 0
    keep_every: int = 0
    log_every: int = 10
    find_unused_parameters: bool = False
    amp: str = "auto"
    progress: bool = True
    plot: bool = True

    def __post_init__(self) -> None:
        if self.amp not in ("auto", "bf16", "fp16", "off"):
            raise ValueError(f"amp={self.amp!r} must be 'auto', 'bf16', 'fp16' or 'off'")
        for name in ("workers", "checkpoint_every", "keep_every"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name}={getattr(self, name)} must be >= 0")
        if self.log_every < 1:
            raise ValueError(f"log_every={self.log_every} must be >= 1")


def parse_value(raw: str) -> Any:
    """A ``--set`` value: JSON when it parses (numbers, true/false, null, lists), else the string."""
    try:
        return json.loads(raw)
    except json.JSONDecodeError:
        return raw


def _coerce(current: Any, value: Any, key: str) -> Any:
    """Shape `value` like the field's current value: lists -> tuples, ints -> floats."""
    if isinstance(current, tuple) and isinstance(value, list):
        if current and all(isinstance(c, tuple) for c in current):
            return tuple(_coerce(current[0], v, key) for v in value)
        return tuple(value)
    if isinstance(current, bool):
        if not isinstance(value, bool):
            raise ValueError(f"override {key}={value!r}: expected true or false")
        return value
    if isinstance(current, float) and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return value


def _get_path(cfg: Any, key: str) -> Any:
    obj = cfg
    for part in key.split("."):
        if not dataclasses.is_dataclass(obj) or part not in {f.name for f in dataclasses.fields(obj)}:
            raise KeyError(f"config {type(cfg).__name__} has no field {key!r} (part {part!r})")
        obj = getattr(obj, part)
    return obj


def apply_override(cfg: Any, key: str, value: Any) -> Any:
    """`trackers.registry.replace_path` with the value coerced to the field's type."""
    return replace_path(cfg, key, _coerce(_get_path(cfg, key), value, key))


def resolve_config(settings: RunSettings, cfg: Any | None = None) -> Any:
    """The preset config with the run's shortcut flags and ``--set`` overrides applied.

    Args:
        cfg: start from this config instead of looking `settings.preset` up (tests).
    """
    if cfg is None:
        cfg = get_config(settings.preset)
    for flag, key in (("epochs", "train.epochs"), ("batch_size", "train.batch_size"),
                      ("samples_per_epoch", "train.samples_per_epoch"), ("seed", "train.seed")):
        value = getattr(settings, flag)
        if value is not None:
            cfg = apply_override(cfg, key, value)
    for key, raw in settings.overrides:
        cfg = apply_override(cfg, key, parse_value(raw) if isinstance(raw, str) else raw)
    return cfg


def config_dict(cfg: Any) -> dict:
    """``dataclasses.asdict`` (plain containers only: safe for JSON and weights-only checkpoints)."""
    return dataclasses.asdict(cfg)


def settings_dict(settings: RunSettings) -> dict:
    return dataclasses.asdict(settings)


def config_from_dict(template: Any, values: dict, where: str = "config") -> Any:
    """Rebuild a frozen dataclass config: `template` (the preset's config) overlaid with `values`.

    Lists become tuples where the template has tuples. Raises KeyError listing keys of `values`
    that the template does not have (a config from another code version).
    """
    unknown = [k for k in values if k not in {f.name for f in dataclasses.fields(template)}]
    if unknown:
        raise KeyError(f"{where}: fields {unknown} are not in {type(template).__name__}")
    changes = {}
    for f in dataclasses.fields(template):
        if f.name not in values:
            continue
        cur, new = getattr(template, f.name), values[f.name]
        if dataclasses.is_dataclass(cur) and isinstance(new, dict):
            changes[f.name] = config_from_dict(cur, new, f"{where}.{f.name}")
        else:
            changes[f.name] = _deep_tuple(cur, new)
    return dataclasses.replace(template, **changes)


def _deep_tuple(current: Any, value: Any) -> Any:
    if isinstance(current, tuple) and isinstance(value, (list, tuple)):
        inner = current[0] if current else None
        return tuple(_deep_tuple(inner, v) for v in value)
    return value


__all__ = ["DataSpec", "RunSettings", "apply_override", "config_dict", "config_from_dict",
           "parse_value", "resolve_config", "settings_dict"]
