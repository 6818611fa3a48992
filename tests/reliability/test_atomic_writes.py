"""Crash safety of every file the toolkit writes.

* A static audit of the source: no raw file writes outside `datasets.fileio` (the one documented
  exception, the synthetic generator's staging folder, is renamed into place as a whole).
* A dynamic audit: each writer entry point (runner, scoring report + plots + tables, packing,
  videos, trainer files, caches, frames) is run with ``os.replace`` recorded, and every file it
  leaves behind must have arrived by a rename (written complete under a temporary name first).
* SIGKILL in the middle of a write leaves the old file intact and a stale temporary file that no
  reader lists and that the runner and the trainer remove when they start.
"""
from __future__ import annotations

import dataclasses
import io
import os
import re
from pathlib import Path

import numpy as np
import pytest

from datasets.fileio import TMP_MARK, atomic_write, atomic_write_bytes, clean_stale_tmp
from datasets.loaders.got10k import GOT10kDataset
from evaluation import results as rf
from evaluation.runner import run_tracker

REPO = Path(__file__).resolve().parents[2]
PACKAGES = ("datasets", "evaluation", "trackers", "experiments")

#: (regex, what it catches). A hit is allowed only with an entry in ALLOWED.
RAW_WRITES = [
    (r"""\bopen\([^)]*['"][wax]b?\+?['"]""", "open() for writing"),
    (r"\.write_text\(", "Path.write_text"),
    (r"\.write_bytes\(", "Path.write_bytes"),
    (r"\.tofile\(", "ndarray.tofile"),
    (r"\btorch\.save\(", "torch.save"),
    (r"\bnp\.(save|savez|savez_compressed|savetxt)\((?!buf\b)", "numpy save to a path"),
    (r"\.savefig\((?!buf\b)", "savefig to a path"),
    (r"\.to_(csv|json|parquet|pickle)\((?!index=False\)|\))", "pandas to_* with a path"),
    (r"\bjson\.dump\(", "json.dump to a file"),
    (r"\bcv2\.imwrite\(", "cv2.imwrite"),
    (r"\bVideoWriter\((?!str\(tmp\))", "cv2.VideoWriter not on an atomic_output_path"),
    (r"\bZipFile\((?!buf\b|io\.BytesIO)[^)]*['\"]w['\"]", "zipfile written to a path"),
    (r"\bshutil\.(copy|copyfile|copy2|move)\(", "shutil copy/move"),
    (r"\bos\.rename\(", "os.rename"),
]

#: path -> patterns allowed there, with the reason
ALLOWED = {
    "datasets/fileio.py": {"open() for writing", "torch.save"},        # the atomic writers themselves
    # the whole benchmark is generated in a hidden staging folder and renamed into place in one
    # step (ROOT is absent or complete; see the module docstring)
    "datasets/synthetic/generate.py": {"Path.write_text", "Path.write_bytes"},
}


def _sources():
    for pkg in PACKAGES:
        for p in sorted((REPO / pkg).rglob("*.py")):
            yield p.relative_to(REPO).as_posix(), p.read_text(encoding="utf-8")


def test_static_audit_no_raw_writes_outside_fileio():
    offenders = []
    for rel, text in _sources():
        for lineno, line in enumerate(text.splitlines(), 1):
            code = line.split("#", 1)[0]
            if not code.strip() or code.lstrip().startswith(('"', "'")):
                continue
            for pattern, what in RAW_WRITES:
                if re.search(pattern, code) and what not in ALLOWED.get(rel, ()):
                    offenders.append(f"{rel}:{lineno}: {what}: {line.strip()}")
    assert not offenders, "non-atomic writes (use datasets.fileio):\n" + "\n".join(offenders)


def test_static_audit_catches_each_pattern():
    """The audit's patterns match the raw writes they are meant to catch (so it can fail)."""
    samples = ['open(p, "w")', "p.write_text(s)", "p.write_bytes(b)", "a.tofile(p)", "torch.save(o, p)",
               "np.savetxt(p, a)", "fig.savefig(p)", "df.to_csv(p)", "json.dump(d, f)", "cv2.imwrite(p, a)",
               "cv2.VideoWriter(p, c, 1, s)", "zipfile.ZipFile(p, 'w')", "shutil.copy(a, b)", "os.rename(a, b)"]
    for sample, (pattern, what) in zip(samples, RAW_WRITES):
        assert re.search(pattern, sample), what
    for fine in ("fig.savefig(buf, format='png')", "df.to_csv(index=False)", "np.savez(buf, a=a)",
                 "zipfile.ZipFile(buf, 'w')", "json.dumps(d)", "open(p, 'rb')"):
        assert not any(re.search(p, fine) for p, _ in RAW_WRITES), fine


# ---------------------------------------------------------------------------------------------
# dynamic audit
# ---------------------------------------------------------------------------------------------


@pytest.fixture
def renames(monkeypatch):
    """Record the destination of every ``os.replace`` (resolved paths)."""
    seen: set[Path] = set()
    real = os.replace

    def replace(src, dst, *args, **kwargs):
        real(src, dst, *args, **kwargs)
        seen.add(Path(dst).resolve())

    monkeypatch.setattr(os, "replace", replace)
    return seen


def _all_arrived_by_rename(folder: Path, seen: set[Path]) -> list[Path]:
    files = [p for p in folder.rglob("*") if p.is_file()]
    assert files, f"{folder}: nothing was written"
    inside_renamed_dir = lambda p: any(parent in seen for parent in p.resolve().parents)  # noqa: E731
    bad = [p for p in files if p.resolve() not in seen and not inside_renamed_dir(p)]
    assert not bad, f"written in place (not via a temporary file + rename): {bad}"
    assert not [p for p in files if TMP_MARK in p.name]
    return files


def test_runner_scoring_plots_tables_packing_video_are_atomic(tmp_path, tools, renames):
    from evaluation.packing import pack_results
    from evaluation.report import evaluate_trackers
    from experiments.video import write_sequence_video

    root = tools.write_got10k(tmp_path / "data", (6, 5))
    ds = GOT10kDataset(root, "val")
    renames.clear()
    res = tmp_path / "out" / "results" / "blob"
    run_tracker(tools.BlobTracker, ds, res, runs=2, progress=False)
    _all_arrived_by_rename(res, renames)
    for debris in (f"plots/success.png{TMP_MARK}9", f"tables/trackers.csv{TMP_MARK}9"):   # a crashed earlier run
        (tmp_path / "out" / debris).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "out" / debris).write_text("partial")
    evaluate_trackers("got10k", [res], dataset=ds, json_path=tmp_path / "out" / "report.json",
                      plots_dir=tmp_path / "out" / "plots", tables_dir=tmp_path / "out" / "tables")
    pack_results("got10k", res, tmp_path / "out" / "packed" / "blob.zip", dataset=ds)
    seq = ds[0]
    write_sequence_video(seq, rf.read_box_file(rf.box_path(res, seq.name, "got10k", 1)),
                         tmp_path / "out" / "videos" / f"{seq.name}.mp4")
    files = _all_arrived_by_rename(tmp_path / "out", renames)
    kinds = {p.suffix for p in files}
    assert {".txt", ".json", ".png", ".pdf", ".csv", ".md", ".zip", ".mp4"} <= kinds, kinds


def test_trainer_files_are_atomic(tmp_path, tools, renames):
    from experiments.trainer import RunSettings, export_release, train

    root = tools.write_got10k(tmp_path / "data", (20, 21), split="train")
    cfg = tools.ToyConfig()
    cfg = dataclasses.replace(cfg, train=dataclasses.replace(cfg.train, epochs=1))
    renames.clear()
    run = train(RunSettings(preset="toy", out=str(tmp_path / "run"), device="cpu", progress=False, plot=True,
                            log_every=1, checkpoint_every=2, keep_every=1),
                cfg=cfg, family=tools.ToyFamily, sources=[("got10k", GOT10kDataset(root, "train"), 1.0)])
    export_release(run / "last.pt", run / "exported.pt")
    names = {p.name for p in _all_arrived_by_rename(run, renames)}
    assert {"config.json", "last.pt", "log.csv", "loss.png", "epoch_0001.pt", "release.pt", "exported.pt"} <= names


def test_caches_and_frames_are_atomic(tmp_path, renames):
    from datasets.frames import write_frame
    from datasets.loaders.cache import save_json, save_npz

    save_json(tmp_path / "c" / "index.json", {"a": 1})
    save_npz(tmp_path / "c" / "index.npz", "stamp", a=np.arange(3))
    write_frame(tmp_path / "c" / "f.jpg", np.zeros((8, 8, 3), np.uint8))
    write_frame(tmp_path / "c" / "f.png", np.zeros((8, 8, 3), np.uint8))
    assert len(_all_arrived_by_rename(tmp_path / "c", renames)) == 4


def test_synthetic_tree_appears_in_one_rename(tmp_path, renames):
    from datasets.synthetic.generate import SyntheticConfig, generate_synthetic

    cfg = SyntheticConfig(train_sequences=1, val_sequences=1, frames=3, width=64, height=48)
    root = generate_synthetic(tmp_path / "synth", cfg)
    assert root.resolve() in renames
    _all_arrived_by_rename(root, renames)


def test_truncated_cache_files_are_rebuilt_not_loaded(tmp_path, tally):
    from datasets.loaders.cache import load_json, load_npz, save_json, save_npz

    npz, js = tmp_path / "i.npz", tmp_path / "i.json"
    save_npz(npz, "s", a=np.arange(50))
    save_json(js, {"a": [1, 2, 3]})
    data, text = npz.read_bytes(), js.read_bytes()
    for blob in (data[: len(data) // 2], data[:-1], b""):
        npz.write_bytes(blob)
        assert load_npz(npz, "s") is None
    for blob in (text[: len(text) // 2], b"", b"\xff\xfe\x00"):
        js.write_bytes(blob)
        assert load_json(js) is None
    tally.add("bad_inputs", 6)


# ---------------------------------------------------------------------------------------------
# crashes inside a write
# ---------------------------------------------------------------------------------------------


def test_error_inside_a_write_keeps_the_old_file(tmp_path):
    target = tmp_path / "result.txt"
    atomic_write_bytes(target, b"old\n")

    def half_then_fail(f):
        f.write(b"new but incomp")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        atomic_write(target, half_then_fail)
    assert target.read_bytes() == b"old\n" and os.listdir(tmp_path) == ["result.txt"]


def _slow_writer(report, target: str) -> None:
    def write(f):
        f.write(b"x" * 4096)
        f.flush()
        report()               # the parent kills us here, half-way through the file
        import time

        time.sleep(30)
        f.write(b"never")

    atomic_write(target, write)


def test_sigkill_inside_a_write_then_readers_and_restarts(tmp_path, tools, tally):
    """The old file survives a SIGKILL during its rewrite; the stale temporary file is invisible
    to the result readers and removed by the runner and the trainer at start."""
    from experiments.trainer import RunSettings, train

    root = tools.write_got10k(tmp_path / "data", (5, 4))
    ds = GOT10kDataset(root, "val")
    res = tmp_path / "res"
    run_tracker(tools.BlobTracker, ds, res, runs=1, layout="got10k", progress=False)
    target = rf.box_path(res, ds.names[0], "got10k", 1)
    before = target.read_bytes()
    outcome = tools.fork_and_kill(_slow_writer, (str(target),), kill_after=1)
    assert outcome.killed
    tally.add("kills_survived")
    assert target.read_bytes() == before
    stale = [p for p in target.parent.iterdir() if TMP_MARK in p.name]
    assert len(stale) == 1 and stale[0].stat().st_size == 4096
    assert rf.find_box_files(res, ds.names[0]) == [target] and rf.list_sequences(res) == sorted(ds.names)
    # more debris of crashed writers, in every folder the runner writes to
    (res / f"failures.json{TMP_MARK}123").write_text("{")
    run_tracker(tools.BlobTracker, ds, res, runs=1, layout="got10k", progress=False)
    assert not tools.tmp_files(res) and target.read_bytes() == before
    tally.add("stale_tmp_cleaned", 2)

    run = tmp_path / "run"
    run.mkdir()
    for name in (f"last.pt{TMP_MARK}77", f"log.csv{TMP_MARK}77", f"loss.png{TMP_MARK}77.png"):
        (run / name).write_bytes(b"partial")
    cfg = tools.ToyConfig()
    cfg = dataclasses.replace(cfg, train=dataclasses.replace(cfg.train, epochs=1, samples_per_epoch=4))
    data = GOT10kDataset(tools.write_got10k(tmp_path / "tr", (20,), "train"), "train")
    train(RunSettings(preset="toy", out=str(run), device="cpu", progress=False, plot=False), cfg=cfg,
          family=tools.ToyFamily, sources=[("got10k", data, 1.0)])
    assert not tools.tmp_files(run) and (run / "last.pt").is_file()
    tally.add("stale_tmp_cleaned", 3)


def test_clean_stale_tmp_removes_only_temporary_files(tmp_path):
    keep = [tmp_path / "a.txt", tmp_path / "tmp-notes.txt", tmp_path / "b.tmp"]
    junk = [tmp_path / f"a.txt{TMP_MARK}1", tmp_path / f"v.mp4{TMP_MARK}2.mp4"]
    for p in keep + junk:
        p.write_text("x")
    (tmp_path / f"sub{TMP_MARK}3").mkdir()                  # folders are left alone
    assert sorted(clean_stale_tmp(tmp_path)) == sorted(junk)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([p.name for p in keep] + [f"sub{TMP_MARK}3"])
    assert clean_stale_tmp(tmp_path / "missing") == []


@pytest.mark.slow
def test_experiments_run_output_tree_is_atomic(tmp_path, renames, monkeypatch):
    """``python -m experiments.run`` (results, run_info, report.json/md, tables, videos; the plots
    are audited above and skipped here for time)."""
    import contextlib

    import evaluation.plots
    from datasets.synthetic import SyntheticConfig, generate_synthetic
    from experiments.run import main

    monkeypatch.setattr(evaluation.plots, "plot_evaluation", lambda ev, out_dir, prefix="": [])

    cfg = SyntheticConfig(seed=1, train_sequences=0, val_sequences=1, frames=5, splits=("val",))
    data = generate_synthetic(tmp_path / "synth", cfg)
    renames.clear()
    with contextlib.redirect_stdout(io.StringIO()):
        rc = main(["cia-tiny", "synthetic", "--data-root", str(data), "--out", str(tmp_path / "runs"),
                   "--save-video", "--no-progress", "--threads", "1"])
    assert rc == 0
    names = {p.name for p in _all_arrived_by_rename(tmp_path / "runs", renames)}
    assert {"run_info.json", "report.json", "report.md", "trackers.csv", "Synthetic_Val_000001.mp4"} <= names, names
