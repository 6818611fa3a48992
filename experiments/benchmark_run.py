"""The library behind ``python -m experiments.run``: track a benchmark with presets, score, plot, report.

`run_benchmark(RunConfig(...))` does, in order:

1. opens the benchmark split (``synthetic`` is generated on first use, see `open_benchmark`) and
   keeps the ``sequences`` selection;
2. resolves every tracker's weights before anything heavy runs (`experiments.tracker_weights`);
3. per tracker: builds the model once, checks the results folder belongs to the same preset,
   weights and config (`check_run_info`), and runs the resumable OPE runner
   (`evaluation.runner.run_tracker`: finished sequences are skipped);
4. with ``save_video``: one MP4 per tracker and sequence (`experiments.video`, skipped if present);
5. scores all trackers under the benchmark's default protocol (`evaluation.report.evaluate_trackers`)
   and writes ``report.json`` (the schema of ``experiments.evaluate``), ``report.md`` (table with
   the papers' published rows for this benchmark), ``tables/`` and ``plots/``; or, for a split
   without public ground truth (GOT-10k / TrackingNet test), packs one server zip per tracker
   (`evaluation.packing.pack_results`).

Output tree (``OUT`` = ``RunConfig.out``; ``<bench>`` = the benchmark, ``<benchmark>-<split>``
for a non-default split)::

    OUT/<bench>/results/<tracker>/<seq>/<seq>_001.txt, <seq>_time.txt   raw results (got10k layout:
                                                                        one folder per sequence,
                                                                        runs _001.._00R)
    OUT/<bench>/results/<tracker>/run_info.json   preset, weights (sha256), config hash
    OUT/<bench>/report.json, report.md, tables/{trackers,sequences}.{csv,md}
    OUT/<bench>/plots/{success,precision,norm_precision}.{png,pdf} (+ success_attributes)
    OUT/<bench>/videos/<tracker>/<seq>.mp4        with save_video
    OUT/<bench>/packed/<tracker>.zip               test splits without public ground truth

Plots: the protocol's own curves; a curve the protocol does not define (the GOT-10k toolkit has
only the success plot) is drawn under the ``pytracking`` profile, whose name is in the plot title.
Every run present in a results folder is scored (``--runs 3`` then ``--runs 1`` scores 3 runs).
"""
from __future__ import annotations

import json
import logging
import platform
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence as Seq

from datasets.fileio import atomic_write_text
from datasets.sequence import SequenceDataset
from evaluation import results as rf
from evaluation.runner import RunSummary, TrackingFailedError, run_tracker

log = logging.getLogger(__name__)

#: benchmarks `run_benchmark` accepts
RUN_BENCHMARKS = ("got10k", "lasot", "trackingnet", "otb", "synthetic")
RUN_INFO = "run_info.json"
LAYOUT = "got10k"
#: profile used for the curves the benchmark's protocol lacks
SUPPLEMENTARY_PROFILE = "pytracking"
PLOT_KINDS = ("success", "precision", "norm_precision")


@dataclass(frozen=True)
class RunConfig:
    """One ``experiments.run`` invocation.

    Attributes:
        trackers: preset names, run in this order.
        benchmark: one of `RUN_BENCHMARKS`.
        data_root: the benchmark's root; None reads its environment variable (``synthetic``: the
            cache folder, generated on first use).
        split: None for the benchmark's default (``datasets.loaders.DEFAULT_SPLITS``).
        weights: ``(preset, value)`` pairs, value as ``--weights`` takes it
            (`experiments.tracker_weights`).
        out: output root (``OUT``).
        sequences: None (all), a count N (the first N in listing order) or names.
        runs: repetitions per sequence.
        device: ``cpu`` or ``cuda``.
        threads: ``torch.set_num_threads`` / ``cv2.setNumThreads`` value, None = leave as is.
        protocol: profile or variant name (``evaluation.protocols``), None = the benchmark's default.
        save_video: write an MP4 per tracker and sequence.
        random_init: run untrained networks (profiling only).
        progress: tqdm progress bars.
    """

    trackers: tuple[str, ...]
    benchmark: str
    data_root: str | None = None
    split: str | None = None
    weights: tuple[tuple[str, str], ...] = ()
    out: str = "runs"
    sequences: int | tuple[str, ...] | None = None
    runs: int = 1
    device: str = "cpu"
    threads: int | None = None
    protocol: str | None = None
    save_video: bool = False
    random_init: bool = False
    progress: bool = True

    def __post_init__(self) -> None:
        object.__setattr__(self, "trackers", tuple(self.trackers))
        object.__setattr__(self, "weights", tuple(tuple(w) for w in self.weights))
        if isinstance(self.sequences, list):
            object.__setattr__(self, "sequences", tuple(self.sequences))
        if not self.trackers:
            raise ValueError("no tracker given")
        dup = sorted({t for t in self.trackers if self.trackers.count(t) > 1})
        if dup:
            raise ValueError(f"trackers listed twice: {dup}")
        if self.benchmark not in RUN_BENCHMARKS:
            raise KeyError(f"unknown benchmark {self.benchmark!r}; expected one of {RUN_BENCHMARKS}")
        if self.runs < 1:
            raise ValueError(f"runs={self.runs} must be >= 1")
        if self.device not in ("cpu", "cuda"):
            raise ValueError(f"device={self.device!r} must be 'cpu' or 'cuda'")
        if self.threads is not None and self.threads < 1:
            raise ValueError(f"threads={self.threads} must be >= 1")
        if isinstance(self.sequences, int) and self.sequences < 1:
            raise ValueError(f"sequences={self.sequences} must be >= 1")
        unknown = [p for p, _ in self.weights if p not in self.trackers]
        if unknown:
            raise ValueError(f"weights given for {unknown}, which are not among the trackers {list(self.trackers)}")


@dataclass
class RunOutcome:
    """What `run_benchmark` did.

    Attributes:
        out_dir: ``OUT/<bench>``.
        split: the split run.
        report: the `evaluate_trackers` dict (None when packed for a server).
        packed: tracker -> server zip (test splits without public ground truth).
        summaries: tracker -> the runner's `RunSummary` (completed / skipped sequences, fps).
        warnings: messages for the user (random init, published rows on another split, ...).
        text: the Markdown summary printed at the end (the table, or where the zips are).
    """

    out_dir: Path
    split: str
    report: dict | None = None
    packed: dict[str, Path] = field(default_factory=dict)
    summaries: dict[str, RunSummary] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    text: str = ""


# ---------------------------------------------------------------------------------------------
# data
# ---------------------------------------------------------------------------------------------


def open_benchmark(benchmark: str, data_root: str | None = None, split: str | None = None,
                   progress: bool = True) -> SequenceDataset:
    """Open a benchmark split; ``synthetic`` is generated on first use.

    ``synthetic``: the folder is ``data_root``, else ``$SYNTHETIC_ROOT``, else a folder under
    ``$TRACKKIT_CACHE`` (default ``~/.cache/trackkit``) named by the generation parameters
    (`datasets.synthetic.default_synthetic_root`). A folder already holding a synthetic
    benchmark is used as it is (whatever its parameters); an absent or empty one gets the default
    benchmark (deterministic: seed 0, 80 train + 30 val sequences).

    Raises:
        DatasetNotFoundError (a FileNotFoundError): the root is unset or missing; the message
            names ``--data-root`` and the environment variable.
        FileExistsError: the synthetic folder is not empty and not a synthetic benchmark.
        ValueError: unknown split.
    """
    from datasets.loaders import get_dataset

    root: Any = data_root
    if benchmark == "synthetic":
        from datasets.synthetic import default_synthetic_root, ensure_synthetic, read_marker

        root = Path(data_root).expanduser() if data_root else default_synthetic_root()
        if read_marker(root) is None:
            log.info("generating the synthetic benchmark in %s (first use; deterministic)", root)
            root = ensure_synthetic(root, progress=progress)
    return get_dataset(benchmark, root=root, split=split)


def select_sequences(dataset: SequenceDataset, sequences: int | Seq[str] | None) -> SequenceDataset:
    """All sequences (None), the first N, or the named ones (KeyError naming unknown names)."""
    if sequences is None:
        return dataset
    if isinstance(sequences, int):
        return dataset.select(dataset.names[:sequences])
    return dataset.select(list(sequences))


def benchmark_dir_name(benchmark: str, split: str) -> str:
    """``<benchmark>`` for the default split, ``<benchmark>-<split>`` otherwise."""
    from datasets.loaders import DEFAULT_SPLITS

    return benchmark if split == DEFAULT_SPLITS[benchmark] else f"{benchmark}-{split}"


# ---------------------------------------------------------------------------------------------
# results folders
# ---------------------------------------------------------------------------------------------


def check_run_info(results_dir: Path, fingerprint: dict, extra: dict | None = None) -> None:
    """Refuse to mix results of different weights or configs in one folder, then record ours.

    ``results_dir/run_info.json`` holds the `LoadedModel.fingerprint` of the run that made the
    results; resuming needs the same fingerprint. A folder with result files but no
    ``run_info.json`` was not written by ``experiments.run`` and is refused too.

    Raises:
        ValueError: naming the folder and the differing fields.
    """
    path = results_dir / RUN_INFO
    if path.is_file():
        try:
            old = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as e:
            raise ValueError(f"{path}:{e.lineno}: not valid JSON ({e.msg})") from None
        diff = sorted(k for k in fingerprint if old.get(k) != fingerprint[k])
        if diff:
            detail = ", ".join(f"{k}: {old.get(k)!r} there vs {fingerprint[k]!r} now" for k in diff)
            raise ValueError(
                f"{results_dir}: holds results of another configuration ({detail}). Pass another --out, "
                "or delete the folder to run again from scratch."
            )
    elif results_dir.is_dir() and rf.list_sequences(results_dir):
        raise ValueError(
            f"{results_dir}: holds result files but no {RUN_INFO} (not written by experiments.run); "
            "pass another --out or move them away"
        )
    info = {**fingerprint, **(extra or {})}
    atomic_write_text(path, json.dumps(info, indent=1, sort_keys=True) + "\n")


def _run_info_extra(loaded, cfg: RunConfig) -> dict:
    import torch

    return {
        "weights": str(loaded.weights.path) if loaded.weights.path else None,
        "device": cfg.device,
        "torch": torch.__version__,
        "python": platform.python_version(),
    }


def save_videos(dataset: SequenceDataset, results_dir: Path, video_dir: Path, tracker: str) -> list[Path]:
    """One MP4 per sequence (run 1's boxes) into `video_dir`; existing videos are kept."""
    from datasets.fileio import clean_stale_tmp
    from experiments.video import write_sequence_video

    clean_stale_tmp(video_dir)  # ``<seq>.mp4.tmp-<pid>.mp4`` left by a killed run
    written = []
    for seq in dataset:
        path = video_dir / f"{seq.name}.mp4"
        if path.is_file():
            continue
        boxes = rf.read_box_file(rf.box_path(results_dir, seq.name, LAYOUT, 1))
        written.append(write_sequence_video(seq, boxes, path, tracker_name=tracker))
    return written


# ---------------------------------------------------------------------------------------------
# scoring, plots, report
# ---------------------------------------------------------------------------------------------


def _plot_missing_curves(ev: dict, cfg: RunConfig, result_dirs: list[Path], dataset, plots_dir: Path) -> list[str]:
    """Draw the `PLOT_KINDS` the protocol lacks under `SUPPLEMENTARY_PROFILE`. Returns the kinds drawn."""
    from evaluation.plots import plot_evaluation
    from evaluation.report import evaluate_trackers

    have = {k for t in ev["trackers"].values() for k in t["curves"]}
    missing = [k for k in PLOT_KINDS if k not in have]
    if not missing:
        return []
    extra = evaluate_trackers(cfg.benchmark, result_dirs, dataset=dataset, protocol=SUPPLEMENTARY_PROFILE)
    extra["attributes"] = {}
    for t in extra["trackers"].values():
        t["curves"] = {k: v for k, v in t["curves"].items() if k in missing}
    plot_evaluation(extra, plots_dir)
    return [k for k in missing if any(k in t["curves"] for t in extra["trackers"].values())]


def _published_note(benchmark: str, split: str) -> list[str]:
    """Where the published rows come from, and a warning when their split is not ours."""
    from evaluation.reports import load_published

    data = load_published()
    notes = []
    for t in data["tables"]:
        if t["benchmark"] != benchmark:
            continue
        paper = data["papers"][t["paper"]]["short"]
        where = f"{paper} {t['table']}"
        if t.get("split") and t["split"] != split:
            notes.append(f"published rows of {where} are on the {t['split']} split, not {split}: not comparable")
        else:
            notes.append(f"published rows of {where}: the authors' numbers (their servers / toolkits), not this run")
    return notes


def render_report(ev: dict, loaded: dict[str, dict], notes: Seq[str], plots: Seq[Path], out_dir: Path) -> tuple[str, str]:
    """(report.md text, the short table printed at the end)."""
    from evaluation.reports import drop_empty_columns, to_markdown, tracker_table

    title = (f"{ev['benchmark']} ({ev['split']}): {ev['sequences']} sequences, protocol {ev['protocol']}")
    table = to_markdown(drop_empty_columns(tracker_table(ev, published=True)))
    lines = [f"# {title}", "", f"Protocol source: {ev['protocol_source']}.", "", "Scores in percent, fps in frames/s "
             "(time inside the tracker, frame decoding excluded).", "", table]
    if notes:
        lines += [*(f"* {n}" for n in notes), ""]
    lines += ["## Trackers", ""]
    for name, info in loaded.items():
        t = ev["trackers"].get(name, {})
        lines.append(f"* **{name}**: {info['weights']}; {t.get('runs', '?')} run(s); results in "
                     f"`{Path(t.get('results_dir', '')).relative_to(out_dir) if t.get('results_dir') else '?'}`")
        lines += [f"  * warning: {w}" for w in t.get("warnings", [])]
    lines += ["", "## Files", "", "* `report.json`: full scores, curves and per-sequence figures",
              "* `tables/`: tracker and per-sequence tables (CSV + Markdown)"]
    lines += [f"* `{p.relative_to(out_dir)}`" for p in plots if p.suffix == ".png"]
    return "\n".join(lines) + "\n", f"{title}\n\n{table}"


def _score(cfg: RunConfig, dataset, split: str, result_dirs: list[Path], out_dir: Path,
           loaded: dict[str, dict], outcome: RunOutcome) -> None:
    from evaluation.report import evaluate_trackers

    plots_dir = out_dir / "plots"
    ev = evaluate_trackers(cfg.benchmark, result_dirs, split=split, protocol=cfg.protocol, dataset=dataset,
                           json_path=out_dir / "report.json", plots_dir=plots_dir, tables_dir=out_dir / "tables")
    drawn = _plot_missing_curves(ev, cfg, result_dirs, dataset, plots_dir)
    notes = _published_note(cfg.benchmark, split)
    if drawn:
        notes.append(f"{', '.join(drawn)} plot(s): the protocol {ev['protocol']} defines none; drawn under the "
                     f"{SUPPLEMENTARY_PROFILE} profile (named in the plot title)")
    plots = sorted(plots_dir.glob("*.png"))
    md, text = render_report(ev, loaded, [*notes, *outcome.warnings], plots, out_dir)
    atomic_write_text(out_dir / "report.md", md)
    outcome.report = ev
    outcome.text = text + "".join(f"\n* {n}" for n in notes) + f"\n\nreport: {out_dir / 'report.md'}\n"


def _pack(cfg: RunConfig, dataset, split: str, result_dirs: list[Path], out_dir: Path, outcome: RunOutcome) -> None:
    from evaluation.packing import pack_results

    server = cfg.benchmark
    if server not in ("got10k", "trackingnet"):
        raise ValueError(f"{cfg.benchmark} ({split}) has no ground truth after frame 0 and no evaluation server to pack for")
    lines = [f"{cfg.benchmark} {split}: the ground truth is withheld, so there are no local scores. "
             f"Upload these zips to the {'GOT-10k' if server == 'got10k' else 'TrackingNet'} evaluation server:"]
    if cfg.sequences is not None:
        msg = (f"only {len(dataset)} sequences were run (--sequences): the zips are a trial pack, "
               "not a full submission")
        outcome.warnings.append(msg)
        lines.append(f"(warning: {msg})")
    for d in result_dirs:
        rep = pack_results(server, d, out_dir / "packed" / f"{d.name}.zip", dataset=dataset)
        outcome.packed[d.name] = rep.out
        outcome.warnings += [f"{d.name}: {w}" for w in rep.warnings]
        lines.append(f"* {d.name}: {rep.out} ({rep.sequences} sequences, {rep.runs} run(s))")
    outcome.text = "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------------------------
# the run
# ---------------------------------------------------------------------------------------------


def _set_threads(threads: int | None) -> None:
    if threads is None:
        return
    import cv2
    import torch

    torch.set_num_threads(threads)
    cv2.setNumThreads(threads)


def run_benchmark(cfg: RunConfig) -> RunOutcome:
    """Track, then score (or pack) and report; see the module docstring.

    Raises:
        DatasetNotFoundError / WeightsNotFoundError (FileNotFoundError), KeyError (unknown preset,
        benchmark, protocol or sequence), ValueError (bad settings, mismatching weights or results
        folder, CheckpointError), `TrackingFailedError` (sequences failed; their tracebacks are in
        each tracker's ``failures.json``; nothing is scored then).
    """
    from evaluation.protocols import get_protocol
    from evaluation.report import GroundTruthWithheldError
    from experiments.tracker_weights import load_model, resolve_weights

    if cfg.device == "cuda":
        import torch

        if not torch.cuda.is_available():
            raise ValueError("--device cuda: no CUDA device is available (torch.cuda.is_available() is False)")
    get_protocol(cfg.protocol, cfg.benchmark)  # unknown protocol: fail before tracking
    given = dict(cfg.weights)
    specs = {t: resolve_weights(t, given.get(t), cfg.random_init) for t in cfg.trackers}
    _set_threads(cfg.threads)
    dataset = open_benchmark(cfg.benchmark, cfg.data_root, cfg.split, progress=cfg.progress)
    split = dataset.split
    dataset = select_sequences(dataset, cfg.sequences)
    if len(dataset) == 0:
        raise ValueError(f"{cfg.benchmark} ({split}) under {dataset.root}: no sequences to run")
    out_dir = Path(cfg.out).expanduser() / benchmark_dir_name(cfg.benchmark, split)
    outcome = RunOutcome(out_dir=out_dir, split=split)
    if cfg.random_init:
        msg = "--random-init: the networks are untrained, the scores are meaningless (profiling only)"
        log.warning("warning: %s", msg)
        outcome.warnings.append(msg)

    failures: dict[str, str] = {}
    result_dirs: list[Path] = []
    loaded: dict[str, dict] = {}
    for name in cfg.trackers:
        results_dir = out_dir / "results" / name
        log.info("%s: %s", name, specs[name].describe())
        lm = load_model(name, specs[name], cfg.device)
        check_run_info(results_dir, lm.fingerprint(), _run_info_extra(lm, cfg))
        summary = run_tracker(lm.tracker_factory(), dataset, results_dir, runs=cfg.runs, layout=LAYOUT,
                              progress=cfg.progress, raise_on_failure=False)
        del lm
        outcome.summaries[name] = summary
        failures.update({f"{name}: {k}": v for k, v in summary.failed.items()})
        result_dirs.append(results_dir)
        loaded[name] = {"weights": specs[name].describe()}
        fps = f", {summary.fps:.1f} fps incl. initialisation" if summary.fps else ""
        log.info("%s: %d sequence run(s) tracked, %d already done%s", name, len(summary.completed),
                 len(summary.skipped), fps)
    if failures:
        raise TrackingFailedError(failures, out_dir / "results" / "<tracker>" / "failures.json")

    if cfg.save_video:
        for d in result_dirs:
            n = len(save_videos(dataset, d, out_dir / "videos" / d.name, d.name))
            log.info("%s: %d video(s) written to %s", d.name, n, out_dir / "videos" / d.name)

    try:
        _score(cfg, dataset, split, result_dirs, out_dir, loaded, outcome)
    except GroundTruthWithheldError:
        _pack(cfg, dataset, split, result_dirs, out_dir, outcome)
    return outcome


__all__ = ["RUN_BENCHMARKS", "RunConfig", "RunOutcome", "benchmark_dir_name", "check_run_info", "open_benchmark",
           "render_report", "run_benchmark", "save_videos", "select_sequences"]
