"""Crash-safe file writing: write a temporary file in the same folder, fsync, rename.

Readers see either the old file or the new one, never half a file. Temporary files carry the
suffix ``.tmp-<pid>`` and a stale one left by a crash is ignored by every reader (no reader
globs for them) and removed by `clean_stale_tmp`.
"""
from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Callable

TMP_MARK = ".tmp-"


def _tmp_path(path: Path) -> Path:
    return path.with_name(f"{path.name}{TMP_MARK}{os.getpid()}")


def atomic_write(path: str | Path, write: Callable[[io.BufferedWriter], None]) -> Path:
    """Call ``write(fileobj)`` on a temporary file, fsync it, then atomically rename to `path`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _tmp_path(path)
    try:
        with open(tmp, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            tmp.unlink()
        except FileNotFoundError:
            pass
        raise
    try:  # persist the rename itself
        dfd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
    except OSError:
        pass
    return path


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    return atomic_write(path, lambda f: f.write(data))


def atomic_write_text(path: str | Path, text: str) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"))


def atomic_torch_save(obj: object, path: str | Path) -> Path:
    """`torch.save` through `atomic_write` (the checkpoint is complete or absent)."""
    import torch

    return atomic_write(path, lambda f: torch.save(obj, f))


def clean_stale_tmp(folder: str | Path) -> list[Path]:
    """Remove temporary files left in `folder` (non-recursive) by crashed writers."""
    removed = []
    folder = Path(folder)
    if not folder.is_dir():
        return removed
    for p in folder.iterdir():
        if TMP_MARK in p.name and p.is_file():
            try:
                p.unlink()
                removed.append(p)
            except FileNotFoundError:
                pass
    return removed
