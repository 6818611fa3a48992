"""Safe checkpoint loading: weights-only unpickling and strict, well-reported state-dict loads."""
from __future__ import annotations

import pickle
from pathlib import Path
from typing import Iterable, Mapping

import torch
from torch import nn


class CheckpointError(ValueError):
    """A checkpoint cannot be used: unsafe, corrupt, or not matching the model. Names file and keys."""


def load_weights_only(path: str | Path, map_location: str | torch.device = "cpu") -> dict:
    """`torch.load(path, weights_only=True)`; pickled code is refused with a clear error."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: checkpoint file not found")
    try:
        obj = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as e:
        detail = _unpickler_detail(e)
        if "Unsupported operand" in str(e):  # bytes that are no pickle at all (garbage, a cut file)
            raise CheckpointError(f"{path}: not a readable checkpoint (truncated or corrupt?): {detail}") from None
        raise CheckpointError(
            f"{path}: refused to load: the file contains pickled Python objects, not only tensors "
            f"(weights-only loading). Re-export it as a plain state dict. Details: {detail}"
        ) from None
    except (RuntimeError, EOFError, OSError) as e:
        raise CheckpointError(f"{path}: not a readable checkpoint (truncated or corrupt?): "
                              f"{str(e) or type(e).__name__}") from None
    if not isinstance(obj, dict):
        raise CheckpointError(f"{path}: expected a dict at the top level, got {type(obj).__name__}")
    return obj


def _unpickler_detail(e: Exception) -> str:
    """The informative part of torch's weights-only error (the text after "WeightsUnpickler
    error:", e.g. "Unsupported global: GLOBAL os.system ..." or "Unsupported operand 110")."""
    text = str(e)
    _, sep, rest = text.partition("WeightsUnpickler error:")
    lines = [line.strip() for line in (rest if sep else text).splitlines() if line.strip()]
    return lines[0].split(". Please use")[0] if lines else type(e).__name__  # not torch's allowlisting advice


def load_state_dict_strict(
    model: nn.Module,
    state_dict: Mapping[str, torch.Tensor],
    source: str = "checkpoint",
    allow_missing: Iterable[str] = (),
    allow_unexpected: Iterable[str] = (),
) -> None:
    """Load with every mismatch reported: missing keys, unexpected keys, shape mismatches.

    `allow_missing` / `allow_unexpected` are key prefixes that may legitimately differ (e.g. a
    training-only head absent from a release file).
    """
    own = model.state_dict()
    allow_missing, allow_unexpected = tuple(allow_missing), tuple(allow_unexpected)
    missing = [k for k in own if k not in state_dict and not k.startswith(allow_missing)]
    unexpected = [k for k in state_dict if k not in own and not k.startswith(allow_unexpected)]
    shapes = [
        (k, tuple(state_dict[k].shape), tuple(own[k].shape))
        for k in own
        if k in state_dict and tuple(state_dict[k].shape) != tuple(own[k].shape)
    ]
    if missing or unexpected or shapes:
        lines = [f"{source}: state dict does not match {type(model).__name__}"]
        if missing:
            lines.append(f"  missing keys ({len(missing)}): {missing[:10]}{' ...' if len(missing) > 10 else ''}")
        if unexpected:
            lines.append(
                f"  unexpected keys ({len(unexpected)}): {unexpected[:10]}{' ...' if len(unexpected) > 10 else ''}"
            )
        for k, a, b in shapes[:10]:
            lines.append(f"  shape mismatch {k}: checkpoint {a} vs model {b}")
        raise CheckpointError("\n".join(lines))
    filtered = {k: v for k, v in state_dict.items() if k in own}
    model.load_state_dict(filtered, strict=False)
