"""Fixtures for the evaluation tests: a tiny GOT-10k-layout data set written to disk, a local
stand-in loader for it (``datasets.loaders`` is written by another engineer), and a deterministic
dummy tracker that follows the brightest blob."""
from __future__ import annotations

import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from datasets.frames import write_frame
from datasets.sequence import Sequence, SequenceDataset

W, H = 64, 48


def _box_track(n: int, seed: int) -> np.ndarray:
    """(n, 4) integer-pixel boxes of a square moving left to right and back."""
    rng = np.random.default_rng(seed)
    size = int(rng.integers(8, 14))
    x = np.round(5 + (W - size - 10) * (0.5 - 0.5 * np.cos(np.linspace(0, 2 * np.pi, n) + seed)))
    y = np.round(6 + 4 * np.sin(np.arange(n) / 3.0 + seed) + rng.integers(0, 20))
    return np.stack([x, y, np.full(n, size), np.full(n, size)], axis=1).astype(np.float64)


def write_got10k_fixture(
    root: Path,
    split: str = "val",
    lengths: tuple[int, ...] = (12, 9, 15),
    absent: dict[int, list[int]] | None = None,
    prefix: str = "GOT-10k_Val",
) -> Path:
    """Write a GOT-10k-layout split: JPEG frames with a bright square on a dark background,
    groundtruth.txt, absence/cover/cut_by_image labels and meta_info.ini. Returns ``root``."""
    absent = {1: [4, 5]} if absent is None else absent
    split_dir = root / split
    names = []
    for s, n in enumerate(lengths):
        name = f"{prefix}_{s + 1:06d}"
        names.append(name)
        d = split_dir / name
        d.mkdir(parents=True, exist_ok=True)
        boxes = _box_track(n, s)
        cover = np.full(n, 8, dtype=int)
        cover[absent.get(s, [])] = 0
        for i in range(n):
            img = np.full((H, W, 3), 20, np.uint8)
            if cover[i]:
                x, y, w, h = boxes[i].astype(int)
                img[y : y + h, x : x + w] = 235
            write_frame(d / f"{i + 1:08d}.jpg", img, quality=95)
        np.savetxt(d / "groundtruth.txt", boxes, fmt="%.4f", delimiter=",")
        np.savetxt(d / "cover.label", cover, fmt="%d")
        np.savetxt(d / "absence.label", (cover == 0).astype(int), fmt="%d")
        np.savetxt(d / "cut_by_image.label", np.zeros(n, int), fmt="%d")
        (d / "meta_info.ini").write_text(
            "[METAINFO]\nurl: none\nbegin: 0\nend: 0\nanno_fps: 10Hz\nobject_class: square\n"
            "motion_class: moving\nmajor_class: shape\nroot_class: object\nmotion_adverb: slowly\n"
            f"resolution: ({W}, {H})\n"
        )
    (split_dir / "list.txt").write_text("\n".join(names) + "\n")
    return root


class Got10kStandIn(SequenceDataset):
    """Minimal GOT-10k loader for the fixtures: visible = cover > 0 and not absent."""

    benchmark = "got10k"

    def _list_names(self) -> list[str]:
        return (self.root / self.split / "list.txt").read_text().split()

    def _load(self, name: str) -> Sequence:
        d = self.root / self.split / name
        boxes = np.loadtxt(d / "groundtruth.txt", delimiter=",", ndmin=2)
        frames = sorted(d.glob("*.jpg"))
        if boxes.shape[0] == 1 and len(frames) > 1:  # test split: first box only
            boxes = np.vstack([boxes, np.full((len(frames) - 1, 4), np.nan)])
        cover = np.loadtxt(d / "cover.label", ndmin=1) if (d / "cover.label").exists() else np.ones(len(frames))
        absence = np.loadtxt(d / "absence.label", ndmin=1) if (d / "absence.label").exists() else np.zeros(len(frames))
        meta = dict(line.split(": ", 1) for line in (d / "meta_info.ini").read_text().splitlines()[1:])
        return Sequence(name=name, frames=tuple(frames), boxes=boxes, visible=(cover > 0) & (absence == 0),
                        meta={"resolution": meta["resolution"]})


class BrightBlobTracker:
    """Deterministic dummy tracker: box of the initial size centred on the bright pixels' centroid
    (repeats the last box when nothing is bright). Optional per-frame sleep and hooks for tests."""

    name = "brightblob"

    def __init__(self, sleep: float = 0.0, on_frame=None) -> None:
        self.sleep, self.on_frame = sleep, on_frame
        self.frame = 0

    def initialize(self, image: np.ndarray, box: np.ndarray) -> None:
        self.box = np.asarray(box, dtype=np.float64).copy()
        self.frame = 0

    def track(self, image: np.ndarray):
        self.frame += 1
        if self.sleep:
            time.sleep(self.sleep)
        if self.on_frame is not None:
            self.on_frame(self.frame)
        ys, xs = np.nonzero(image[:, :, 0] > 128)
        if xs.size:
            cx, cy = xs.mean() + 0.5, ys.mean() + 0.5
            w, h = self.box[2:]
            # a deterministic, non-trivial float output (exercises %.3f formatting)
            self.box = np.array([cx - w / 2 + 0.1234567, cy - h / 2 - 0.0765432, w, h])
        return self.box.copy(), float(xs.size) / image[:, :, 0].size


@pytest.fixture
def got10k_root(tmp_path: Path) -> Path:
    return write_got10k_fixture(tmp_path / "GOT10k")


@pytest.fixture
def got10k_val(got10k_root: Path) -> Got10kStandIn:
    return Got10kStandIn(got10k_root, "val")


@pytest.fixture
def evtools() -> SimpleNamespace:
    """The helpers above for test modules (test files cannot import this conftest directly)."""
    return SimpleNamespace(
        write_got10k_fixture=write_got10k_fixture, Got10kStandIn=Got10kStandIn,
        BrightBlobTracker=BrightBlobTracker, conftest_path=Path(__file__),
    )
