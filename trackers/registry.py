"""Preset registry: preset name -> config factory, and config -> family API module.

Presets are registered with `@register_preset("name")` in each family's ``config.py``. Looking a
preset up imports the family config modules on demand, so `import trackers.registry` is cheap.
"""
from __future__ import annotations

import dataclasses
import importlib
from types import ModuleType
from typing import Any, Callable

PRESETS: dict[str, Callable[[], Any]] = {}
_ORIGIN: dict[str, str] = {}
FAMILIES = {"hctrack": "trackers.hctrack", "cia": "trackers.cia"}


def register_preset(name: str) -> Callable[[Callable[[], Any]], Callable[[], Any]]:
    """Decorator registering a zero-argument config factory under `name`."""

    def deco(fn: Callable[[], Any]) -> Callable[[], Any]:
        if name in PRESETS:
            raise KeyError(f"preset {name!r} is already registered by {_ORIGIN[name]}")
        PRESETS[name] = fn
        _ORIGIN[name] = fn.__module__
        return fn

    return deco


def _load_all() -> None:
    for pkg in FAMILIES.values():
        importlib.import_module(pkg + ".config")


def list_presets() -> list[str]:
    _load_all()
    return sorted(PRESETS)


def get_config(name: str, overrides: dict[str, Any] | None = None) -> Any:
    """The config of preset `name`, with ``{"a.b": value}`` overrides applied via `dataclasses.replace`."""
    _load_all()
    if name not in PRESETS:
        raise KeyError(f"unknown tracker preset {name!r}; known presets: {', '.join(sorted(PRESETS))}")
    cfg = PRESETS[name]()
    for key, value in (overrides or {}).items():
        cfg = replace_path(cfg, key, value)
    return cfg


def replace_path(cfg: Any, key: str, value: Any) -> Any:
    """`dataclasses.replace` along a dotted path; an unknown key is a KeyError naming it."""
    head, _, rest = key.partition(".")
    if not dataclasses.is_dataclass(cfg) or head not in {f.name for f in dataclasses.fields(cfg)}:
        raise KeyError(f"config {type(cfg).__name__} has no field {head!r} (in override {key!r})")
    if rest:
        value = replace_path(getattr(cfg, head), rest, value)
    return dataclasses.replace(cfg, **{head: value})


def family_api(cfg: Any) -> ModuleType:
    """The family API module (``build_model``, ``build_actor``, ``build_tracker``, ...) of a config."""
    family = getattr(cfg, "family", None)
    if family not in FAMILIES:
        raise KeyError(f"config {type(cfg).__name__} has unknown family {family!r}")
    return importlib.import_module(FAMILIES[family] + ".api")


def training_only_prefixes(cfg: Any) -> tuple[str, ...]:
    """State-dict key prefixes of the family's training-only modules (absent from release weights)."""
    return tuple(getattr(family_api(cfg), "TRAINING_ONLY_PREFIXES", ()))
