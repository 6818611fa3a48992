"""The training library behind ``python -m experiments.train``.

* `run.train(settings)`: one run (single process or torchrun/DDP), from `settings.RunSettings`;
* `loop.Trainer` + `hooks`: the step loop and its progress / log / checkpoint hooks;
* `optim`: parameter groups, linear lr scaling, fused AdamW, StepLR;
* `checkpoint`: weights-only full-state checkpoints (model, optimizer, scheduler, scaler, RNG);
* `release`: slim release weights, `export_release` / `load_release`;
* `data`: ``--data`` entries -> data sets and per-epoch loaders;
* `distributed`: torchrun environment, process group.

Tracker-specific objectives are the family actors (``trackers/<family>/api.py``).
"""
from experiments.trainer.release import export_release, load_release
from experiments.trainer.run import train
from experiments.trainer.settings import DataSpec, RunSettings

__all__ = ["DataSpec", "RunSettings", "export_release", "load_release", "train"]
