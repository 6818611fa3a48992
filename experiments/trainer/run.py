"""`train`: one training run from `RunSettings` (what ``python -m experiments.train`` calls).

Order of work (rank 0 writes files, every rank trains):

1. resolve the preset config (flags, ``--set``), pick the device, join the process group;
2. new run: refuse an existing ``last.pt`` in ``out`` (pass ``--resume``), write ``config.json``
   (resolved config, settings, git SHA, seed, world size, lr scale) before step 0;
   resume: load ``last.pt`` (or the given file), check the preset, warn about config changes;
3. seed torch / numpy / random with ``cfg.train.seed`` and build the model (identical on every
   rank), then reseed with ``seed + rank`` for the training randomness (dropout, shuffles);
4. optimizer, StepLR, GradScaler (fp16 only), AMP dtype (CUDA only); restore their state when
   resuming; wrap the model in DistributedDataParallel when ``WORLD_SIZE > 1``;
5. data: processing from ``cfg.data``, data sets from ``--data``, per-epoch loaders;
6. train with progress, CSV log, plot and checkpoint hooks; finally ``release.pt``.

Exact resume: the data of every step is a function of (seed, epoch, item index), and the model,
optimizer, scheduler, scaler and RNG states come from the checkpoint, so a resumed single-process
CPU run ends with the same parameters, bit for bit, as an uninterrupted one (tested). Under DDP the
checkpoint holds rank 0's RNG state; ranks > 0 are reseeded from (seed, rank, step), which only
matters for models with stochastic layers.

CPU: ``torch.set_flush_denormal(True)`` and fused AdamW (cpu_training_notes.md: 5x on this class
of machine).
"""
from __future__ import annotations

import json
import logging
import platform
import random
import subprocess
from pathlib import Path
from typing import Any, Iterable

import numpy as np
import torch
from torch import nn

from datasets.fileio import atomic_torch_save, atomic_write_text, clean_stale_tmp
from datasets.processing import build_processing
from datasets.sampling import GroupedSampleDataset
from experiments.trainer.checkpoint import LAST, diff_dicts, load_checkpoint, restore_rng
from experiments.trainer.data import build_mixture, load_sources, loader_factory
from experiments.trainer.distributed import DistEnv, barrier, cleanup_distributed, init_distributed
from experiments.trainer.hooks import CheckpointHook, LogHook, ProgressHook
from experiments.trainer.logs import CSVLog
from experiments.trainer.loop import Hook, Trainer, TrainState
from experiments.trainer.optim import build_optimizer, build_param_groups, build_scheduler, lr_scale
from experiments.trainer.release import release_dict
from experiments.trainer.settings import RunSettings, config_dict, resolve_config, settings_dict
from trackers.common.checkpoint import CheckpointError, load_state_dict_strict

log = logging.getLogger(__name__)

RELEASE = "release.pt"
CONFIG = "config.json"


def git_state(repo: Path | None = None) -> dict:
    """``{"sha": str, "dirty": bool | None}`` of the source tree ("unknown" outside git)."""
    repo = repo or Path(__file__).resolve().parents[2]
    try:
        sha = subprocess.run(["git", "-C", str(repo), "rev-parse", "HEAD"], capture_output=True, text=True,
                             check=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(repo), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, check=True, timeout=10).stdout.strip() != ""
        return {"sha": sha, "dirty": dirty}
    except (OSError, subprocess.SubprocessError) as e:
        log.warning("git SHA unavailable (%s); recording 'unknown'", e)
        return {"sha": "unknown", "dirty": None}


def _amp_dtype(settings: RunSettings, cfg: Any, env: DistEnv) -> torch.dtype | None:
    if not env.device.startswith("cuda") or settings.amp == "off":
        return None
    if settings.amp == "auto":
        if not cfg.train.amp:
            return None
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.bfloat16 if settings.amp == "bf16" else torch.float16


def _seed_all(seed: int) -> None:
    torch.manual_seed(seed)
    np.random.seed(seed % (2 ** 32))
    random.seed(seed)


def category_index_for(cfg: Any, family: Any):
    """Category name -> LaSOT class index for the processing (DiMP batches' ``category``).

    The family API's ``category_index`` when it has one, else the CIA family's table
    (``trackers.cia.categories.category_index``) for CIA configs, else None (all -1).
    """
    fn = getattr(family, "category_index", None)
    if callable(fn):
        return fn
    if getattr(cfg, "family", None) == "cia":
        from trackers.cia.categories import category_index

        return category_index
    return None


def train(
    settings: RunSettings,
    *,
    cfg: Any | None = None,
    family: Any | None = None,
    sources: list | None = None,
    hooks: Iterable[Hook] = (),
    frame_reader: Any | None = None,
) -> Path:
    """Run (or resume) training; returns the run directory.

    Args:
        settings: the run (see `RunSettings`).
        cfg: use this config instead of the registry's preset (tests, notebooks); overrides in
            `settings` are still applied.
        family: object with ``build_model``, ``build_actor`` (and optionally ``param_groups``,
            ``category_index``); default: the preset's family API (`trackers.registry.family_api`).
        sources: ``(name, SequenceDataset, ratio)`` triples instead of ``settings.data``.
        hooks: extra hooks, called after the built-in ones.
        frame_reader: path -> RGB uint8 frame (default `datasets.frames.read_frame`).
    """
    env = init_distributed(settings.device)
    flush_before = flush_denormal_enabled()
    try:
        return _train(env, settings, cfg, family, sources, list(hooks), frame_reader)
    finally:
        torch.set_flush_denormal(flush_before)   # process-wide CPU state: give it back to the caller
        cleanup_distributed(env)


def flush_denormal_enabled() -> bool:
    """Whether the CPU currently flushes denormal floats to zero (``torch.set_flush_denormal``)."""
    return float(torch.tensor([1e-39], dtype=torch.float32).mul(1.0)) == 0.0


def _open_run(out: Path, settings: RunSettings, cfg: Any, preset: str, world: int) -> dict | None:
    """The checkpoint to resume (checked against the preset), or None for a new run whose
    directory must not already hold one."""
    if not settings.resume:
        if (out / LAST).exists():
            raise FileExistsError(f"{out / LAST} exists: pass --resume to continue that run, or choose another --out")
        return None
    path = out / LAST if settings.resume == "auto" else Path(settings.resume)
    ckpt = load_checkpoint(path)
    if ckpt["preset"] != preset:
        raise CheckpointError(f"{path}: checkpoint of preset {ckpt['preset']!r}, cannot resume {preset!r}")
    changed = diff_dicts(ckpt.get("config", {}), config_dict(cfg))
    if changed:
        log.warning("resuming %s with a changed config (%s); the run is no longer an exact continuation",
                    path, ", ".join(changed[:10]))
    if ckpt.get("world_size", world) != world:
        log.warning("resuming %s with %d processes; it was written by %d", path, world, ckpt["world_size"])
    return ckpt


def _write_record(out: Path, meta: dict, cfg: Any, env: DistEnv, steps: int) -> None:
    """config.json: resolved config, settings, seed, git state, batch and lr scaling, versions."""
    tc = cfg.train
    record = {**meta, "seed": tc.seed, "git": git_state(), "effective_batch": tc.batch_size * env.world_size,
              "lr_scale": lr_scale(cfg, env.world_size), "steps_per_epoch": steps,
              "torch": torch.__version__, "python": platform.python_version(), "device": env.device}
    atomic_write_text(out / CONFIG, json.dumps(record, indent=2, default=str) + "\n")


def _restore(ckpt: dict, source: str, model, optimizer, scheduler, scaler, env: DistEnv, seed: int) -> TrainState:
    """Load every state of a training checkpoint; returns the position of the next step."""
    load_state_dict_strict(model, ckpt["model"], source=source)
    optimizer.load_state_dict(ckpt["optimizer"])
    scheduler.load_state_dict(ckpt["scheduler"])
    if ckpt.get("scaler"):
        scaler.load_state_dict(ckpt["scaler"])
    if env.is_main:
        restore_rng(ckpt["rng"])
    else:  # only rank 0's RNG state is saved; the others restart from (seed, rank, step)
        _seed_all(seed + 1000 * env.rank + 7919 * int(ckpt["global_step"]))
    start = TrainState(int(ckpt["epoch"]), int(ckpt["epoch_step"]), int(ckpt["global_step"]))
    log.info("resuming at epoch %d step %d (global step %d)", start.epoch, start.epoch_step, start.global_step)
    return start


def _train(env, settings, cfg, family, sources, extra_hooks, frame_reader) -> Path:
    from trackers.registry import family_api

    cfg = resolve_config(settings, cfg)
    preset = getattr(cfg, "name", settings.preset)
    family = family or family_api(cfg)
    out = Path(settings.out)
    if env.device == "cpu":
        torch.set_flush_denormal(True)
    tc = cfg.train
    world = env.world_size
    steps = tc.samples_per_epoch // (tc.batch_size * world)
    if steps < 1:
        raise ValueError(f"samples_per_epoch={tc.samples_per_epoch} is smaller than one step of "
                         f"batch_size {tc.batch_size} x {world} process(es)")
    # -- run directory ------------------------------------------------------------------------
    ckpt = _open_run(out, settings, cfg, preset, world)
    meta = {"preset": preset, "config": config_dict(cfg), "settings": settings_dict(settings), "world_size": world}
    if env.is_main:
        out.mkdir(parents=True, exist_ok=True)
        clean_stale_tmp(out)
        if ckpt is None:
            _write_record(out, meta, cfg, env, steps)
    barrier(env)
    # -- model, optimizer (identical initialization on every rank) -----------------------------
    _seed_all(tc.seed)
    model = family.build_model(cfg).to(env.device)
    actor = family.build_actor(cfg)
    if isinstance(actor, nn.Module):
        actor = actor.to(env.device)
    optimizer = build_optimizer(build_param_groups(model, cfg, world, getattr(family, "param_groups", None)),
                                cfg, env.device)
    scheduler = build_scheduler(optimizer, cfg)
    amp_dtype = _amp_dtype(settings, cfg, env)
    scaler = torch.amp.GradScaler("cuda", enabled=amp_dtype == torch.float16)
    _seed_all(tc.seed + 1000 * env.rank + 1)
    start = TrainState()
    if ckpt is not None:
        start = _restore(ckpt, str(settings.resume), model, optimizer, scheduler, scaler, env, tc.seed)
    train_model: nn.Module = model
    if env.distributed:
        train_model = nn.parallel.DistributedDataParallel(
            model, device_ids=[env.local_rank] if env.device.startswith("cuda") else None,
            find_unused_parameters=settings.find_unused_parameters,
        )
    # -- data ---------------------------------------------------------------------------------
    processing = build_processing(cfg.data, category_index_for(cfg, family))
    sources = sources if sources is not None else load_sources(settings.data, tc.dataset_ratios)
    kwargs = {} if frame_reader is None else {"frame_reader": frame_reader}
    dataset = GroupedSampleDataset(build_mixture(sources, processing), processing, tc.seed,
                                   tc.videos_per_batch_pairs, **kwargs)
    make_loader = loader_factory(dataset, tc.batch_size // tc.videos_per_batch_pairs, steps, env.rank, world,
                                 settings.workers, tc.seed, pin_memory=env.device.startswith("cuda"))
    # -- hooks, loop --------------------------------------------------------------------------
    csv_log = CSVLog(out / "log.csv")
    if ckpt is not None and env.is_main:
        csv_log.load(max_step=start.global_step)
    hooks = [
        ProgressHook(settings.progress),
        LogHook(csv_log, out / "loss.png" if settings.plot else None, title=f"{preset} ({out.name})"),
        CheckpointHook(out, lambda: meta, settings.checkpoint_every, settings.keep_every, csv_log),
        *extra_hooks,
    ]
    Trainer(train_model, actor, optimizer, scheduler, scaler, make_loader, env, tc.epochs, steps,
            grad_clip=tc.grad_clip, amp_dtype=amp_dtype, log_every=settings.log_every,
            checkpoint_every=settings.checkpoint_every, hooks=hooks).train(start)
    if env.is_main:
        atomic_torch_save(release_dict(preset, meta["config"], model.state_dict(),
                                       getattr(family, "TRAINING_ONLY_PREFIXES", ())), out / RELEASE)
        log.info("wrote %s", out / RELEASE)
    barrier(env)
    return out
