"""Crash-safe file writing: write a temporary file in the same folder, fsync, rename.

Readers see either the old file or the new one, never half a file. Temporary files carry the
suffix ``.tmp-<pid>`` and a stale one left by a crash is ignored by every reader (no reader
globs for them) and removed by `clean_stale_tmp`.
"""
from __future__ import annotations

import io
import os
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

TMP_MARK = ".tmp-"


def _tmp_path(path: Path) -> Path:
    return path.with_name(f"{path.name}{TMP_MARK}{os.getpid()}")


def _fsync_dir(folder: Path) -> None:
    try:  # persist a rename
        dfd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
    except OSError:
        pass


def _discard(tmp: Path) -> None:
    try:
        tmp.unlink()
    except FileNotFoundError:
        pass


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
        _discard(tmp)
        raise
    _fsync_dir(path.parent)
    return path


@contextmanager
def atomic_output_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path next to `path` for writers that need a file *name* (``cv2.VideoWriter``,
    ``cv2.imwrite``): on a clean exit the file is fsynced and renamed to `path`; on an error it is
    deleted. The temporary name keeps the suffix (``clip.mp4.tmp-<pid>.mp4``) because such writers
    pick the format from it, and carries ``.tmp-`` so `clean_stale_tmp` removes a crashed one.

    Raises:
        FileNotFoundError: the body finished without creating the temporary file.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}{TMP_MARK}{os.getpid()}{path.suffix}")
    try:
        yield tmp
        if not tmp.is_file():
            raise FileNotFoundError(f"{tmp}: the writer did not create the file meant for {path}")
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        _discard(tmp)
        raise
    _fsync_dir(path.parent)


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
