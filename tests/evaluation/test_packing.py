"""Server packing: exact layouts, validation before zipping, determinism, the CLI."""
from __future__ import annotations

import sys
import types
import zipfile

import numpy as np
import pytest

from evaluation import results as rf
from evaluation.packing import GOT10K_TEST_SEQUENCES, PackingError, pack_results
from experiments import pack as cli


@pytest.fixture
def got10k_test(tmp_path, evtools):
    root = evtools.write_got10k_fixture(tmp_path / "data", split="test", prefix="GOT-10k_Test", lengths=(6, 5, 7), absent={})
    return evtools.Got10kStandIn(root, "test")


def write_runs(d, dataset, runs, layout="got10k", delimiter=","):
    for s in dataset:
        for r in range(1, runs + 1):
            p = rf.box_path(d, s.name, layout, r)
            p.parent.mkdir(parents=True, exist_ok=True)
            rows = np.tile([1.0 + r, 2.0, 30.5, 40.25], (len(s), 1))
            p.write_text("".join(delimiter.join(f"{v:g}" for v in row) + "\n" for row in rows))
        rf.write_time_file(rf.time_path(d, s.name, layout), np.full((len(s), runs), 0.01))


def test_got10k_layout_from_space_separated_results(tmp_path, got10k_test):
    d = tmp_path / "trk"
    write_runs(d, got10k_test, 3, delimiter=" ")
    rep = pack_results("got10k", d, tmp_path / "sub.zip", dataset=got10k_test)
    z = zipfile.ZipFile(tmp_path / "sub.zip")
    name = got10k_test.names[0]
    expected = {f"{n}/{n}_{r:03d}.txt" for n in got10k_test.names for r in (1, 2, 3)}
    expected |= {f"{n}/{n}_time.txt" for n in got10k_test.names}
    assert set(z.namelist()) == expected and rep.runs == 3 and rep.sequences == 3
    assert z.read(f"{name}/{name}_002.txt").decode().splitlines()[0] == "3.000,2.000,30.500,40.250"  # commas
    times = z.read(f"{name}/{name}_time.txt").decode().splitlines()
    assert len(times) == 6 and times[0] == "0.01000000,0.01000000,0.01000000"
    pack_results("got10k", d, tmp_path / "again.zip", dataset=got10k_test)
    assert (tmp_path / "sub.zip").read_bytes() == (tmp_path / "again.zip").read_bytes()  # deterministic


def test_got10k_validation_lists_every_problem_and_writes_nothing(tmp_path, got10k_test):
    d = tmp_path / "trk"
    write_runs(d, got10k_test, 1)
    a, b, c = got10k_test.names
    f = rf.box_path(d, a, "got10k", 1)
    f.write_text("".join(f.read_text().splitlines(keepends=True)[:-1]))    # one frame short
    (d / b / f"{b}_time.txt").unlink()                                       # no time file
    g = rf.box_path(d, c, "got10k", 1)
    g.write_text(g.read_text().replace("2,30.5", "nan,30.5", 1))             # NaN on line 1
    rf.write_box_file(d / "GOT-10k_Test_999999.txt", np.ones((3, 4)))        # not in the test set
    with pytest.raises(PackingError) as e:
        pack_results("got10k", d, tmp_path / "sub.zip", dataset=got10k_test)
    msg = str(e.value)
    assert f"{a}_001.txt: 5 rows, expected 6" in msg
    assert f"no time file for {b}" in msg
    assert f"{c}_001.txt:1: non-finite box" in msg
    assert "GOT-10k_Test_999999" in msg
    assert not (tmp_path / "sub.zip").exists()


def test_got10k_without_data_root_checks_the_official_names(tmp_path, got10k_test):
    d = tmp_path / "trk"
    write_runs(d, got10k_test, 1)
    with pytest.raises(PackingError, match="177 problem"):
        pack_results("got10k", d, tmp_path / "s.zip")   # 177 of the 180 test sequences missing
    rep = pack_results("got10k", d, tmp_path / "s.zip", allow_partial=True)
    assert rep.sequences == 3 and len(GOT10K_TEST_SEQUENCES) == 180


def test_trackingnet_layout_at_zip_root(tmp_path, got10k_test):
    d = tmp_path / "trk"
    write_runs(d, got10k_test, 1, layout="otb", delimiter="\t")
    rep = pack_results("trackingnet", d, tmp_path / "tn.zip", dataset=got10k_test)
    z = zipfile.ZipFile(tmp_path / "tn.zip")
    assert sorted(z.namelist()) == sorted(f"{n}.txt" for n in got10k_test.names)
    assert z.read(f"{got10k_test.names[1]}.txt").decode().splitlines() == ["2.000,2.000,30.500,40.250"] * 5
    assert rep.runs == 1
    with pytest.raises(PackingError, match="the TrackingNet test set has 511"):
        pack_results("trackingnet", d, tmp_path / "tn2.zip")


def test_cli(tmp_path, got10k_test, monkeypatch, capsys):
    fake = types.ModuleType("datasets.loaders")
    fake.get_dataset = lambda benchmark, root=None, split=None: got10k_test
    monkeypatch.setitem(sys.modules, "datasets.loaders", fake)
    d = tmp_path / "trk"
    write_runs(d, got10k_test, 1)
    assert cli.main(["got10k", str(d), "--out", str(tmp_path / "o.zip"), "--data-root", "X"]) == 0
    assert "3 sequences, 1 run(s)" in capsys.readouterr().out
    assert cli.main(["got10k", str(d), "--out", str(tmp_path / "o2.zip")]) == 2
    assert "problem" in capsys.readouterr().err
