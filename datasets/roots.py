"""Where the data sets live: a CLI flag, else an environment variable, else a clear error.

No generated path files, no machine-specific `local.py`.
"""
from __future__ import annotations

import os
from pathlib import Path

#: benchmark -> environment variable holding its root folder
ENV_VARS = {
    "got10k": "GOT10K_ROOT",
    "lasot": "LASOT_ROOT",
    "trackingnet": "TRACKINGNET_ROOT",
    "otb": "OTB_ROOT",
    "coco": "COCO_ROOT",
    "synthetic": "SYNTHETIC_ROOT",
}


class DatasetNotFoundError(FileNotFoundError):
    """A data-set root is unset or does not exist. The message names the flag and the variable."""


def resolve_root(benchmark: str, root: str | os.PathLike | None = None, flag: str = "--data-root") -> Path:
    """Return the root folder of `benchmark`: `root` if given, else ``$<ENV_VAR>``.

    Raises:
        DatasetNotFoundError: neither is set, or the folder does not exist.
    """
    if benchmark not in ENV_VARS:
        raise KeyError(f"unknown benchmark {benchmark!r}; known: {sorted(ENV_VARS)}")
    var = ENV_VARS[benchmark]
    value = root if root is not None else os.environ.get(var)
    if not value:
        raise DatasetNotFoundError(
            f"{benchmark}: no data root given. Pass {flag} DIR or set the environment variable {var}."
        )
    path = Path(value).expanduser()
    if not path.is_dir():
        source = flag if root is not None else f"${var}"
        raise DatasetNotFoundError(
            f"{benchmark}: data root {str(path)!r} (from {source}) does not exist or is not a folder. "
            f"Pass {flag} DIR or set the environment variable {var}."
        )
    return path
