"""The training loop: epochs of optimizer steps, with five hook points.

``Trainer.train`` is a bare loop; progress bars, the CSV log, the plot and checkpoints are hooks
(`experiments.trainer.hooks`). A step is: batch to device -> ``loss, stats = actor(model, batch)``
(under autocast on CUDA when AMP is on) -> finite check -> backward (scaled for fp16) -> gradient
clip -> optimizer step -> ``actor.after_step(model)`` (e.g. CIA's momentum update).
"""
from __future__ import annotations

import contextlib
import math
import time
from dataclasses import dataclass
from typing import Any, Callable, Iterable

import torch
from torch import nn

from datasets.sampling.dataset import STAT_KEYS
from experiments.trainer.distributed import DistEnv, all_reduce_mean, all_reduce_sum_ints


@dataclass
class TrainState:
    """Position of the next step: ``epoch`` (0-based), ``epoch_step`` in it, ``global_step`` overall."""

    epoch: int = 0
    epoch_step: int = 0
    global_step: int = 0


class Hook:
    """Override any of the five points; each receives the trainer."""

    def before_train(self, trainer: "Trainer") -> None: ...

    def before_epoch(self, trainer: "Trainer") -> None: ...

    def after_step(self, trainer: "Trainer", stats: dict[str, float], row: dict[str, float] | None) -> None: ...

    def after_epoch(self, trainer: "Trainer") -> None: ...

    def after_train(self, trainer: "Trainer") -> None: ...


def unwrap(model: nn.Module) -> nn.Module:
    """The module inside a DistributedDataParallel wrapper (or the model itself)."""
    return model.module if isinstance(model, nn.parallel.DistributedDataParallel) else model


def move_batch(batch: dict, device: str) -> dict:
    """Tensors to `device` (non-blocking); other values (e.g. ``data_stats``) unchanged."""
    return {k: (v.to(device, non_blocking=True) if isinstance(v, torch.Tensor) else v) for k, v in batch.items()}


class _Meter:
    """Running sums of step stats between two log rows."""

    def __init__(self) -> None:
        self.sums: dict[str, float] = {}
        self.count = 0

    def add(self, stats: dict[str, float]) -> None:
        for k, v in stats.items():
            self.sums[k] = self.sums.get(k, 0.0) + float(v)
        self.count += 1

    def mean(self) -> dict[str, float]:
        return {k: v / max(self.count, 1) for k, v in self.sums.items()}


class Trainer:
    """Runs the optimization; everything else is a hook.

    Args:
        model: the (possibly DDP-wrapped) training graph; the actor is called with it.
        actor: ``actor(model, batch) -> (loss, stats)`` and ``actor.after_step(model)``.
        optimizer, scheduler: the scheduler steps once per epoch.
        scaler: ``torch.amp.GradScaler`` (disabled unless fp16 AMP).
        make_loader: ``(epoch, start_step) -> iterable of batches`` for this rank.
        env: the process's place in the job.
        epochs, steps_per_epoch: schedule length.
        grad_clip: max global gradient norm, None = off.
        amp_dtype: autocast dtype on CUDA, or None.
        log_every: steps per averaged log row (rows are also made at epoch ends and at
            `checkpoint_every` multiples, so the CSV matches every checkpoint).
        hooks: called in order at each point.
    """

    def __init__(
        self,
        model: nn.Module,
        actor: Any,
        optimizer: torch.optim.Optimizer,
        scheduler: torch.optim.lr_scheduler.LRScheduler,
        scaler: torch.amp.GradScaler,
        make_loader: Callable[[int, int], Iterable[dict]],
        env: DistEnv,
        epochs: int,
        steps_per_epoch: int,
        grad_clip: float | None = None,
        amp_dtype: torch.dtype | None = None,
        log_every: int = 10,
        checkpoint_every: int = 0,
        hooks: Iterable[Hook] = (),
    ) -> None:
        self.model, self.actor = model, actor
        self.optimizer, self.scheduler, self.scaler = optimizer, scheduler, scaler
        self.make_loader = make_loader
        self.env = env
        self.epochs, self.steps_per_epoch = int(epochs), int(steps_per_epoch)
        self.grad_clip = grad_clip
        self.amp_dtype = amp_dtype
        self.log_every, self.checkpoint_every = int(log_every), int(checkpoint_every)
        self.hooks = list(hooks)
        self.state = TrainState()
        self.data_totals = dict.fromkeys(STAT_KEYS, 0)
        self._meter = _Meter()
        self._t0 = time.time()
        self._params = [p for g in optimizer.param_groups for p in g["params"]]

    # -- loop ---------------------------------------------------------------------------------
    def train(self, start: TrainState | None = None) -> TrainState:
        self.state = start or TrainState()
        self._call("before_train")
        while self.state.epoch < self.epochs:
            self.model.train()
            self._call("before_epoch")
            for batch in self.make_loader(self.state.epoch, self.state.epoch_step):
                stats = self.run_step(batch)
                self.state.epoch_step += 1
                self.state.global_step += 1
                row = self._log_row(stats, epoch_end=self.state.epoch_step == self.steps_per_epoch)
                for h in self.hooks:
                    h.after_step(self, stats, row)
            if self.state.epoch_step != self.steps_per_epoch:
                raise RuntimeError(
                    f"epoch {self.state.epoch}: the loader gave {self.state.epoch_step} steps, "
                    f"expected {self.steps_per_epoch}"
                )
            self.scheduler.step()
            self.state.epoch += 1
            self.state.epoch_step = 0
            self._call("after_epoch")
        self._call("after_train")
        return self.state

    def run_step(self, batch: dict) -> dict[str, float]:
        """One optimizer step on `batch`. Returns the actor's stats plus ``loss``.

        Raises:
            FloatingPointError: the loss is NaN or infinite (names the step and every loss term).
        """
        stats_data = batch.get("data_stats") or {}
        for k in self.data_totals:
            self.data_totals[k] += int(stats_data.get(k, 0))
        batch = move_batch(batch, self.env.device)
        amp = (torch.autocast(device_type="cuda", dtype=self.amp_dtype)
               if self.amp_dtype is not None else contextlib.nullcontext())
        with amp:
            loss, stats = self.actor(self.model, batch)
        stats = {k: float(v) for k, v in stats.items()}
        stats["loss"] = float(loss.detach())
        if not math.isfinite(stats["loss"]):
            s = self.state
            raise FloatingPointError(
                f"non-finite loss at global step {s.global_step} (epoch {s.epoch}, step {s.epoch_step}): "
                f"losses {stats}"
            )
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        if self.grad_clip is not None:
            self.scaler.unscale_(self.optimizer)
            stats["grad_norm"] = float(torch.nn.utils.clip_grad_norm_(self._params, self.grad_clip))
        self.scaler.step(self.optimizer)
        self.scaler.update()
        after = getattr(self.actor, "after_step", None)
        if after is not None:
            after(unwrap(self.model))
        return stats

    # -- helpers ------------------------------------------------------------------------------
    def _call(self, point: str) -> None:
        for h in self.hooks:
            getattr(h, point)(self)

    def _log_row(self, stats: dict[str, float], epoch_end: bool) -> dict[str, float] | None:
        """Collective on all ranks at the same steps: averaged stats, lrs, data counters."""
        self._meter.add(stats)
        g = self.state.global_step
        if not (epoch_end or g % self.log_every == 0 or (self.checkpoint_every and g % self.checkpoint_every == 0)):
            return None
        mean = self._meter.mean()
        keys = sorted(mean)
        values = all_reduce_mean([mean[k] for k in keys], self.env)
        totals = all_reduce_sum_ints([self.data_totals[k] for k in STAT_KEYS], self.env)
        self._meter = _Meter()
        row = {"epoch": float(self.state.epoch), "step": float(g), "time_s": round(time.time() - self._t0, 3)}
        for grp in self.optimizer.param_groups:
            row[f"lr/{grp.get('name', 'group')}"] = float(grp["lr"])
        row.update(dict(zip(keys, values)))
        row.update({f"data/{k}": float(v) for k, v in zip(STAT_KEYS, totals)})
        return row
