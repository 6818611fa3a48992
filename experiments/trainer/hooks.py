"""Trainer hooks: progress bars, the CSV log and loss plot, checkpoints (rank 0 writes files)."""
from __future__ import annotations

import logging
import shutil
from pathlib import Path
from typing import Callable

from tqdm import tqdm

from datasets.fileio import atomic_write
from experiments.trainer.checkpoint import LAST, capture_rng, save_checkpoint
from experiments.trainer.logs import CSVLog, plot_log
from experiments.trainer.loop import Hook, Trainer, unwrap

log = logging.getLogger(__name__)


class ProgressHook(Hook):
    """A tqdm bar per epoch with the latest loss (rank 0 only)."""

    def __init__(self, enabled: bool = True) -> None:
        self.enabled = enabled
        self.bar: tqdm | None = None

    def before_epoch(self, trainer: Trainer) -> None:
        if self.enabled and trainer.env.is_main:
            s = trainer.state
            self.bar = tqdm(total=trainer.steps_per_epoch, initial=s.epoch_step, desc=f"epoch {s.epoch + 1}/{trainer.epochs}",
                            dynamic_ncols=True, mininterval=1.0, leave=False)

    def after_step(self, trainer: Trainer, stats: dict, row: dict | None) -> None:
        if self.bar is not None:
            self.bar.update(1)
            if row is not None:
                self.bar.set_postfix(loss=f"{row.get('loss', float('nan')):.4f}", refresh=False)

    def after_epoch(self, trainer: Trainer) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None

    after_train = after_epoch


class LogHook(Hook):
    """Collects the trainer's averaged rows; rewrites ``log.csv`` and ``loss.png`` (unless
    `plot_path` is None) each epoch."""

    def __init__(self, csv_log: CSVLog, plot_path: str | Path | None, title: str = "") -> None:
        self.csv = csv_log
        self.plot_path = Path(plot_path) if plot_path is not None else None
        self.title = title
        self._plotted = -1

    def after_step(self, trainer: Trainer, stats: dict, row: dict | None) -> None:
        if row is not None and trainer.env.is_main:
            self.csv.append(row)

    def after_epoch(self, trainer: Trainer) -> None:
        if trainer.env.is_main and len(self.csv.rows) != self._plotted:
            self.csv.write()
            if self.plot_path is not None:
                plot_log(self.csv, self.plot_path, self.title)
            self._plotted = len(self.csv.rows)

    after_train = after_epoch


class CheckpointHook(Hook):
    """``last.pt`` at every epoch end and every ``every`` steps; ``epoch_XXXX.pt`` copies every
    ``keep_every`` epochs. Saves are atomic; the CSV log is rewritten before each checkpoint.

    Args:
        out: run directory.
        meta: ``() -> dict`` of the run's fixed fields (preset, config, settings, world_size).
        csv_log: rewritten just before each checkpoint, so the log never lags behind it (resuming
            drops the rows after the checkpoint's step: `CSVLog.load`).
    """

    def __init__(self, out: str | Path, meta: Callable[[], dict], every: int = 0, keep_every: int = 0,
                 csv_log: CSVLog | None = None) -> None:
        self.out = Path(out)
        self.meta = meta
        self.every, self.keep_every = int(every), int(keep_every)
        self.csv = csv_log

    def save(self, trainer: Trainer) -> Path | None:
        if not trainer.env.is_main:
            return None
        s = trainer.state
        epoch, epoch_step = (s.epoch + 1, 0) if s.epoch_step == trainer.steps_per_epoch else (s.epoch, s.epoch_step)
        if self.csv is not None:  # log first: a kill between the two leaves the log ahead, never behind
            self.csv.write()
        path = save_checkpoint(
            self.out / LAST, **self.meta(),
            model=unwrap(trainer.model).state_dict(), optimizer=trainer.optimizer.state_dict(),
            scheduler=trainer.scheduler.state_dict(), scaler=trainer.scaler.state_dict(), rng=capture_rng(),
            epoch=epoch, epoch_step=epoch_step, global_step=s.global_step,
        )
        return path

    def after_step(self, trainer: Trainer, stats: dict, row: dict | None) -> None:
        s = trainer.state
        if self.every and s.global_step % self.every == 0 and s.epoch_step != trainer.steps_per_epoch:
            self.save(trainer)

    def after_epoch(self, trainer: Trainer) -> None:
        path = self.save(trainer)
        e = trainer.state.epoch             # epochs completed
        if path is not None and self.keep_every and e % self.keep_every == 0:
            with open(path, "rb") as src:
                atomic_write(self.out / f"epoch_{e:04d}.pt", lambda dst: shutil.copyfileobj(src, dst, 1 << 24))
            log.info("kept checkpoint %s", self.out / f"epoch_{e:04d}.pt")
