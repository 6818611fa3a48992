"""``python -m experiments.run`` end to end on a tiny synthetic benchmark (3 sequences x 20 frames).

Truth used: the got10k toolkit's own ``ExperimentGOT10k.report`` on the written result files
(AO / SR), the ground truth's first box (frame 0 of every result file), the frame counts of the
generated sequences, and byte equality of resumed / directly computed results.
"""
from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import subprocess
import sys
from dataclasses import asdict
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from datasets.fileio import atomic_torch_save
from datasets.loaders import get_dataset
from datasets.synthetic import SyntheticConfig, generate_synthetic
from evaluation.results import read_box_file, read_time_file
from evaluation.runner import run_tracker
from experiments.benchmark_run import RunConfig, run_benchmark
from experiments.run import main
from experiments.trainer.release import release_dict
from trackers.registry import family_api, get_config

N_SEQ, N_FRAMES = 3, 20
TINY = ("hctrack-tiny", "cia-tiny")
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def synth_root(tmp_path_factory) -> Path:
    cfg = SyntheticConfig(seed=3, train_sequences=0, val_sequences=N_SEQ, frames=N_FRAMES, splits=("val",))
    return generate_synthetic(tmp_path_factory.mktemp("synth") / "root", cfg)


@pytest.fixture
def no_plots(monkeypatch) -> list:
    """Skip drawing (tested end to end above) in tests about tracking; records the calls."""
    import evaluation.plots

    calls: list = []
    monkeypatch.setattr(evaluation.plots, "plot_evaluation", lambda ev, out_dir, prefix="": calls.append(out_dir) or [])
    return calls


def _main(argv: list[str]) -> tuple[int, str]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        rc = main(argv)
    return rc, out.getvalue()


def _toolkit_report(synth_root: Path, results: Path, trackers, tmp: Path) -> dict:
    """The got10k toolkit's ExperimentGOT10k.report on our result folders (copied to its layout)."""
    from got10k.experiments.got10k import ExperimentGOT10k

    for t in trackers:
        shutil.copytree(results / t, tmp / "tk" / "GOT-10k" / t)
    exp = ExperimentGOT10k(str(synth_root), subset="val", result_dir=str(tmp / "tk"), report_dir=str(tmp / "tk_rep"))
    exp.plot_curves = lambda *args, **kwargs: None   # its figure is not under test
    with contextlib.redirect_stdout(io.StringIO()):
        return exp.report(list(trackers))


@pytest.mark.slow
def test_run_both_tiny_presets_end_to_end(synth_root, tmp_path):
    out = tmp_path / "out"
    rc, printed = _main(["hctrack-tiny,cia-tiny", "synthetic", "--data-root", str(synth_root), "--out", str(out),
                         "--random-init", "--no-progress", "--save-video", "--threads", "1"])
    assert rc == 0
    bench = out / "synthetic"
    ds = get_dataset("synthetic", synth_root, "val")

    # report.json: the experiments.evaluate schema, values in range
    rep = json.loads((bench / "report.json").read_text())
    assert {"benchmark", "split", "protocol", "protocol_source", "sequences", "trackers", "attributes"} <= set(rep)
    assert rep["benchmark"] == "synthetic" and rep["split"] == "val" and rep["sequences"] == N_SEQ
    assert rep["protocol"] == "got10k-toolkit/got10k"
    assert list(rep["trackers"]) == list(TINY)
    for name, t in rep["trackers"].items():
        for k in ("ao", "sr50", "sr75"):
            assert 0.0 <= t[k] <= 1.0, (name, k, t[k])
        assert t["sr75"] <= t["sr50"]
        assert t["fps"] > 0 and t["runs"] == 1
        assert set(t["sequences"]) == set(ds.names)
        curve = np.asarray(t["curves"]["success"]["values"])
        assert ((curve >= 0) & (curve <= 1)).all() and (np.diff(curve) <= 1e-12).all()

    # AO / SR equal the got10k toolkit's own report on the same files
    perf = _toolkit_report(synth_root, bench / "results", TINY, tmp_path)
    for name in TINY:
        assert rep["trackers"][name]["ao"] == pytest.approx(perf[name]["overall"]["ao"], abs=1e-9)
        assert rep["trackers"][name]["sr50"] == pytest.approx(perf[name]["overall"]["sr"], abs=1e-9)

    # raw results: one box file per sequence with one row per frame, frame 0 = the GT box
    for name in TINY:
        for seq in ds:
            boxes = read_box_file(bench / "results" / name / seq.name / f"{seq.name}_001.txt")
            assert boxes.shape == (N_FRAMES, 4)
            np.testing.assert_allclose(boxes[0], seq.boxes[0], atol=5e-4)
            assert read_time_file(bench / "results" / name / seq.name / f"{seq.name}_time.txt").shape == (N_FRAMES, 1)
        info = json.loads((bench / "results" / name / "run_info.json").read_text())
        assert info["preset"] == name and info["weights_source"] == "random"

    # report.md: the table with both trackers and the random-init warning
    md = (bench / "report.md").read_text()
    assert "| tracker | source | ao | sr50 | sr75 | fps |" in md
    assert all(f"| {n} |" in md for n in TINY) and "meaningless" in md

    # plots comparing the trackers (PNG + PDF), printed table
    for kind in ("success", "precision", "norm_precision"):
        assert (bench / "plots" / f"{kind}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert (bench / "plots" / f"{kind}.pdf").read_bytes()[:5] == b"%PDF-"
    assert "hctrack-tiny" in printed and "cia-tiny" in printed and "ao" in printed

    # videos: one MP4 per tracker and sequence, every frame written
    for name in TINY:
        for seq in ds:
            cap = cv2.VideoCapture(str(bench / "videos" / name / f"{seq.name}.mp4"))
            assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == N_FRAMES
            cap.release()


@pytest.mark.slow
def test_rerun_resumes_and_redoes_only_incomplete(synth_root, tmp_path, no_plots):
    cfg = RunConfig(trackers=("cia-tiny",), benchmark="synthetic", data_root=str(synth_root), out=str(tmp_path),
                    sequences=2, random_init=True, progress=False)
    first = run_benchmark(cfg)
    assert sorted(first.summaries["cia-tiny"].completed) == ["Synthetic_Val_000001", "Synthetic_Val_000002"]
    res = tmp_path / "synthetic" / "results" / "cia-tiny"
    files = [res / n / f"{n}_001.txt" for n in ("Synthetic_Val_000001", "Synthetic_Val_000002")]
    stamps = [f.stat().st_mtime_ns for f in files]
    original = files[1].read_bytes()

    second = run_benchmark(cfg)
    assert second.summaries["cia-tiny"].completed == []
    assert sorted(second.summaries["cia-tiny"].skipped) == ["Synthetic_Val_000001", "Synthetic_Val_000002"]
    assert [f.stat().st_mtime_ns for f in files] == stamps

    files[1].write_bytes(b"".join(original.splitlines(keepends=True)[:5]))   # a run killed mid-sequence
    third = run_benchmark(cfg)
    assert third.summaries["cia-tiny"].completed == ["Synthetic_Val_000002"]
    assert third.summaries["cia-tiny"].redone == ["Synthetic_Val_000002"]
    assert files[0].stat().st_mtime_ns == stamps[0]
    assert files[1].read_bytes() == original                                  # deterministic redo
    assert third.report["sequences"] == 2
    assert len(no_plots) == 6                                                 # 3 runs x (protocol + supplementary)


@pytest.mark.slow
def test_weights_file_is_what_runs(synth_root, tmp_path, no_plots):
    """Release weights passed with --weights give the boxes of that very model run directly."""
    cfg = get_config("cia-tiny")
    api = family_api(cfg)
    torch.manual_seed(1234)                       # not the --random-init seed
    model = api.build_model(cfg).eval()
    weights = atomic_torch_save(release_dict("cia-tiny", asdict(cfg), model.state_dict()), tmp_path / "w.pt")

    rc, _ = _main(["cia-tiny", "synthetic", "--data-root", str(synth_root), "--out", str(tmp_path / "out"),
                   "--weights", f"cia-tiny={weights}", "--sequences", "Synthetic_Val_000002", "--no-progress"])
    assert rc == 0
    ds = get_dataset("synthetic", synth_root, "val").select(["Synthetic_Val_000002"])
    run_tracker(lambda: api.build_tracker(cfg, model, "cpu"), ds, tmp_path / "direct", layout="got10k", progress=False)
    name = "Synthetic_Val_000002"
    ours = tmp_path / "out" / "synthetic" / "results" / "cia-tiny" / name / f"{name}_001.txt"
    assert ours.read_bytes() == (tmp_path / "direct" / name / f"{name}_001.txt").read_bytes()

    # the same folder with other weights (random init) is refused, naming the difference
    rc, _ = _main(["cia-tiny", "synthetic", "--data-root", str(synth_root), "--out", str(tmp_path / "out"),
                   "--random-init", "--sequences", "1", "--no-progress"])
    assert rc == 2


def test_missing_dataset_is_one_clear_error(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("LASOT_ROOT", raising=False)
    rc = main(["cia-tiny", "lasot", "--random-init", "--out", str(tmp_path), "--no-progress"])
    err = capsys.readouterr().err
    assert rc == 2
    assert "--data-root" in err and "LASOT_ROOT" in err and "Traceback" not in err
    rc = main(["cia-tiny", "lasot", "--random-init", "--data-root", str(tmp_path / "nope"), "--no-progress"])
    err = capsys.readouterr().err
    assert rc == 2 and str(tmp_path / "nope") in err and "LASOT_ROOT" in err
    assert not (tmp_path / "lasot").exists()


def test_missing_dataset_exit_code_in_a_process(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "OTB_ROOT"}
    p = subprocess.run([sys.executable, "-m", "experiments.run", "cia-tiny", "otb", "--random-init", "--out", str(tmp_path)],
                       cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert p.returncode == 2
    assert "--data-root" in p.stderr and "OTB_ROOT" in p.stderr and "Traceback" not in p.stderr


def test_full_preset_without_weights_explains_how_to_get_them(tmp_path, capsys):
    rc = main(["hctrack", "synthetic", "--data-root", str(tmp_path / "unused"), "--out", str(tmp_path)])
    err = capsys.readouterr().err
    assert rc == 2
    assert "experiments.train hctrack" in err and "--weights" in err and "--random-init" in err
    assert not (tmp_path / "unused").exists()    # failed before generating any data


@pytest.mark.parametrize("argv, needle", [
    (["nosuch", "synthetic", "--random-init"], "unknown tracker preset 'nosuch'"),
    (["cia-tiny,cia-tiny", "synthetic", "--random-init"], "listed twice"),
    (["cia-tiny,hctrack-tiny", "synthetic", "--weights", "w.pt"], "NAME=FILE"),
    (["cia-tiny", "synthetic", "--weights", "hctrack-tiny=w.pt"], "not one of the trackers"),
    (["cia-tiny", "synthetic", "--weights", "w.pt", "--random-init"], "exclude each other"),
    (["cia-tiny", "synthetic", "--weights", "missing.pt"], "not found"),
    (["hctrack-tiny", "synthetic", "--weights", "pytracking:w.pt"], "CIA presets only"),
])
def test_bad_arguments_exit_2(argv, needle, tmp_path, capsys):
    rc = main([*argv, "--out", str(tmp_path), "--data-root", str(tmp_path / "d"), "--no-progress"])
    assert rc == 2
    assert needle in capsys.readouterr().err


def _got10k_test_split(synth_root: Path, root: Path, n: int) -> list[str]:
    """A GOT-10k-layout test split from the synthetic val sequences, only the first box kept."""
    names = []
    for i in range(n):
        src = synth_root / "val" / f"Synthetic_Val_{i + 1:06d}"
        name = f"GOT-10k_Test_{i + 1:06d}"
        dst = root / "test" / name
        shutil.copytree(src, dst, ignore=shutil.ignore_patterns("*.label"))
        (dst / "groundtruth.txt").write_text((src / "groundtruth.txt").read_text().splitlines()[0] + "\n")
        names.append(name)
    (root / "test" / "list.txt").write_text("".join(f"{n}\n" for n in names))
    return names


@pytest.mark.slow
def test_got10k_test_split_is_packed_not_scored(synth_root, tmp_path, no_plots):
    import zipfile

    names = _got10k_test_split(synth_root, tmp_path / "got10k", 2)
    rc, printed = _main(["cia-tiny", "got10k", "--split", "test", "--data-root", str(tmp_path / "got10k"),
                         "--out", str(tmp_path / "out"), "--random-init", "--no-progress"])
    assert rc == 0
    bench = tmp_path / "out" / "got10k-test"
    assert not (bench / "report.json").exists() and no_plots == []
    assert "withheld" in printed and "GOT-10k evaluation server" in printed
    with zipfile.ZipFile(bench / "packed" / "cia-tiny.zip") as z:
        assert sorted(z.namelist()) == sorted(f"{n}/{n}_{s}.txt" for n in names for s in ("001", "time"))
        rows = z.read(f"{names[0]}/{names[0]}_001.txt").decode().splitlines()
    assert len(rows) == N_FRAMES and "," in rows[1] and " " not in rows[1]


def test_unknown_sequence_name_exit_2(synth_root, tmp_path, capsys):
    rc = main(["cia-tiny", "synthetic", "--data-root", str(synth_root), "--out", str(tmp_path), "--random-init",
               "--sequences", "Synthetic_Val_000001,nosuch", "--no-progress"])
    assert rc == 2
    assert "nosuch" in capsys.readouterr().err
    assert not (tmp_path / "synthetic" / "results").exists()    # nothing tracked


def test_check_run_info_ties_a_folder_to_its_weights(tmp_path):
    from evaluation.results import write_box_file
    from experiments.benchmark_run import RUN_INFO, check_run_info

    fp = {"preset": "cia-tiny", "weights_source": "release", "weights_sha256": "a" * 64, "config_sha256": "c"}
    d = tmp_path / "cia-tiny"
    check_run_info(d, fp, {"device": "cpu"})                     # new folder: recorded
    assert json.loads((d / RUN_INFO).read_text()) == {**fp, "device": "cpu"}
    check_run_info(d, fp, {"device": "cuda"})                    # same weights: resumable
    with pytest.raises(ValueError, match="weights_sha256: 'a+' there vs 'b+' now"):
        check_run_info(d, {**fp, "weights_sha256": "b" * 64})
    other = tmp_path / "foreign"
    write_box_file(other / "seq" / "seq_001.txt", np.zeros((2, 4)))
    with pytest.raises(ValueError, match="no run_info.json"):
        check_run_info(other, fp)
