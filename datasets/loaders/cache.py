"""On-disk caches of data-set indexes (TrackingNet listing, COCO annotation index).

Location: ``$TRACKKIT_CACHE`` (default ``~/.cache/trackkit``), one file per (kind, root), named
by a hash of the root's absolute path. Each cache stores a *stamp* (sizes / mtimes of what it was
built from); a cache whose stamp differs is rebuilt. Files are written atomically
(`datasets.fileio`), so a reader never sees half a cache; an unreadable cache file (e.g. from an
older format) is rebuilt too.
"""
from __future__ import annotations

import hashlib
import io
import json
import os
import zipfile
from pathlib import Path

import numpy as np

from datasets.fileio import atomic_write_bytes, atomic_write_text

FORMAT_VERSION = 1


def cache_dir() -> Path:
    """``$TRACKKIT_CACHE`` or ``~/.cache/trackkit``."""
    return Path(os.environ.get("TRACKKIT_CACHE") or "~/.cache/trackkit").expanduser()


def cache_path(kind: str, key: str | Path, suffix: str) -> Path:
    """Cache file for `kind` (e.g. ``trackingnet-index``) of `key` (a root or file path)."""
    digest = hashlib.sha1(str(Path(key).expanduser().absolute()).encode("utf-8")).hexdigest()[:16]
    return cache_dir() / f"{kind}-{digest}.{suffix}"


def load_json(path: Path) -> dict | None:
    """The cached dict, or None if absent, unreadable, or of another format version."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None  # corrupt or foreign: rebuilt by the caller
    if not isinstance(data, dict) or data.get("format_version") != FORMAT_VERSION:
        return None
    return data


def save_json(path: Path, data: dict) -> None:
    atomic_write_text(path, json.dumps({**data, "format_version": FORMAT_VERSION}, separators=(",", ":")))


def load_npz(path: Path, stamp: str) -> dict[str, np.ndarray] | None:
    """Arrays of a cached ``.npz`` whose ``stamp`` entry equals `stamp`, else None."""
    try:
        with np.load(path, allow_pickle=False) as z:
            if str(z["stamp"]) != stamp or int(z["format_version"]) != FORMAT_VERSION:
                return None
            return {k: z[k] for k in z.files}
    except FileNotFoundError:
        return None
    except (zipfile.BadZipFile, KeyError, ValueError, OSError, EOFError):   # EOFError: an empty file
        return None  # corrupt or foreign: rebuilt by the caller


def save_npz(path: Path, stamp: str, **arrays: np.ndarray) -> None:
    buf = io.BytesIO()
    np.savez(buf, stamp=np.array(stamp), format_version=np.array(FORMAT_VERSION), **arrays)
    atomic_write_bytes(path, buf.getvalue())
