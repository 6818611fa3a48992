"""Sampling: causal frame selection, trainability, mixing, seeding, grouping, redraws."""
from __future__ import annotations

import logging

import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st
from torch.utils.data import DataLoader

from datasets.frames import write_frame
from datasets.processing.config import OSTrackProcessingConfig
from datasets.processing.ostrack import OSTrackProcessing
from datasets.sampling import (
    DatasetMixture, EpochGroupOrder, FrameSamplingConfig, GroupCollate, GroupedSampleDataset,
    causal_frame_ids, is_trainable, sample_rng, usable_frames,
)
from datasets.sequence import Sequence, SequenceDataset


# ---------------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------------
class ListDataset(SequenceDataset):
    benchmark = "toy"

    def __init__(self, seqs):
        super().__init__("/nonexistent", "train")
        self._seqs = {s.name: s for s in seqs}

    def _list_names(self):
        return list(self._seqs)

    def _load(self, name):
        return self._seqs[name]


def fake_sequence(name, visible, box=(10.0, 10.0, 20.0, 20.0), category=None):
    n = len(visible)
    boxes = np.tile(np.asarray(box, dtype=np.float64), (n, 1))
    return Sequence(name, tuple(f"/nonexistent/{name}/{i:04d}.jpg" for i in range(n)), boxes,
                    np.asarray(visible, bool), category=category)


def image_sequence(tmp_path, name, n, size=64, box=(20.0, 22.0, 16.0, 12.0), category=None):
    """n frames of a grey image with a white target whose box is `box` in every frame."""
    folder = tmp_path / name
    img = np.full((size, size, 3), 60, np.uint8)
    x, y, w, h = (int(v) for v in box)
    img[y:y + h, x:x + w] = 255
    frames = []
    for i in range(n):
        p = folder / f"{i:04d}.jpg"
        write_frame(p, img)
        frames.append(p)
    boxes = np.tile(np.asarray(box, np.float64), (n, 1))
    return Sequence(name, tuple(frames), boxes, np.ones(n, bool), category=category)


SMALL_OST = OSTrackProcessingConfig(template_size=32, search_size=64, stride=16, max_gap=5, image_min_box_side=0.0)


# ---------------------------------------------------------------------------------------------
# frame selection
# ---------------------------------------------------------------------------------------------
@settings(max_examples=200, deadline=None)
@given(
    mask=st.lists(st.booleans(), min_size=2, max_size=60),
    nb=st.integers(1, 3), na=st.integers(1, 3), gap=st.integers(1, 30), seed=st.integers(0, 2**32 - 1),
)
def test_causal_frames_are_usable_and_ordered(mask, nb, na, gap, seed):
    usable = np.array(mask)
    cfg = FrameSamplingConfig(num_before=nb, num_after=na, max_gap=gap)
    # a video admits a draw iff some usable base i >= nb-1 has a usable frame before it (if nb > 1)
    # and a usable frame after it (brute force over all bases, window unbounded)
    idx = np.flatnonzero(usable)
    feasible = any(
        i >= nb - 1 and i < len(usable) - na and (nb == 1 or (idx < i).any()) and (idx > i).any() for i in idx
    )
    rng = np.random.default_rng(seed)
    if not feasible:
        with pytest.raises(ValueError, match="no feasible base frame"):
            causal_frame_ids(usable, cfg, rng)
        return
    before, after = causal_frame_ids(usable, cfg, rng)
    assert before.shape == (nb,) and after.shape == (na,)
    assert usable[before].all() and usable[after].all()          # never an invisible frame
    assert before.max() < after.min()                              # causal: templates before search
    assert (np.diff(before) >= 0).all() and (np.diff(after) >= 0).all()


def test_causal_frames_respect_max_gap_when_feasible():
    usable = np.ones(100, bool)
    cfg = FrameSamplingConfig(num_before=2, num_after=1, max_gap=7)
    rng = np.random.default_rng(0)
    for _ in range(300):
        before, after = causal_frame_ids(usable, cfg, rng)
        base = before.max()
        # extra template in [base - 7, base), search in (base, base + 7)
        assert base - 7 <= before.min() <= base
        assert base < after[0] < base + 7


def test_causal_frames_grow_the_gap_when_needed():
    # usable frames 0 and 50 only: impossible at gap 10, found once the window grows past 50
    usable = np.zeros(60, bool)
    usable[[0, 50]] = True
    before, after = causal_frame_ids(usable, FrameSamplingConfig(1, 1, max_gap=10), np.random.default_rng(1))
    assert before.tolist() == [0] and after.tolist() == [50]


def test_one_frame_sequence_uses_frame_zero_everywhere():
    before, after = causal_frame_ids(np.array([True]), FrameSamplingConfig(2, 1, 200), np.random.default_rng(0))
    assert before.tolist() == [0, 0] and after.tolist() == [0]


def test_usable_frames_excludes_invalid_boxes():
    boxes = np.array([[0, 0, 5, 5], [0, 0, 0, 5], [np.nan] * 4, [1, 1, 2, 2]], float)
    np.testing.assert_array_equal(usable_frames(boxes, [True, True, True, False]), [True, False, False, False])


def test_trainability_rule():
    cfg = FrameSamplingConfig(num_before=3, num_after=3, max_gap=30)        # needs > 12 usable, len >= 20
    box = np.tile([0.0, 0.0, 60.0, 60.0], (20, 1))
    vis = np.zeros(20, bool)
    vis[:13] = True
    assert is_trainable(box, vis, cfg)
    vis[12] = False                                                          # 12 usable: not > 12
    assert not is_trainable(box, vis, cfg)
    assert not is_trainable(box[:19], np.ones(19, bool), cfg)                # too short
    img_cfg = FrameSamplingConfig(2, 1, 200, image_min_box_side=50.0)
    assert is_trainable(np.array([[0, 0, 51.0, 60.0]]), [True], img_cfg)
    assert not is_trainable(np.array([[0, 0, 50.0, 60.0]]), [True], img_cfg)  # OSTrack COCO: sides > 50
    assert not is_trainable(np.array([[0, 0, 80.0, 60.0]]), [False], img_cfg)


# ---------------------------------------------------------------------------------------------
# mixing
# ---------------------------------------------------------------------------------------------
def test_mixture_ratios_skips_and_video_ids():
    good = [fake_sequence(f"a{i}", np.ones(30, bool)) for i in range(3)]
    bad = fake_sequence("a_bad", np.zeros(30, bool))
    a = ListDataset(good + [bad])
    b = ListDataset([fake_sequence(f"b{i}", np.ones(25, bool)) for i in range(2)])
    mix = DatasetMixture([("a", a, 3.0), ("b", b, 1.0)], FrameSamplingConfig(2, 1, 10))
    rng = np.random.default_rng(0)
    draws = [mix.draw(rng) for _ in range(4000)]
    frac_a = np.mean([d.dataset == "a" for d in draws])
    assert abs(frac_a - 0.75) < 0.03                                # ratio 3:1
    assert all(d.sequence.name != "a_bad" for d in draws)           # no visible frame: skipped
    assert mix.num_skipped == 1                                      # remembered, counted once
    ids = {(d.dataset, d.sequence.name): d.video_id for d in draws}
    assert ids[("a", "a0")] == 0 and ids[("a", "a2")] == 2 and ids[("b", "b0")] == 4 and ids[("b", "b1")] == 5
    assert len(set(ids.values())) == len(ids)


def test_mixture_without_trainable_video_names_the_data_sets():
    mix = DatasetMixture([("tiny", ListDataset([fake_sequence("s", np.ones(5, bool))]), 1.0)],
                         FrameSamplingConfig(2, 1, 10), max_draws=50)
    with pytest.raises(ValueError, match=r"no trainable video.*'tiny'"):
        mix.draw(np.random.default_rng(0))


# ---------------------------------------------------------------------------------------------
# seeding, determinism, ranks, workers
# ---------------------------------------------------------------------------------------------
def test_sample_rng_depends_on_every_input():
    draws = {k: sample_rng(*k).integers(1 << 62) for k in [(0, 0, 0), (1, 0, 0), (0, 1, 0), (0, 0, 1)]}
    assert len(set(draws.values())) == 4
    assert sample_rng(3, 2, 7).integers(1 << 62) == sample_rng(3, 2, 7).integers(1 << 62)
    with pytest.raises(ValueError, match="index"):
        sample_rng(0, 0, -1)


def test_epoch_group_order_partitions_steps_across_ranks():
    one = list(EpochGroupOrder(epoch=2, steps=3, groups_per_step=4, rank=0, world_size=1))
    r0 = list(EpochGroupOrder(2, 3, 2, rank=0, world_size=2))
    r1 = list(EpochGroupOrder(2, 3, 2, rank=1, world_size=2))
    for s in range(3):  # step s of a 4-group process == rank 0's 2 groups + rank 1's 2 groups
        assert one[4 * s:4 * s + 4] == r0[2 * s:2 * s + 2] + r1[2 * s:2 * s + 2]
    assert set(r0).isdisjoint(r1)
    resumed = list(EpochGroupOrder(2, 3, 4, start_step=1))
    assert resumed == one[4:]


@pytest.fixture(scope="module")
def toy_mixture(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("toy")
    seqs = [image_sequence(tmp, f"v{i}", 20, box=(16.0 + i, 20.0, 16.0, 12.0)) for i in range(3)]
    proc = OSTrackProcessing(SMALL_OST)
    return DatasetMixture([("toy", ListDataset(seqs), 1.0)], proc.frame_sampling()), proc


def _batches(loader):
    return [{k: v.clone() for k, v in b.items() if isinstance(v, torch.Tensor)} for b in loader]


def test_grouped_batches_are_deterministic_grouped_and_worker_invariant(toy_mixture):
    mix, proc = toy_mixture
    ds = GroupedSampleDataset(mix, proc, base_seed=5, samples_per_video=3)
    make = lambda workers, seed=5, epoch=0: DataLoader(  # noqa: E731
        GroupedSampleDataset(mix, proc, base_seed=seed, samples_per_video=3),
        batch_size=2, sampler=EpochGroupOrder(epoch, steps=2, groups_per_step=2),
        collate_fn=GroupCollate(proc), num_workers=workers, drop_last=True,
    )
    a, b = _batches(make(0)), _batches(make(2))
    assert len(a) == 2
    for x, y in zip(a, b):                                   # same samples with 0 or 2 workers
        assert x.keys() == y.keys()
        for k in x:
            assert torch.equal(x[k], y[k]), k
    vid = a[0]["video_id"]
    assert vid.shape == (6,)
    assert (vid[0:3] == vid[0]).all() and (vid[3:6] == vid[3]).all()   # P=3 consecutive per video
    c = _batches(make(0, seed=6))
    assert not torch.equal(a[0]["search"], c[0]["search"])             # another seed: other data
    d = _batches(make(0, epoch=1))
    assert not torch.equal(a[0]["search"], d[0]["search"])             # another epoch: other data
    g = ds[(0, 3)]
    assert len(g["samples"]) == 3 and len({s["video_id"] for s in g["samples"]}) == 1


def test_ranks_draw_the_single_process_batch(toy_mixture):
    mix, proc = toy_mixture
    ds = GroupedSampleDataset(mix, proc, base_seed=1, samples_per_video=1)
    collate = GroupCollate(proc)
    single = collate([ds[k] for k in EpochGroupOrder(0, 1, 4)])
    ranks = [collate([ds[k] for k in EpochGroupOrder(0, 1, 2, rank=r, world_size=2)]) for r in range(2)]
    assert torch.equal(torch.cat([r["search"] for r in ranks]), single["search"])
    assert not torch.equal(ranks[0]["search"], ranks[1]["search"])     # ranks see different data


# ---------------------------------------------------------------------------------------------
# redraws are counted and logged
# ---------------------------------------------------------------------------------------------
def test_all_padding_and_corrupt_frames_are_counted_logged_and_redrawn(tmp_path, caplog):
    good = image_sequence(tmp_path, "good", 20)
    # "visible" target far outside its 64x64 image: every crop window is all padding
    far = Sequence("far", good.frames, np.tile([5000.0, 5000.0, 10.0, 10.0], (20, 1)), np.ones(20, bool))
    corrupt = image_sequence(tmp_path, "corrupt", 20)
    for p in corrupt.frames:
        data = p.read_bytes()
        p.write_bytes(data[: len(data) // 2])                            # truncated JPEGs
    proc = OSTrackProcessing(SMALL_OST)
    mix = DatasetMixture([("a", ListDataset([good, far, corrupt]), 1.0)], proc.frame_sampling())
    ds = GroupedSampleDataset(mix, proc, base_seed=0, samples_per_video=2, max_redraws=3)
    collate = GroupCollate(proc)
    with caplog.at_level(logging.WARNING, logger="datasets.sampling.dataset"):
        batch = collate([ds[(0, i)] for i in range(12)])
    st_ = batch["data_stats"]
    assert st_["redraw_padding"] > 0 and st_["redraw_corrupt"] > 0
    assert st_["redraw_padding"] % 3 == 0 and st_["redraw_corrupt"] % 3 == 0   # 3 tries per bad video
    assert st_["group_redraws"] == (st_["redraw_padding"] + st_["redraw_corrupt"]) // 3
    assert (batch["video_id"] == 0).all()                                 # only the good video survives
    text = caplog.text
    assert "a/far (frame" in text and "all padding" in text
    assert "corrupt frame" in text and str(corrupt.frames[0].parent) in text
