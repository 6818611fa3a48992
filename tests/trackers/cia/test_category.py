"""Category-aware module: live dictionary atoms, encoder residual, class list and name mapping."""
import json

import torch

from trackers.cia.categories import CLASSES_FILE, category_index, category_indices, lasot_classes
from trackers.cia.category import CategoryClassifier, CategoryEncoder


def _pair():
    torch.manual_seed(0)
    clf = CategoryClassifier(in_channels=8, num_categories=5, block="basic", num_blocks=1, width=16)
    enc = CategoryEncoder(dim=8, atom_dim=16, num_layers=2, heads=2, ffn_dim=16, dropout=0.0).eval()
    return clf, enc


def test_encoder_reads_live_classifier_weights():
    clf, enc = _pair()
    x = torch.randn(2, 8, 3, 3)
    out1 = enc(x, clf.atoms)
    assert clf.atoms is clf.fc.weight                     # the parameter itself, not a copy
    with torch.no_grad():
        clf.fc.weight.mul_(3.0)                           # e.g. an optimizer step
    out2 = enc(x, clf.atoms)
    assert not torch.allclose(out1, out2)
    # load_state_dict on the classifier changes the encoder output too (the release's cached copy did not)
    state = {k: v.clone() for k, v in clf.state_dict().items()}
    state["fc.weight"] = torch.randn_like(state["fc.weight"])
    clf.load_state_dict(state)
    torch.testing.assert_close(enc(x, clf.atoms), enc(x, state["fc.weight"]))
    # the tracking loss reaches W through the encoder
    enc(x, clf.atoms).sum().backward()
    assert clf.fc.weight.grad is not None and clf.fc.weight.grad.abs().sum() > 0


def test_encoder_is_residual_and_keys_matter():
    _, enc = _pair()
    x = torch.randn(1, 8, 2, 2)
    atoms = torch.randn(5, 16)
    out = enc(x, atoms)
    assert out.shape == x.shape
    # residual: output minus input equals the transformer's token output (LayerNorm-ed: zero mean per token)
    delta = (out - x).flatten(2).transpose(1, 2)
    torch.testing.assert_close(delta.mean(-1), torch.zeros(1, 4), atol=1e-5, rtol=0)
    assert not torch.allclose(enc(x, atoms), enc(x, atoms.flip(1)))


def test_classifier_logits_shape_and_box_dependence():
    clf, _ = _pair()
    feat = torch.randn(2, 8, 8, 8)
    boxes = torch.tensor([[16.0, 16.0, 64.0, 64.0], [0.0, 0.0, 32.0, 32.0]])
    logits = clf(feat, boxes)
    assert logits.shape == (2, 5)
    assert not torch.allclose(clf(feat, boxes), clf(feat, boxes + torch.tensor([40.0, 40.0, 0.0, 0.0])))


def test_lasot_class_list():
    names = lasot_classes()
    assert len(names) == 70 and list(names) == sorted(names)
    assert names[0] == "airplane" and names[-1] == "zebra"
    assert json.loads(CLASSES_FILE.read_text())["classes"] == list(names)


def test_name_mapping_table():
    names = lasot_classes()
    assert category_index("zebra") == names.index("zebra")
    assert category_index("Electric Fan") == names.index("electricfan")
    assert category_index("license_plate") == names.index("licenseplate")
    assert category_index("cow") == names.index("cattle")               # TrackingNet / COCO
    assert category_index("motorbike") == names.index("motorcycle")
    assert category_index("teddy bear") == -1                            # explicit look-alike
    assert category_index("potted plant") == -1 and category_index("spaceship") == -1
    assert category_index(None) == -1
    assert category_indices(["bear", "knife", "Person"]).tolist() == [names.index("bear"), -1, names.index("person")]
