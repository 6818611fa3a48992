"""Fixture helpers for loader tests: tiny JPEG frames and an isolated cache directory."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

_JPEG = cv2.imencode(".jpg", np.full((8, 8, 3), 127, np.uint8))[1].tobytes()


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("TRACKKIT_CACHE", str(tmp_path / "cache"))


@pytest.fixture
def write_frames():
    """write_frames(folder, names) -> list of paths (tiny identical JPEG/PNG bytes)."""

    def write(folder: Path, names) -> list[Path]:
        folder.mkdir(parents=True, exist_ok=True)
        out = []
        for n in names:
            p = folder / n
            p.write_bytes(_JPEG if not n.endswith(".png") else cv2.imencode(".png", np.zeros((4, 4, 3), np.uint8))[1].tobytes())
            out.append(p)
        return out

    return write
