"""Full training checkpoints: plain tensors and containers only, written atomically.

Layout (``torch.load(path, weights_only=True)`` loads it)::

    {"format_version": 1, "kind": "training",
     "preset": str, "config": asdict(cfg), "settings": asdict(run settings),
     "model": state_dict, "optimizer": state_dict, "scheduler": state_dict, "scaler": state_dict,
     "rng": {"torch": ByteTensor, "cuda": [ByteTensor], "numpy": {...}, "python": [...]},
     "epoch": int, "epoch_step": int, "global_step": int, "world_size": int}

``epoch`` / ``epoch_step`` is the position of the *next* step to run (an epoch-end checkpoint
stores ``epoch + 1, 0``). RNG states are stored as tensors, ints and lists (no pickled objects):
the torch CPU generator, every CUDA generator, numpy's legacy global generator (MT19937 key as an
int64 tensor) and Python's ``random`` (its 625-word state as a list) — the data pipeline itself
draws from per-item generators (`datasets.sampling.seeding`) and needs no saved state.
"""
from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import numpy as np
import torch

from datasets.fileio import atomic_torch_save
from trackers.common.checkpoint import CheckpointError, load_weights_only

FORMAT_VERSION = 1
LAST = "last.pt"


def capture_rng() -> dict:
    """RNG states as plain tensors / ints / lists."""
    np_state = np.random.get_state()
    py_version, py_words, py_gauss = random.getstate()
    return {
        "torch": torch.get_rng_state(),
        "cuda": list(torch.cuda.get_rng_state_all()) if torch.cuda.is_available() else [],
        "numpy": {
            "key": torch.from_numpy(np.asarray(np_state[1], dtype=np.int64)),
            "pos": int(np_state[2]), "has_gauss": int(np_state[3]), "cached_gaussian": float(np_state[4]),
        },
        "python": {"version": int(py_version), "words": [int(w) for w in py_words], "gauss": py_gauss},
    }


def restore_rng(state: dict) -> None:
    """Inverse of `capture_rng` (CUDA states are restored when the device count matches)."""
    torch.set_rng_state(state["torch"])
    if state.get("cuda") and torch.cuda.is_available() and len(state["cuda"]) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(state["cuda"])
    n = state["numpy"]
    np.random.set_state(("MT19937", n["key"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["cached_gaussian"]))
    p = state["python"]
    random.setstate((p["version"], tuple(p["words"]), p["gauss"]))


def save_checkpoint(path: str | Path, **fields: Any) -> Path:
    """Write ``{"format_version", "kind": "training", **fields}`` atomically."""
    obj = {"format_version": FORMAT_VERSION, "kind": "training", **fields}
    return atomic_torch_save(obj, path)


def load_checkpoint(path: str | Path) -> dict:
    """Weights-only load of a training checkpoint; checks its kind and version.

    Raises:
        FileNotFoundError: no file. CheckpointError: unsafe, corrupt, or not a training checkpoint.
    """
    ckpt = load_weights_only(path)
    if ckpt.get("kind") != "training":
        raise CheckpointError(f"{path}: not a training checkpoint (kind={ckpt.get('kind')!r}); "
                              f"release files cannot be resumed")
    if ckpt.get("format_version") != FORMAT_VERSION:
        raise CheckpointError(f"{path}: checkpoint format {ckpt.get('format_version')} != {FORMAT_VERSION}")
    missing = [k for k in ("model", "optimizer", "scheduler", "rng", "epoch", "epoch_step", "global_step", "preset")
               if k not in ckpt]
    if missing:
        raise CheckpointError(f"{path}: training checkpoint lacks keys {missing}")
    return ckpt


def diff_dicts(a: Any, b: Any, prefix: str = "") -> list[str]:
    """Dotted keys whose values differ between two nested plain dicts (for resume warnings)."""
    if isinstance(a, dict) and isinstance(b, dict):
        out = []
        for k in sorted(set(a) | set(b), key=str):
            p = f"{prefix}.{k}" if prefix else str(k)
            if k not in a or k not in b:
                out.append(p)
            else:
                out.extend(diff_dicts(a[k], b[k], p))
        return out
    norm = lambda v: [norm(x) for x in v] if isinstance(v, (list, tuple)) else v  # noqa: E731
    return [] if norm(a) == norm(b) else [prefix]
