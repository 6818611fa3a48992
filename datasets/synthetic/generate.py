"""Write the synthetic benchmark to disk in the GOT-10k layout, or render it in memory.

Layout (exactly GOT-10k's, see docs/evaluation_protocols.md §5)::

    ROOT/synthetic.json                      generation parameters (written last: completeness mark)
    ROOT/{train,val}/list.txt                sequence names, one per line
    ROOT/{train,val}/<name>/00000001.jpg ... frames, JPEG
    ROOT/{train,val}/<name>/groundtruth.txt  x,y,w,h per frame, '%.4f', comma-separated
    ROOT/{train,val}/<name>/absence.label     0/1 per line
    ROOT/{train,val}/<name>/cover.label       0..8 per line (visible eighths)
    ROOT/{train,val}/<name>/cut_by_image.label 0/1 per line
    ROOT/{train,val}/<name>/meta_info.ini     [METAINFO] + key: value lines incl. object_class, resolution

Names are ``Synthetic_Train_000001`` / ``Synthetic_Val_000001`` (1-based). Absent frames carry the
box ``-1,-1,-1,-1`` like real GOT-10k absent frames (see `scene.TargetLabels`).

Determinism: sequence ``i`` of split ``s`` is drawn from ``SeedSequence(seed, spawn_key=(s, i))``,
so it does not depend on how many sequences are generated, and the same arguments give the same
bytes (OpenCV's JPEG encoder is deterministic).

Atomicity: the whole tree is generated in a hidden sibling folder and renamed into place in one
step, so ROOT is either absent or complete; files inside the staging folder are written directly
(an fsync per frame would dominate generation time). The `synthetic.json` marker is written through
`datasets.fileio`.
"""
from __future__ import annotations

import dataclasses
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from datasets.fileio import atomic_write_text
from datasets.synthetic.render import render_frame
from datasets.synthetic.scene import SceneConfig, TargetLabels, make_scene, target_labels

FORMAT_VERSION = 1
MARKER = "synthetic.json"
SPLITS = ("train", "val")
_SPLIT_KEY = {"train": 0, "val": 1}
DEFAULT_TRAIN_SEQUENCES = 80
DEFAULT_VAL_SEQUENCES = 30
DEFAULT_FRAMES = 100


@dataclass(frozen=True)
class SyntheticConfig:
    """What to generate. Counts are per split; sizes in pixels.

    Defaults: 80 train + 30 val sequences of 100 frames at 320x240 (generation < 60 s on one
    core; see benchmarks/RESULTS.md).
    """

    seed: int = 0
    train_sequences: int = DEFAULT_TRAIN_SEQUENCES
    val_sequences: int = DEFAULT_VAL_SEQUENCES
    frames: int = DEFAULT_FRAMES
    width: int = 320
    height: int = 240
    jpeg_quality: int = 90
    splits: tuple[str, ...] = SPLITS

    def __post_init__(self) -> None:
        object.__setattr__(self, "splits", tuple(self.splits))
        bad = [s for s in self.splits if s not in SPLITS]
        if bad or not self.splits:
            raise ValueError(f"splits={self.splits!r}: each must be one of {SPLITS}")
        if self.train_sequences < 0 or self.val_sequences < 0:
            raise ValueError("train_sequences and val_sequences must be >= 0")
        if not 1 <= self.jpeg_quality <= 100:
            raise ValueError(f"jpeg_quality={self.jpeg_quality} must be in 1..100")
        if self.seed < 0:
            raise ValueError(f"seed={self.seed} must be >= 0")
        self.scene()  # validates frames / width / height

    def scene(self) -> SceneConfig:
        return SceneConfig(width=self.width, height=self.height, frames=self.frames)

    def count(self, split: str) -> int:
        return self.train_sequences if split == "train" else self.val_sequences

    def to_json(self) -> dict:
        d = dataclasses.asdict(self)
        d["splits"] = list(self.splits)
        return {"format_version": FORMAT_VERSION, **d}


@dataclass(frozen=True)
class SyntheticSequence:
    """One generated sequence in memory. frames: (N, H, W, 3) uint8 RGB; labels: GOT-10k labels."""

    name: str
    category: str
    frames: np.ndarray
    labels: TargetLabels
    events: tuple[str, ...]


def sequence_name(split: str, index: int) -> str:
    """Name of the 0-based `index`-th sequence of `split`, e.g. ``Synthetic_Val_000001``."""
    return f"Synthetic_{split.capitalize()}_{index + 1:06d}"


def sequence_rng(seed: int, split: str, index: int) -> np.random.Generator:
    if split not in _SPLIT_KEY:
        raise ValueError(f"split={split!r} must be one of {SPLITS}")
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(_SPLIT_KEY[split], index)))


def synthetic_sequence(cfg: SyntheticConfig, split: str, index: int) -> SyntheticSequence:
    """Render sequence `index` (0-based) of `split` in memory (what `generate_synthetic` writes)."""
    sc = cfg.scene()
    scene = make_scene(sc, sequence_rng(cfg.seed, split, index))
    frames = np.stack([render_frame(scene, t, sc.width, sc.height) for t in range(sc.frames)])
    labels = target_labels(scene.target_boxes, scene.occluder, sc.width, sc.height)
    return SyntheticSequence(sequence_name(split, index), scene.category, frames, labels, scene.events)


def _meta_ini(cfg: SyntheticConfig, split: str, index: int, category: str, events: tuple[str, ...]) -> str:
    lines = [
        "[METAINFO]",
        f"url: synthetic://seed={cfg.seed}/{split}/{index + 1}",
        "begin: 00:00:00",
        f"end: 00:00:{cfg.frames // 10:02d}",
        "anno_fps: 10Hz",
        f"object_class: {category}",
        "motion_class: moving",
        "major_class: shape",
        "root_class: synthetic",
        f"motion_adverb: {'+'.join(events) if events else 'smoothly'}",
        f"resolution: ({cfg.width}, {cfg.height})",
    ]
    return "\n".join(lines) + "\n"


def _labels_text(values: np.ndarray) -> str:
    return "\n".join(str(int(v)) for v in values) + "\n"


def write_sequence(folder: Path, cfg: SyntheticConfig, split: str, index: int) -> str:
    """Render sequence `index` of `split` and write it into `folder` (GOT-10k files). Returns the name."""
    sc = cfg.scene()
    scene = make_scene(sc, sequence_rng(cfg.seed, split, index))
    labels = target_labels(scene.target_boxes, scene.occluder, sc.width, sc.height)
    name = sequence_name(split, index)
    seq_dir = folder / name
    seq_dir.mkdir(parents=True)
    params = [cv2.IMWRITE_JPEG_QUALITY, cfg.jpeg_quality]
    for t in range(sc.frames):
        rgb = render_frame(scene, t, sc.width, sc.height)
        ok, buf = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), params)
        if not ok:
            raise OSError(f"{seq_dir / f'{t + 1:08d}.jpg'}: JPEG encoding failed")
        (seq_dir / f"{t + 1:08d}.jpg").write_bytes(buf.tobytes())
    gt = "\n".join(",".join(f"{v:.4f}" for v in row) for row in labels.boxes) + "\n"
    (seq_dir / "groundtruth.txt").write_text(gt)
    (seq_dir / "absence.label").write_text(_labels_text(labels.absence))
    (seq_dir / "cover.label").write_text(_labels_text(labels.cover))
    (seq_dir / "cut_by_image.label").write_text(_labels_text(labels.cut_by_image))
    (seq_dir / "meta_info.ini").write_text(_meta_ini(cfg, split, index, scene.category, scene.events))
    return name


def _write_tree(staging: Path, cfg: SyntheticConfig, progress: bool) -> None:
    for split in cfg.splits:
        n = cfg.count(split)
        it = range(n)
        if progress:
            from tqdm import tqdm

            it = tqdm(it, desc=f"synthetic {split}", unit="seq")
        names = [write_sequence(staging / split, cfg, split, i) for i in it]
        (staging / split).mkdir(parents=True, exist_ok=True)
        (staging / split / "list.txt").write_text("".join(f"{nm}\n" for nm in names))
    atomic_write_text(staging / MARKER, json.dumps(cfg.to_json(), indent=1, sort_keys=True) + "\n")


def read_marker(root: Path) -> dict | None:
    """The generation parameters stored in ``root/synthetic.json``, or None if absent."""
    path = Path(root) / MARKER
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise ValueError(f"{path}:{e.lineno}: not valid JSON ({e.msg})") from None


def generate_synthetic(root: str | Path, cfg: SyntheticConfig = SyntheticConfig(), *,
                       overwrite: bool = False, progress: bool = False) -> Path:
    """Generate the benchmark into `root` atomically (staging folder + rename). Returns `root`.

    Raises:
        FileExistsError: `root` exists and is not empty, and `overwrite` is False.
    """
    root = Path(root).expanduser().absolute()
    if root.exists() and any(root.iterdir()) and not overwrite:
        raise FileExistsError(f"{root}: folder exists and is not empty (pass overwrite=True / --overwrite)")
    root.parent.mkdir(parents=True, exist_ok=True)
    staging = root.parent / f".{root.name}.tmp-{os.getpid()}"
    if staging.exists():
        shutil.rmtree(staging)
    try:
        _write_tree(staging, cfg, progress)
        if root.exists():
            if overwrite and any(root.iterdir()):
                trash = root.parent / f".{root.name}.old-{os.getpid()}"
                os.replace(root, trash)
                os.replace(staging, root)
                shutil.rmtree(trash)
                return root
            os.replace(staging, root)  # replaces an empty folder atomically
        else:
            os.replace(staging, root)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return root


def default_synthetic_root(cfg: SyntheticConfig = SyntheticConfig()) -> Path:
    """``$SYNTHETIC_ROOT`` if set, else a folder under the trackkit cache named by the parameters
    (``$TRACKKIT_CACHE/synthetic/v1-seed0-80x30x100-320x240[-val]``)."""
    env = os.environ.get("SYNTHETIC_ROOT")
    if env:
        return Path(env).expanduser()
    from datasets.loaders.cache import cache_dir

    splits = "" if cfg.splits == SPLITS else "-" + "+".join(cfg.splits)
    name = (f"v{FORMAT_VERSION}-seed{cfg.seed}-{cfg.train_sequences}x{cfg.val_sequences}x{cfg.frames}"
            f"-{cfg.width}x{cfg.height}-q{cfg.jpeg_quality}{splits}")
    return cache_dir() / "synthetic" / name


def ensure_synthetic(root: str | Path | None = None, cfg: SyntheticConfig = SyntheticConfig(), *,
                     progress: bool = False) -> Path:
    """Return `root` (default: `default_synthetic_root`), generating the benchmark there first if
    it is absent or empty.

    Safe under concurrency: two processes both generating lose nothing (the second rename fails
    and its staging copy is dropped, the winner's identical tree stays).

    Raises:
        ValueError: `root` holds a synthetic benchmark made with other parameters (names them).
        FileExistsError: `root` is a non-empty folder that is not a synthetic benchmark.
    """
    root = Path(root if root is not None else default_synthetic_root(cfg)).expanduser().absolute()
    want = cfg.to_json()
    have = read_marker(root)
    if have is None and not (root.exists() and any(root.iterdir())):
        try:
            generate_synthetic(root, cfg, progress=progress)
        except (FileExistsError, OSError):
            if read_marker(root) is None:  # not a concurrent generator finishing first
                raise
        have = read_marker(root)
    if have is None:
        raise FileExistsError(f"{root}: not empty and has no {MARKER}; not a synthetic benchmark")
    diff = sorted(k for k in set(want) | set(have) if want.get(k) != have.get(k))
    if diff:
        detail = ", ".join(f"{k}: on disk {have.get(k)!r} vs requested {want.get(k)!r}" for k in diff)
        raise ValueError(f"{root / MARKER}: generated with other parameters ({detail}); "
                         "delete the folder or use another root")
    return root
