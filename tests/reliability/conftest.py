"""Tools shared by the reliability suites.

* `write_got10k`: a tiny GOT-10k-layout split on disk (JPEG frames with a bright square), read
  back with the real `datasets.loaders.got10k.GOT10kDataset`;
* `BlobTracker`: a deterministic dummy tracker (centroid of the bright pixels), optionally slow;
* a toy tracker family (2-layer conv net, MSE on the HCTrack batch) that trains in about a second;
* `fork_and_kill`: run a function in a forked child and SIGKILL it after its n-th progress event
  (fork keeps the already imported modules, so a kill-and-rerun cycle costs milliseconds, not a
  fresh interpreter);
* `tally`: tests count the kills survived and the bad inputs tried; the totals are printed in the
  terminal summary (when this folder's conftest is loaded by the controlling process, i.e. when
  ``tests/reliability`` is named on the command line).
"""
from __future__ import annotations

import multiprocessing as mp
import os
import signal
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pytest
import torch
from torch import nn

from datasets.frames import write_frame
from datasets.processing.config import OSTrackProcessingConfig
from trackers.base import TrainConfig

FRAME_HW = (48, 64)


# ---------------------------------------------------------------------------------------------
# data on disk
# ---------------------------------------------------------------------------------------------


def square_track(n: int, seed: int, hw: tuple[int, int] = FRAME_HW) -> np.ndarray:
    """(n, 4) integer-pixel xywh boxes of a square drifting across an ``hw`` frame."""
    rng = np.random.default_rng(seed)
    size = int(rng.integers(9, 14))
    h, w = hw
    t = np.arange(n)
    x = (4 + (3 * t + 7 * seed) % (w - size - 8)).astype(float)
    y = (4 + (2 * t + 5 * seed) % (h - size - 8)).astype(float)
    return np.stack([x, y, np.full(n, size), np.full(n, size)], axis=1)


def write_got10k(root: Path, lengths: tuple[int, ...], split: str = "val", hw: tuple[int, int] = FRAME_HW) -> Path:
    """Write a GOT-10k-layout split under ``root/split`` (frames, groundtruth.txt, labels,
    meta_info.ini, list.txt). Sequence ``k`` is named ``GOT-10k_Test_{k+1:06d}``. Returns `root`."""
    names = []
    for k, n in enumerate(lengths):
        name = f"GOT-10k_Test_{k + 1:06d}"
        names.append(name)
        d = root / split / name
        boxes = square_track(n, k, hw)
        for i, (x, y, w, h) in enumerate(boxes.astype(int)):
            img = np.full((*hw, 3), 25, np.uint8)
            img[y:y + h, x:x + w] = (240, 220, 200)
            write_frame(d / f"{i + 1:08d}.jpg", img)
        (d / "groundtruth.txt").write_text("".join(f"{x:.4f},{y:.4f},{w:.4f},{h:.4f}\n" for x, y, w, h in boxes))
        (d / "absence.label").write_text("0\n" * n)
        (d / "cover.label").write_text("8\n" * n)
        (d / "meta_info.ini").write_text(f"[METAINFO]\nobject_class: square\nresolution: ({hw[1]}, {hw[0]})\n")
    (root / split / "list.txt").write_text("".join(f"{nm}\n" for nm in names))
    return root


class BlobTracker:
    """Deterministic dummy tracker: a box of the initial size centred on the bright pixels.

    Args:
        sleep: seconds to sleep per tracked frame (to give kills room to land mid-sequence).
        on_frame: called after each tracked frame (progress reporting in forked children).
    """

    name = "blob"

    def __init__(self, sleep: float = 0.0, on_frame: Callable[[], None] | None = None) -> None:
        self.sleep, self.on_frame = sleep, on_frame

    def initialize(self, image: np.ndarray, box: np.ndarray) -> None:
        self.box = np.asarray(box, dtype=np.float64).copy()

    def track(self, image: np.ndarray):
        if self.sleep:
            time.sleep(self.sleep)
        ys, xs = np.nonzero(image[:, :, 0] > 128)
        if xs.size:
            w, h = self.box[2:]
            self.box = np.array([xs.mean() + 0.5 - w / 2 + 0.123456, ys.mean() + 0.5 - h / 2 - 0.0654321, w, h])
        if self.on_frame is not None:
            self.on_frame()
        return self.box.copy(), float(xs.size > 0)


# ---------------------------------------------------------------------------------------------
# toy training family
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ToyConfig:
    """A training config shaped like the presets' (name, family, data, train)."""

    name: str = "toy"
    family: str = "toy"
    data: OSTrackProcessingConfig = field(default_factory=lambda: OSTrackProcessingConfig(
        template_size=32, search_size=64, stride=16, max_gap=5, image_min_box_side=0.0))
    train: TrainConfig = field(default_factory=lambda: TrainConfig(
        lr=1e-2, reference_batch=4, batch_size=4, videos_per_batch_pairs=2, epochs=3, samples_per_epoch=16,
        lr_step_epochs=1, lr_gamma=0.5, grad_clip=1.0, dataset_ratios=(("got10k", 1.0),)))


class ToyNet(nn.Module):
    """search (B, 3, 64, 64) -> (B, 4, 4) map; dropout so that the RNG state matters on resume."""

    def __init__(self) -> None:
        super().__init__()
        self.backbone = nn.Conv2d(3, 4, 3, stride=4, padding=1)
        self.drop = nn.Dropout(0.2)
        self.head = nn.Conv2d(4, 1, 3, padding=1)

    def forward(self, search: torch.Tensor) -> torch.Tensor:
        x = self.head(self.drop(torch.relu(self.backbone(search))))
        return nn.functional.adaptive_avg_pool2d(x, 4)[:, 0]


class ToyActor:
    def __call__(self, model, batch):
        loss = nn.functional.mse_loss(model(batch["search"]), batch["search_heatmap"])
        return loss, {"mse": float(loss.detach())}

    def after_step(self, model) -> None:
        pass


class ToyFamily:
    @staticmethod
    def build_model(cfg):
        return ToyNet()

    @staticmethod
    def build_actor(cfg):
        return ToyActor()


# ---------------------------------------------------------------------------------------------
# fork and kill
# ---------------------------------------------------------------------------------------------


@dataclass
class ChildOutcome:
    """What happened to a forked child: ``killed`` (by us), else its exit code and error text."""

    killed: bool
    events: int
    exitcode: int | None
    error: str = ""


def _child_main(conn, fn: Callable[..., Any], args: tuple) -> None:
    try:
        fn(lambda value=None: conn.send(("event", value)), *args)
        conn.send(("done", None))
    except BaseException:  # reported to the parent, which fails the test with it
        conn.send(("error", traceback.format_exc()))
        raise


def fork_and_kill(fn: Callable[..., Any], args: tuple, kill_after: int | None, delay_s: float = 0.0,
                  timeout_s: float = 60.0) -> ChildOutcome:
    """Run ``fn(report, *args)`` in a forked child; ``report()`` is its progress callback.

    After the child's `kill_after`-th report (None: never) wait `delay_s` seconds and SIGKILL it.
    If the child finishes first, its exit code and error are returned instead.
    """
    ctx = mp.get_context("fork")
    parent, child = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_child_main, args=(child, fn, args), daemon=True)
    proc.start()
    child.close()
    events, error, deadline = 0, "", time.monotonic() + timeout_s
    try:
        while True:
            if time.monotonic() > deadline:
                raise TimeoutError(f"forked child still running after {timeout_s} s ({events} events)")
            if not parent.poll(0.05):
                if not proc.is_alive() and not parent.poll(0):
                    break
                continue
            try:
                kind, _ = msg = parent.recv()
            except EOFError:
                break
            if kind == "event":
                events += 1
                if kill_after is not None and events >= kill_after:
                    if delay_s > 0:
                        time.sleep(delay_s)
                    os.kill(proc.pid, signal.SIGKILL)
                    proc.join(30)
                    if proc.exitcode == -signal.SIGKILL:
                        return ChildOutcome(True, events, proc.exitcode)
                    break  # it finished inside the delay
            elif kind == "error":
                error = msg[1]
            elif kind == "done":
                break
    finally:
        if proc.is_alive() and proc.exitcode is None:
            proc.join(30)
        if proc.is_alive():
            os.kill(proc.pid, signal.SIGKILL)
            proc.join(5)
        parent.close()
    return ChildOutcome(False, events, proc.exitcode, error)


def tmp_files(folder: Path) -> list[Path]:
    """Temporary files of `datasets.fileio` (``*.tmp-<pid>*``) anywhere under `folder`."""
    return sorted(p for p in Path(folder).rglob("*") if ".tmp-" in p.name)


# ---------------------------------------------------------------------------------------------
# tally
# ---------------------------------------------------------------------------------------------


class Tally:
    """Per-test counters, stored as user properties so they reach the terminal summary."""

    def __init__(self, node) -> None:
        self.node = node

    def add(self, key: str, n: int = 1) -> None:
        self.node.user_properties.append((key, int(n)))


@pytest.fixture
def tally(request) -> Tally:
    return Tally(request.node)


def pytest_terminal_summary(terminalreporter) -> None:
    totals: dict[str, int] = {}
    for rep in terminalreporter.stats.get("passed", []):
        if getattr(rep, "when", "call") != "call":
            continue
        for key, n in getattr(rep, "user_properties", ()):
            if key in ("kills_survived", "bad_inputs", "stale_tmp_cleaned"):
                totals[key] = totals.get(key, 0) + n
    if totals:
        terminalreporter.write_sep("-", "reliability")
        for key in sorted(totals):
            terminalreporter.write_line(f"{key.replace('_', ' ')}: {totals[key]}")


@pytest.fixture(autouse=True)
def _one_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture
def tools():
    """This module's helpers (test modules cannot import a conftest under importlib mode)."""
    from types import SimpleNamespace

    return SimpleNamespace(
        write_got10k=write_got10k, square_track=square_track, BlobTracker=BlobTracker, ToyConfig=ToyConfig,
        ToyFamily=ToyFamily, fork_and_kill=fork_and_kill, tmp_files=tmp_files,
    )
