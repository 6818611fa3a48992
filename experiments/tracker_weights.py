"""Which weights a tracker preset runs with, and the model built from them (for ``experiments.run``).

Sources, chosen by name (never guessed from a file's keys):

=====================  ======================================================================
``--weights`` value    meaning
=====================  ======================================================================
``FILE``               release weights (``experiments.trainer.load_release``: a ``release.pt``
                       from ``experiments.train`` or a training checkpoint); the preset stored
                       in the file must be the tracker's preset
``pytracking:FILE``    CIA presets only: an official pytracking DiMP18 / SuperDiMP checkpoint
                       (``trackers.cia.pretrained.load_pytracking_dimp``); the CIA modules keep
                       their initialisation, so this runs DiMP weights, not a trained CIA
(none)                 the weights shipped in the repository for the tiny presets
                       (``trackers/<family>/weights/<preset>.pt``, release format); the full
                       presets ship none, and running them without weights is an error
``--random-init``      no weights at all (profiling only: the scores mean nothing); the model
                       is initialised under ``torch.manual_seed(RANDOM_INIT_SEED)`` so two runs
                       give the same boxes
=====================  ======================================================================

Fields of a stored config that point at *initialisation* files of the training machine
(`INIT_FIELDS`: HCTrack's ``model.pretrained`` MAE path, CIA's ``model.backbone_weights``) are
cleared before the model is built: the release holds every weight already.
"""
from __future__ import annotations

import dataclasses
import hashlib
import importlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping, Sequence as Seq

from trackers.registry import FAMILIES, family_api, get_config, replace_path

#: presets whose trained weights ship in the repository
SHIPPED_PRESETS = ("hctrack-tiny", "cia-tiny")
#: model-config fields naming initialisation files (cleared before building an inference model)
INIT_FIELDS = ("pretrained", "backbone_weights")
#: seed of the model initialisation under --random-init
RANDOM_INIT_SEED = 0
SOURCES = ("release", "pytracking", "shipped", "random")

if TYPE_CHECKING:  # torch is imported when a model is built, not for argument checks
    import torch
    from torch import nn


class WeightsNotFoundError(FileNotFoundError):
    """No usable weights for a preset; the message says how to get them."""


@dataclass(frozen=True)
class WeightsSpec:
    """Where one tracker's weights come from.

    Attributes:
        source: one of `SOURCES`.
        path: the weights file (None for ``random``).
    """

    source: str
    path: Path | None = None

    def __post_init__(self) -> None:
        if self.source not in SOURCES:
            raise ValueError(f"weights source {self.source!r}; expected one of {SOURCES}")
        if (self.path is None) != (self.source == "random"):
            raise ValueError(f"weights source {self.source!r} {'needs' if self.path is None else 'takes no'} a file")

    def describe(self) -> str:
        if self.source == "random":
            return f"random initialisation (seed {RANDOM_INIT_SEED}; scores are meaningless)"
        kind = {"release": "release weights", "shipped": "shipped weights",
                "pytracking": "official pytracking DiMP weights (CIA modules untrained)"}[self.source]
        return f"{kind} {self.path}"


@dataclass
class LoadedModel:
    """A preset ready to track: its config, the eval-mode model on `device`, and where it came from."""

    preset: str
    cfg: Any
    model: "nn.Module"
    weights: WeightsSpec
    weights_sha256: str | None
    device: str

    def tracker_factory(self):
        """Zero-argument callable building a fresh online tracker (one per sequence)."""
        api = family_api(self.cfg)
        return lambda: api.build_tracker(self.cfg, self.model, self.device)

    def fingerprint(self) -> dict:
        """What makes results reproducible: preset, weights (by content) and the full config."""
        return {"preset": self.preset, "weights_source": self.weights.source, "weights_sha256": self.weights_sha256,
                "config_sha256": config_sha256(self.cfg)}


def parse_weights_args(values: Seq[str], trackers: Seq[str]) -> dict[str, str]:
    """``--weights FILE`` / ``--weights NAME=FILE`` (repeatable) -> {preset: value}.

    ``NAME=...`` is read as a tracker assignment when NAME is a registered preset; anything else is
    a file name. A bare FILE is allowed with a single tracker only. Raises ValueError naming the
    bad entry (a preset not being run, a second file for one tracker, an empty name).
    """
    from trackers.registry import list_presets

    presets = set(list_presets())
    out: dict[str, str] = {}
    for v in values:
        name, sep, rest = v.partition("=")
        if sep and name in trackers:
            key, value = name, rest
        elif sep and name in presets:
            raise ValueError(f"--weights {v!r}: {name!r} is not one of the trackers being run ({', '.join(trackers)})")
        else:
            if len(trackers) != 1:
                raise ValueError(f"--weights {v!r}: with several trackers give NAME=FILE for each "
                                 f"(e.g. --weights {trackers[0]}=FILE)")
            key, value = trackers[0], v
        if not value.strip():
            raise ValueError(f"--weights {v!r}: empty file name")
        if key in out:
            raise ValueError(f"--weights: two weight files for {key!r} ({out[key]!r} and {value!r})")
        out[key] = value
    return out


def family_dir(preset: str) -> Path:
    """The package folder of a preset's family (e.g. ``trackers/hctrack``)."""
    family = get_config(preset).family
    return Path(importlib.import_module(FAMILIES[family]).__file__).parent


def shipped_weights_path(preset: str) -> Path:
    """``trackers/<family>/weights/<preset>.pt`` (whether or not it exists)."""
    return family_dir(preset) / "weights" / f"{preset}.pt"


def _no_weights_message(preset: str) -> str:
    if preset in SHIPPED_PRESETS:
        return (
            f"{preset}: the trained weights that ship with the repository are missing "
            f"({shipped_weights_path(preset)} does not exist). Train them with "
            f"`python -m datasets.synthetic data/synthetic && python -m experiments.train {preset} "
            f"--data synthetic=data/synthetic` and pass "
            f"--weights {preset}=runs/{preset}/release.pt, or pass --random-init to profile the "
            "untrained network (its scores are meaningless)."
        )
    family = get_config(preset).family
    convert = (
        "start the backbone from MAE ViT-B weights with `--set model.pretrained=mae_vit:mae_pretrain_vit_base.pth`"
        if family == "hctrack" else
        "or run official pytracking DiMP weights with --weights "
        f"{preset}=pytracking:{'dimp18.pth' if preset == 'cia18' else 'super_dimp.pth.tar'} (CIA modules untrained)"
    )
    return (
        f"{preset}: no weights given, and the full presets ship none. Train it with "
        f"`python -m experiments.train {preset} --data got10k --data lasot --data trackingnet --data coco` "
        f"({convert}) and pass --weights {preset}=runs/{preset}/release.pt. "
        "--random-init runs the untrained network for profiling only."
    )


def resolve_weights(preset: str, value: str | None, random_init: bool = False) -> WeightsSpec:
    """The `WeightsSpec` of a preset from its ``--weights`` value (or None) and ``--random-init``.

    Raises:
        ValueError: both a file and --random-init, or ``pytracking:`` for a non-CIA preset.
        WeightsNotFoundError: the named file does not exist, or no weights exist for the preset.
        KeyError: unknown preset.
    """
    cfg = get_config(preset)
    if value is not None and random_init:
        raise ValueError(f"{preset}: --weights and --random-init exclude each other")
    if random_init:
        return WeightsSpec("random")
    if value is None:
        path = shipped_weights_path(preset)
        if not path.is_file():
            raise WeightsNotFoundError(_no_weights_message(preset))
        return WeightsSpec("shipped", path)
    source, path = "release", value
    if value.startswith("pytracking:"):
        source, path = "pytracking", value[len("pytracking:"):]
        if cfg.family != "cia":
            raise ValueError(f"--weights {preset}={value}: pytracking DiMP checkpoints fit the CIA presets only")
    elif value.startswith("release:"):
        path = value[len("release:"):]
    p = Path(path).expanduser()
    if not p.is_file():
        raise WeightsNotFoundError(f"{preset}: weights file {str(p)!r} (from --weights) not found")
    return WeightsSpec(source, p)


def inference_config(cfg: Any) -> Any:
    """`cfg` with the `INIT_FIELDS` of ``cfg.model`` set to None (see the module docstring)."""
    model = getattr(cfg, "model", None)
    if model is None or not dataclasses.is_dataclass(model):
        return cfg
    names = {f.name for f in dataclasses.fields(model)}
    for field in INIT_FIELDS:
        if field in names and getattr(model, field) is not None:
            cfg = replace_path(cfg, f"model.{field}", None)
    return cfg


def file_sha256(path: str | Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(chunk), b""):
            h.update(block)
    return h.hexdigest()


def config_sha256(cfg: Any) -> str:
    """Hash of the JSON of ``dataclasses.asdict(cfg)`` (keys sorted)."""
    text = json.dumps(dataclasses.asdict(cfg), sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def load_model(preset: str, weights: WeightsSpec, device: str = "cpu") -> LoadedModel:
    """Build the preset's model, load its weights strictly, put it in eval mode on `device`.

    Raises:
        CheckpointError (a ValueError): the file is not release weights, is for another preset,
            or its tensors do not match the model (keys / shapes listed).
        FileNotFoundError: the file disappeared.
    """
    import torch

    from trackers.common.checkpoint import load_state_dict_strict
    from trackers.registry import training_only_prefixes

    cfg = get_config(preset)
    state: Mapping[str, "torch.Tensor"] | None = None
    if weights.source in ("release", "shipped"):
        from experiments.trainer.release import load_release

        cfg, state = load_release(weights.path, preset=preset)
    cfg = inference_config(cfg)
    api = family_api(cfg)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(RANDOM_INIT_SEED)
        model = api.build_model(cfg)
    if state is not None:
        # release weights leave out the training-only modules (trackers/<family>/api.py)
        load_state_dict_strict(model, state, source=str(weights.path),
                               allow_missing=training_only_prefixes(cfg))
    elif weights.source == "pytracking":
        from trackers.cia.pretrained import load_pytracking_dimp

        load_pytracking_dimp(model, weights.path)
    model = model.to(device).eval()
    sha = file_sha256(weights.path) if weights.path is not None else None
    return LoadedModel(preset, cfg, model, weights, sha, device)


__all__ = [
    "INIT_FIELDS", "LoadedModel", "RANDOM_INIT_SEED", "SHIPPED_PRESETS", "WeightsNotFoundError", "WeightsSpec",
    "config_sha256", "file_sha256", "inference_config", "load_model", "parse_weights_args", "resolve_weights",
    "shipped_weights_path",
]
