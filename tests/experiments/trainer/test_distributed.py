"""DDP (2 gloo processes on CPU) equals one process on the concatenated batch."""
from __future__ import annotations

import os
import socket

import pytest
import torch
import torch.multiprocessing as tmp_mp

from experiments.trainer import RunSettings, train
from trackers.common.checkpoint import load_weights_only


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _worker(rank, world, port, settings, cfg, family, sources):
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank),
                      WORLD_SIZE=str(world), LOCAL_RANK=str(rank))
    torch.set_num_threads(1)
    train(settings, cfg=cfg, family=family, sources=sources)


@pytest.mark.slow
def test_two_gloo_processes_match_one_process_on_the_concatenated_batch(tmp_path, toy_sources, toy, monkeypatch):
    # 3 steps; 1 process x batch 4 vs 2 processes x batch 2: same effective batch, same lr, same samples
    cfg = toy.Config()
    common = dict(device="cpu", progress=False, plot=False, log_every=1, epochs=1, samples_per_epoch=12)
    single = train(RunSettings(preset="toy", out=str(tmp_path / "one"), batch_size=4, **common),
                   cfg=cfg, family=toy.Family, sources=toy_sources)
    ddp_settings = RunSettings(preset="toy", out=str(tmp_path / "ddp"), batch_size=2, **common)
    for var in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        monkeypatch.delenv(var, raising=False)
    tmp_mp.start_processes(_worker, args=(2, _free_port(), ddp_settings, cfg, toy.Family, toy_sources),
                           nprocs=2, join=True, start_method="fork")
    a = load_weights_only(single / "last.pt")
    b = load_weights_only(tmp_path / "ddp" / "last.pt")
    assert a["global_step"] == b["global_step"] == 3 and b["world_size"] == 2
    assert a["optimizer"]["param_groups"][0]["lr"] == b["optimizer"]["param_groups"][0]["lr"]
    for k in a["model"]:
        torch.testing.assert_close(b["model"][k], a["model"][k], rtol=1e-5, atol=1e-6)
    torch.manual_seed(cfg.train.seed)                     # the trainer's initialization
    init = toy.Family.build_model(cfg).state_dict()
    moved = max(float((a["model"][k] - init[k]).abs().max()) for k in init)
    assert moved > 1e-3                                   # the runs did train (the test can fail)
