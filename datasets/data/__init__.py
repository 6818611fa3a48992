"""Package data: official split lists shipped with the toolkit (plain text, one name per line).

* ``lasot_train.txt`` (1,120) / ``lasot_test.txt`` (280): the official LaSOT protocol-II split
  (the test list is the one of pytracking's ``LaSOTDataset`` and the got10k toolkit; the train
  list equals pytracking's ``ltr/data_specs/lasot_train_split.txt``; they are disjoint and cover
  the 70 x 20 sequences).
* ``lasot_categories.txt``: the 70 LaSOT classes in alphabetical order (class index = line - 1).

Their SHA-256 checksums are pinned in `datasets.loaders.lasot.SPLIT_SHA256` and tested.
"""
from pathlib import Path

DATA_DIR = Path(__file__).resolve().parent


def data_file(name: str) -> Path:
    """Path of a shipped data file; FileNotFoundError names it if absent."""
    p = DATA_DIR / name
    if not p.is_file():
        raise FileNotFoundError(f"{p}: package data file missing (broken installation?)")
    return p
