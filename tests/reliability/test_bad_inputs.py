"""Bad inputs: every one gives an error of the documented type whose message names the file and
line (files) or the key / box / shape (values) -- or, where the input is legal but unusual
(grayscale, RGBA, tiny frames), the right result. Each case is counted in the ``bad_inputs`` tally.
"""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Callable

import cv2
import numpy as np
import pytest
import torch

from datasets.frames import FrameError, read_frame, write_frame
from datasets.loaders.annotations import AnnotationError
from datasets.loaders.got10k import GOT10kDataset
from datasets.sequence import Sequence
from evaluation import results as rf
from evaluation.packing import PackingError, pack_results
from evaluation.report import evaluate_trackers
from evaluation.results import IncompleteResultsError
from evaluation.runner import TrackingFailedError, run_tracker
from trackers.registry import family_api, get_config

H, W = 48, 64


@pytest.fixture
def got(tmp_path, tools):
    """A fresh 3-sequence GOT-10k val split; returns (root, dataset, sequence folders)."""
    root = tools.write_got10k(tmp_path / "got", (6, 7, 5))
    ds = GOT10kDataset(root, "val")
    return root, ds, [root / "val" / n for n in ds.names]


# ---------------------------------------------------------------------------------------------
# annotations (through the real GOT-10k loader)
# ---------------------------------------------------------------------------------------------

GT_CASES = [  # (what, line 3 replaced by, expected message pattern)
    ("too few values", "1,2,3", r"expected 4 values \(x,y,w,h\), got 3"),
    ("too many values", "1,2,3,4,5", r"expected 4 values"),
    ("text", "1,2,wide,4", r"non-numeric value 'wide'"),
    ("NaN", "nan,2,3,4", r"NaN in box"),
    ("negative width", "1,2,-3,4", r"negative width or height"),
    ("negative height", "1,2,3,-0.5", r"negative width or height"),
    ("infinite", "1,2,inf,4", r"infinite value"),
    ("empty field", "1,,3,4", r"empty field"),
    ("blank line", "", r"blank line"),
]


@pytest.mark.parametrize("what,line,pattern", GT_CASES, ids=[c[0] for c in GT_CASES])
def test_malformed_groundtruth_line_names_file_and_line(got, tally, what, line, pattern):
    root, ds, dirs = got
    gt = dirs[1] / "groundtruth.txt"
    rows = gt.read_text().splitlines()
    rows[2] = line
    gt.write_text("\n".join(rows) + "\n")
    with pytest.raises(AnnotationError) as e:
        ds[ds.names[1]]
    assert str(e.value).startswith(f"{gt}:3: "), str(e.value)
    assert re.search(pattern, str(e.value)), str(e.value)
    tally.add("bad_inputs")


def test_label_meta_and_count_errors_name_file_and_line(got, tally):
    root, ds, dirs = got
    cases = [
        (dirs[0] / "cover.label", "8\n8\n9\n8\n8\n8\n", r"cover.label:3: value 9 outside 0..8"),
        (dirs[0] / "absence.label", "0\n0\n0\nyes\n0\n0\n", r"absence.label:4: expected one integer"),
        (dirs[0] / "meta_info.ini", "[METAINFO]\nobject_class: square\nresolution: 64 by 48\n",
         r"meta_info.ini:3: resolution"),
        (dirs[0] / "groundtruth.txt", "1,2,3,4\n" * 5, r"groundtruth.txt: 5 annotation rows but 6 frames"),
    ]
    for path, text, pattern in cases:
        good = path.read_text()
        path.write_text(text)
        with pytest.raises(AnnotationError, match=pattern) as e:
            ds[ds.names[0]]
        assert str(path) in str(e.value)
        path.write_text(good)
    ds[ds.names[0]]                                            # restored: loads again
    tally.add("bad_inputs", len(cases))


def test_empty_sequences_are_clear_errors(got, tally):
    root, ds, dirs = got
    for f in dirs[0].glob("*.jpg"):
        f.unlink()
    with pytest.raises(AnnotationError, match=rf"{re.escape(str(dirs[0]))}: no frames .* \(empty sequence\)"):
        ds[ds.names[0]]
    (dirs[1] / "groundtruth.txt").write_text("\n\n")
    empty_gt = re.escape(str(dirs[1] / "groundtruth.txt"))
    with pytest.raises(AnnotationError, match=rf"{empty_gt}:1: empty annotation file"):
        ds[ds.names[1]]
    (root / "val" / "list.txt").write_text("\n")
    with pytest.raises(AnnotationError, match=r"list.txt:1: the list is empty"):
        GOT10kDataset(root, "val").names
    with pytest.raises(ValueError, match="sequence 'nothing': no frames"):
        Sequence("nothing", (), np.zeros((0, 4)), np.zeros(0, bool))
    tally.add("bad_inputs", 4)


def test_malformed_annotation_stops_a_run_with_file_and_line_after_finished_sequences(got, tools, tmp_path, tally):
    root, ds, dirs = got
    gt = dirs[2] / "groundtruth.txt"
    gt.write_text(gt.read_text().replace("\n", "\n1,2,x,4\n", 1))
    out = tmp_path / "blob"
    with pytest.raises(AnnotationError, match=rf"{re.escape(str(gt))}:2: non-numeric value 'x'"):
        run_tracker(tools.BlobTracker, ds, out, progress=False)
    assert rf.count_rows(out / f"{ds.names[0]}.txt") == 6      # earlier sequences are kept (resumable)
    tally.add("bad_inputs")


# ---------------------------------------------------------------------------------------------
# frames
# ---------------------------------------------------------------------------------------------

def _jpeg(tmp_path: Path) -> Path:
    p = tmp_path / "frame.jpg"
    img = np.random.default_rng(0).integers(0, 255, (H, W, 3), dtype=np.uint8)
    write_frame(p, img)
    return p


def _missing(p: Path) -> Path:
    p.unlink()
    return p


def _cut(keep: Callable[[int], int]) -> Callable[[Path], Path]:
    def cut(p: Path) -> Path:
        data = p.read_bytes()
        p.write_bytes(data[: keep(len(data))])
        return p

    return cut


def _replace(data: bytes) -> Callable[[Path], Path]:
    def replace(p: Path) -> Path:
        p.write_bytes(data)
        return p

    return replace


def _folder(p: Path) -> Path:
    p.unlink()
    p.mkdir()
    return p


def _cut_png(p: Path) -> Path:
    png = p.with_suffix(".png")
    png.write_bytes(cv2.imencode(".png", np.full((H, W, 3), 7, np.uint8))[1].tobytes()[:60])
    return png


FRAME_CASES = [  # (what, corrupt(path) -> path of the bad file, message pattern)
    ("missing", _missing, "frame file not found"),
    ("empty file", _replace(b""), "frame file is empty"),
    ("truncated to half", _cut(lambda n: n // 2), "truncated|corrupt"),
    ("end marker cut", _cut(lambda n: n - 2), "truncated"),
    ("not an image", _replace(b"<html>404 not found</html>"), "not a decodable image"),
    ("a folder", _folder, "cannot read frame"),
    ("truncated PNG", _cut_png, "corrupt or truncated"),
]


@pytest.mark.parametrize("what,corrupt,pattern", FRAME_CASES, ids=[c[0] for c in FRAME_CASES])
def test_bad_frame_file_is_a_frame_error_naming_it(tmp_path, tally, what, corrupt, pattern):
    path = corrupt(_jpeg(tmp_path))
    with pytest.raises(FrameError) as e:
        read_frame(path)
    assert str(e.value).startswith(f"{path}: "), str(e.value)
    assert re.search(pattern, str(e.value)), str(e.value)
    assert isinstance(e.value, OSError)
    tally.add("bad_inputs")


def test_bad_frames_fail_their_sequence_only_and_are_named(got, tools, tmp_path, tally):
    root, ds, dirs = got
    ds_seqs = {s.name: s for s in ds}                        # listed before the damage
    (dirs[0] / "00000004.jpg").unlink()
    trunc = dirs[2] / "00000003.jpg"
    trunc.write_bytes(trunc.read_bytes()[:200])
    out = tmp_path / "blob"
    with pytest.raises(TrackingFailedError) as e:
        run_tracker(tools.BlobTracker, list(ds_seqs.values()), out, progress=False)
    assert set(e.value.failures) == {ds.names[0], ds.names[2]}
    log = json.loads((out / "failures.json").read_text())
    assert f"{dirs[0] / '00000004.jpg'}: frame file not found" in log[ds.names[0]]["error"]
    assert f"{trunc}: " in log[ds.names[2]]["error"] and "FrameError" in log[ds.names[2]]["error"]
    assert not (out / f"{ds.names[0]}.txt").exists() and not (out / f"{ds.names[2]}.txt").exists()
    assert rf.count_rows(out / f"{ds.names[1]}.txt") == 7
    with pytest.raises(IncompleteResultsError, match=ds.names[0]):   # failed sequences are never scored
        evaluate_trackers("got10k", [out], dataset=list(ds_seqs.values()))
    tally.add("bad_inputs", 2)


def test_grayscale_and_rgba_frames_are_read_as_rgb(tmp_path, tally):
    rng = np.random.default_rng(1)
    gray = rng.integers(0, 255, (H, W), dtype=np.uint8)
    bgra = rng.integers(0, 255, (H, W, 4), dtype=np.uint8)
    cv2.imwrite(str(tmp_path / "gray.png"), gray)
    cv2.imwrite(str(tmp_path / "bgra.png"), bgra)
    cv2.imwrite(str(tmp_path / "gray.jpg"), gray)
    cv2.imwrite(str(tmp_path / "blue.png"), np.tile(np.array([255, 0, 0], np.uint8), (H, W, 1)))  # BGR blue
    g = read_frame(tmp_path / "gray.png")
    assert g.shape == (H, W, 3) and g.dtype == np.uint8
    np.testing.assert_array_equal(g, np.repeat(gray[:, :, None], 3, axis=2))
    a = read_frame(tmp_path / "bgra.png")
    np.testing.assert_array_equal(a, bgra[:, :, 2::-1])                 # alpha dropped, BGR -> RGB
    gj = read_frame(tmp_path / "gray.jpg")
    assert gj.shape == (H, W, 3) and (gj[..., 0] == gj[..., 1]).all() and (gj[..., 1] == gj[..., 2]).all()
    np.testing.assert_array_equal(read_frame(tmp_path / "blue.png")[0, 0], [0, 0, 255])
    tally.add("bad_inputs", 3)


# ---------------------------------------------------------------------------------------------
# trackers: init boxes, frame formats, tiny frames
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def models():
    """Random-initialised tiny presets (the checks here do not depend on trained weights)."""
    torch.manual_seed(0)
    out = {}
    for preset in ("hctrack-tiny", "cia-tiny"):
        cfg = get_config(preset)
        out[preset] = (cfg, family_api(cfg).build_model(cfg).eval())
    return out


def _tracker(models, preset):
    cfg, model = models[preset]
    return family_api(cfg).build_tracker(cfg, model, "cpu")


def _frame(hw=(H, W), box=(20, 14, 12, 10)):
    img = np.full((*hw, 3), 30, np.uint8)
    x, y, w, h = box
    img[y:y + h, x:x + w] = (230, 210, 60)
    return img


BAD_INIT_BOXES = [
    ("zero width", [10, 10, 0, 8]),
    ("zero height", [10, 10, 8, 0]),
    ("negative size", [10, 10, -5, 8]),
    ("NaN", [np.nan, 10, 8, 8]),
    ("infinite", [10, np.inf, 8, 8]),
    ("right of the image", [W + 6, 10, 8, 8]),
    ("below the image", [10, H, 8, 8]),
    ("left of the image", [-20, 10, 8, 8]),
    ("above the image", [10, -9, 8, 8]),
    ("three numbers", [10, 10, 8]),
]


@pytest.mark.parametrize("preset", ["hctrack-tiny", "cia-tiny"])
@pytest.mark.parametrize("what,box", BAD_INIT_BOXES, ids=[c[0] for c in BAD_INIT_BOXES])
def test_bad_init_box_is_a_value_error_naming_the_box(models, preset, what, box, tally):
    trk = _tracker(models, preset)
    with pytest.raises(ValueError) as e:
        trk.initialize(_frame(), np.array(box, dtype=np.float64))
    assert str(np.array(box, dtype=np.float64).tolist()) in str(e.value), str(e.value)
    tally.add("bad_inputs")


def test_runner_records_a_zero_size_init_box_naming_the_sequence(got, tools, tmp_path, tally):
    root, ds, dirs = got
    gt = dirs[1] / "groundtruth.txt"
    gt.write_text(gt.read_text().replace(gt.read_text().splitlines()[0], "10.0,10.0,0.0,9.0", 1))
    with pytest.raises(TrackingFailedError, match=ds.names[1]) as e:
        run_tracker(tools.BlobTracker, ds, tmp_path / "blob", progress=False)
    expected = f"sequence {ds.names[1]!r}: initial box [10.0, 10.0, 0.0, 9.0] is not a valid box"
    assert expected in e.value.failures[ds.names[1]]
    tally.add("bad_inputs")


BAD_ARRAYS = [
    ("grayscale (H, W)", lambda: np.zeros((H, W), np.uint8)),
    ("one channel (H, W, 1)", lambda: np.zeros((H, W, 1), np.uint8)),
    ("RGBA (H, W, 4)", lambda: np.zeros((H, W, 4), np.uint8)),
    ("float32", lambda: np.zeros((H, W, 3), np.float32)),
    ("CHW tensor layout", lambda: np.zeros((3, H, W), np.uint8)),
]


@pytest.mark.parametrize("preset", ["hctrack-tiny", "cia-tiny"])
@pytest.mark.parametrize("what,make", BAD_ARRAYS, ids=[c[0] for c in BAD_ARRAYS])
def test_frames_not_hw3_uint8_are_refused_naming_the_shape(models, preset, what, make, tally):
    """The tracker interface takes (H, W, 3) uint8 RGB (`datasets.frames.read_frame` converts
    grayscale / RGBA files); anything else is a ValueError stating the expected and the given shape."""
    trk = _tracker(models, preset)
    bad = make()
    with pytest.raises(ValueError, match=r"\(H, W, 3\) uint8") as e:
        trk.initialize(bad, np.array([20.0, 14, 12, 10]))
    assert str(bad.shape) in str(e.value)
    trk.initialize(_frame(), np.array([20.0, 14, 12, 10]))
    with pytest.raises(ValueError, match=re.escape(str(bad.shape))):
        trk.track(bad)
    tally.add("bad_inputs")


@pytest.mark.parametrize("preset", ["hctrack-tiny", "cia-tiny"])
@pytest.mark.parametrize("hw,box", [((20, 24), (8, 6, 6, 5)), ((7, 9), (2, 2, 3, 2)), ((1, 1), (0, 0, 1, 1))])
def test_frames_smaller_than_the_crop_are_tracked(models, preset, hw, box, tally):
    trk = _tracker(models, preset)
    trk.initialize(_frame(hw, box), np.array(box, dtype=np.float64))
    for i in range(4):
        shifted = (min(box[0] + i % 2, hw[1] - box[2]), box[1], box[2], box[3])
        b, score = r = trk.track(_frame(hw, shifted))
        assert r.flag == "" and np.isfinite(b).all() and b[2] > 0 and b[3] > 0 and np.isfinite(score)
        assert b[0] < hw[1] and b[1] < hw[0] and b[0] + b[2] > 0 and b[1] + b[3] > 0   # overlaps the image
    tally.add("bad_inputs")


# ---------------------------------------------------------------------------------------------
# result files
# ---------------------------------------------------------------------------------------------

RESULT_CASES = [  # (what, edit(lines) -> lines, message pattern)
    ("one line short", lambda ls: ls[:-1], r"{f}: 5 rows for 6 frames"),
    ("one line too many", lambda ls: ls + [ls[-1]], r"{f}: 7 rows for 6 frames"),
    ("empty", lambda ls: [], r"{f}: 0 rows for 6 frames"),
    ("text line", lambda ls: ls[:3] + ["lost track"] + ls[4:], r"{f}:4: expected 4 comma-separated numbers"),
    ("three numbers", lambda ls: ls[:2] + ["1,2,3"] + ls[3:], r"{f}:3: expected 4"),
]


@pytest.mark.parametrize("what,edit,pattern", RESULT_CASES, ids=[c[0] for c in RESULT_CASES])
def test_wrong_result_files_are_never_scored_or_packed(got, tools, tmp_path, what, edit, pattern, tally):
    root, ds, dirs = got
    out = tmp_path / "blob"
    run_tracker(tools.BlobTracker, ds, out, runs=1, layout="got10k", progress=False)
    f = out / ds.names[0] / f"{ds.names[0]}_001.txt"
    lines = f.read_text().splitlines()
    f.write_text("".join(line + "\n" for line in edit(lines)))
    expected = pattern.format(f=re.escape(str(f)))
    with pytest.raises(IncompleteResultsError, match=expected):
        evaluate_trackers("got10k", [out], dataset=ds)
    with pytest.raises(PackingError, match=re.escape(str(f))):
        pack_results("got10k", out, tmp_path / "packed.zip", dataset=ds)
    assert not (tmp_path / "packed.zip").exists()
    tally.add("bad_inputs")


def test_foreign_files_in_the_results_folder_are_ignored(got, tools, tmp_path, tally):
    """Temporary files of a crashed writer and stray files never count as results."""
    root, ds, dirs = got
    out = tmp_path / "blob"
    run_tracker(tools.BlobTracker, ds, out, progress=False)
    (out / f"{ds.names[0]}.txt.tmp-999999").write_text("1,2,3,4\n")
    (out / "notes.md").write_text("hello\n")
    assert rf.list_sequences(out) == sorted(ds.names)
    ev = evaluate_trackers("got10k", [out], dataset=ds)
    assert ev["trackers"]["blob"]["ao"] > 0.5
    run_tracker(tools.BlobTracker, ds, out, progress=False)            # the rerun cleans the stale one
    assert not tools.tmp_files(out) and (out / "notes.md").exists()
    tally.add("bad_inputs", 2)
    tally.add("stale_tmp_cleaned")


# ---------------------------------------------------------------------------------------------
# checkpoints
# ---------------------------------------------------------------------------------------------


def _release(path: Path, preset: str, state: dict, cfg=None) -> Path:
    import dataclasses

    from datasets.fileio import atomic_torch_save

    cfg = cfg if cfg is not None else get_config(preset)
    atomic_torch_save({"format_version": 1, "kind": "release", "preset": preset,
                       "config": dataclasses.asdict(cfg), "model": state}, path)
    return path


def test_checkpoint_of_another_preset_or_model_is_refused_naming_keys(models, tmp_path, tally):
    from experiments.tracker_weights import WeightsSpec, load_model
    from trackers.common.checkpoint import CheckpointError

    cia_state = models["cia-tiny"][1].state_dict()
    hc_state = models["hctrack-tiny"][1].state_dict()
    other = _release(tmp_path / "cia.pt", "cia-tiny", cia_state)
    with pytest.raises(CheckpointError, match=r"weights are for preset 'cia-tiny', not 'hctrack-tiny'") as e:
        load_model("hctrack-tiny", WeightsSpec("release", other))
    assert str(other) in str(e.value)

    relabelled = _release(tmp_path / "relabelled.pt", "cia-tiny", hc_state)   # right name, wrong network
    with pytest.raises(CheckpointError) as e:
        load_model("cia-tiny", WeightsSpec("release", relabelled))
    msg = str(e.value)
    assert str(relabelled) in msg and "missing keys" in msg and "unexpected keys" in msg
    assert next(iter(cia_state)) in msg and next(iter(hc_state)) in msg

    key = next(k for k, v in cia_state.items() if v.ndim == 4)
    resized = dict(cia_state)
    resized[key] = torch.zeros(*cia_state[key].shape[:-1], cia_state[key].shape[-1] + 2)
    bad_shape = _release(tmp_path / "resized.pt", "cia-tiny", resized)
    with pytest.raises(CheckpointError, match=rf"shape mismatch {re.escape(key)}: checkpoint \("):
        load_model("cia-tiny", WeightsSpec("release", bad_shape))
    tally.add("bad_inputs", 3)


class _Payload:
    """Unpickling this runs code: it creates the marker file (what a malicious checkpoint would do)."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def test_checkpoint_with_pickled_code_is_refused_and_never_run(models, tmp_path, tally):
    from experiments.trainer import RunSettings, load_release, train
    from experiments.trainer.checkpoint import load_checkpoint
    from experiments.tracker_weights import WeightsSpec, load_model
    from trackers.common.checkpoint import CheckpointError, load_weights_only

    marker = tmp_path / "code_ran"
    path = tmp_path / "evil.pt"
    state = dict(models["cia-tiny"][1].state_dict())
    torch.save({"format_version": 1, "kind": "release", "preset": "cia-tiny", "config": {}, "model": state,
                "extra": _Payload(marker)}, path)
    loaders = [
        lambda: load_weights_only(path),
        lambda: load_release(path, preset="cia-tiny"),
        lambda: load_checkpoint(path),
        lambda: load_model("cia-tiny", WeightsSpec("release", path)),
        lambda: train(RunSettings(preset="cia-tiny", out=str(tmp_path / "run"), resume=str(path), device="cpu",
                                  progress=False)),
    ]
    for load in loaders:
        with pytest.raises(CheckpointError, match=rf"{re.escape(str(path))}: refused to load: .*pickled"):
            load()
        assert not marker.exists(), "unpickling ran the payload"
    tally.add("bad_inputs", len(loaders))


def test_resuming_a_checkpoint_of_another_preset_is_refused(tmp_path, tools, tally):
    from experiments.trainer import RunSettings, train
    from experiments.trainer.checkpoint import save_checkpoint
    from trackers.common.checkpoint import CheckpointError

    ck = save_checkpoint(tmp_path / "run" / "last.pt", preset="cia-tiny", model={}, optimizer={}, scheduler={},
                         rng={}, epoch=0, epoch_step=1, global_step=1)
    expected = rf"{re.escape(str(ck))}: checkpoint of preset 'cia-tiny', cannot resume 'toy'"
    with pytest.raises(CheckpointError, match=expected):
        train(RunSettings(preset="toy", out=str(tmp_path / "run"), resume="auto", device="cpu", progress=False),
              cfg=tools.ToyConfig(), family=tools.ToyFamily, sources=[])
    tally.add("bad_inputs")
