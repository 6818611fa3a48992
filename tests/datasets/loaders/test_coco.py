"""COCO loader: one-frame sequences of non-crowd objects, compact cached index, malformed JSON."""
from __future__ import annotations

import json

import numpy as np
import pytest

from datasets.loaders import coco as coco_mod
from datasets.loaders.annotations import AnnotationError
from datasets.loaders.coco import COCODataset

DATA = {
    "images": [{"id": 42, "file_name": "000000000042.jpg"}, {"id": 7, "file_name": "000000000007.jpg"}],
    "categories": [{"id": 1, "name": "person"}, {"id": 18, "name": "dog"}],
    "annotations": [
        {"id": 900, "image_id": 7, "category_id": 18, "bbox": [10.5, 20.0, 30.25, 40.0], "iscrowd": 0},
        {"id": 100, "image_id": 42, "category_id": 1, "bbox": [1, 2, 3, 4], "iscrowd": 0},
        {"id": 500, "image_id": 42, "category_id": 1, "bbox": [0, 0, 50, 60], "iscrowd": 1},
        {"id": 300, "image_id": 7, "category_id": 1, "bbox": [5, 5, 0, 9]},
    ],
}


@pytest.fixture
def coco_root(tmp_path):
    root = tmp_path / "coco"
    (root / "annotations").mkdir(parents=True)
    (root / "annotations" / "instances_train2017.json").write_text(json.dumps(DATA))
    return root


def test_objects_as_sequences(coco_root):
    ds = COCODataset(coco_root)
    assert ds.names == ["100", "300", "900"]                 # crowd object 500 dropped
    s = ds["900"]
    np.testing.assert_array_equal(s.boxes, [[10.5, 20.0, 30.25, 40.0]])
    assert s.category == "dog" and s.frames == (coco_root / "train2017" / "000000000007.jpg",)
    assert s.meta == {"split": "train", "image_id": 7, "ann_id": 900, "category_id": 18}
    assert ds[0].category == "person" and ds[0].visible.tolist() == [True]
    assert ds["300"].visible.tolist() == [False]            # zero width kept, not visible
    with pytest.raises(KeyError, match="500"):
        ds["500"]
    with pytest.raises(KeyError, match="annotation ids"):
        ds["person"]


def test_index_cached(coco_root, monkeypatch):
    COCODataset(coco_root).names
    monkeypatch.setattr(coco_mod, "build_index", lambda p: (_ for _ in ()).throw(AssertionError("reparsed")))
    assert COCODataset(coco_root)["100"].category == "person"
    # a changed JSON (size/mtime) is re-indexed
    data = json.loads(json.dumps(DATA))
    data["annotations"].append({"id": 1000, "image_id": 7, "category_id": 1, "bbox": [1, 1, 2, 2]})
    (coco_root / "annotations" / "instances_train2017.json").write_text(json.dumps(data))
    monkeypatch.undo()
    assert COCODataset(coco_root).names[-1] == "1000"


@pytest.mark.parametrize("mutate,exc,pattern", [
    (lambda d: d["annotations"][0].update(bbox=[1, 2, 3]), AnnotationError, "annotation 900: bbox must be"),
    (lambda d: d["annotations"][1].update(image_id=99), AnnotationError, "annotation 100: unknown image_id 99"),
    (lambda d: d["annotations"][0].pop("category_id"), KeyError, r"annotations \(non-crowd\)\[0\]: missing key 'category_id'"),
    (lambda d: d.pop("categories"), KeyError, "missing key 'categories'"),
])
def test_malformed(coco_root, mutate, exc, pattern):
    data = json.loads(json.dumps(DATA))
    mutate(data)
    (coco_root / "annotations" / "instances_train2017.json").write_text(json.dumps(data))
    with pytest.raises(exc, match=pattern):
        COCODataset(coco_root, use_cache=False).names


def test_invalid_json_names_line(coco_root):
    p = coco_root / "annotations" / "instances_train2017.json"
    p.write_text('{"images": [],\n"annotations": [,]}')
    with pytest.raises(AnnotationError, match=f"{p}:2: invalid JSON"):
        COCODataset(coco_root).names
    with pytest.raises(FileNotFoundError, match="instances_val2017.json"):
        COCODataset(coco_root, "val").names
