"""Starting CIA from ImageNet or from official pytracking DiMP weights, without running pickled code.

ImageNet: a torchvision ResNet state dict (``conv1.*, bn1.*, layer1..4.*, fc.*``) loaded
weights-only (`trackers.common.checkpoint.load_weights_only`): conv1..layer3 -> ``backbone``,
layer4 -> the category classifier's layer4-shaped block (when present), fc dropped.

pytracking DiMP18 / SuperDiMP checkpoints (``dimp18.pth``, ``super_dimp.pth.tar``) are dicts
``{"net": state_dict, "constructor": NetConstructor, "net_type", "epoch", ...}`` whose
``constructor`` (and sometimes ``settings``) are pickled objects of pytracking classes, so
``torch.load(weights_only=True)`` refuses them and a plain ``torch.load`` would import and run
pytracking code. `read_pytracking_checkpoint` unpickles with a restricted unpickler: only the
tensor-rebuilding helpers, storages and ``OrderedDict`` are resolved; every other global becomes an
inert placeholder class whose construction does nothing. Only ``net`` is kept.

pytracking key names (``ltr/models/tracking/dimpnet.py`` ``DiMPnet``) and ours:

==============================================================  =======================================
``feature_extractor.{conv1,bn1,layer1,layer2,layer3}.*``        ``backbone.*``
``feature_extractor.layer4.*`` (ImageNet, unused by DiMP)       ``category_classifier.block.*``
``feature_extractor.fc.*`` (ImageNet classifier)                dropped
``classifier.feature_extractor.*`` (BasicBlock, conv, norm)     ``target_classifier.features.*``
``classifier.filter_initializer.filter_conv.*``                 ``target_classifier.initializer.filter_conv.*``
``classifier.filter_optimizer.log_step_length / filter_reg``    ``target_classifier.optimizer.*``
``classifier.filter_optimizer.label_map_predictor.weight``      ``...optimizer.label_predictor.weight``
``classifier.filter_optimizer.target_mask_predictor.0.weight``  ``...optimizer.mask_predictor.weight``
``classifier.filter_optimizer.spatial_weight_predictor.weight`` ``...optimizer.weight_predictor.weight``
``bb_regressor.{conv3_1r, fc3_1r, conv4_1r}.*``                 ``box_head.{ref_conv_l2, ref_fc_l2, ref_conv_l3}.*``
``bb_regressor.{fc34_3r, fc34_4r}.*``                           ``box_head.{mod_l2, mod_l3}.*``
``bb_regressor.{conv3_1t, conv3_2t, conv4_1t, conv4_2t}.*``     ``box_head.test_conv{1,2}_l{2,3}.*``
``bb_regressor.{fc3_rt, fc4_rt, iou_predictor}.*``              ``box_head.{fc_l2, fc_l3, iou_predictor}.*``
==============================================================  =======================================

SuperDiMP's optimizer (PrDiMP's Newton) has no label/mask/weight predictors: those keep DiMP's
initial profiles. The CIA modules (mlp_q, angle modulation, category modules) are not in DiMP
checkpoints and keep their initialisation; the momentum encoder is re-synchronised afterwards.
"""
from __future__ import annotations

import collections
import pickle
import types
from pathlib import Path

import torch
from torch import Tensor, nn

from trackers.common.checkpoint import CheckpointError, load_state_dict_strict, load_weights_only

# -- restricted unpickling ---------------------------------------------------------------------

_ALLOWED: dict[tuple[str, str], object] = {
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("torch._utils", "_rebuild_tensor"): torch._utils._rebuild_tensor,
    ("torch._utils", "_rebuild_tensor_v2"): torch._utils._rebuild_tensor_v2,
    ("torch._utils", "_rebuild_parameter"): torch._utils._rebuild_parameter,
    ("torch", "Size"): torch.Size,
    ("builtins", "set"): set,
    ("builtins", "frozenset"): frozenset,
}
if hasattr(torch._utils, "_rebuild_parameter_with_state"):
    _ALLOWED[("torch._utils", "_rebuild_parameter_with_state")] = torch._utils._rebuild_parameter_with_state


class OpaqueObject:
    """Inert stand-in for a pickled object of a class we refuse to import: ignores its arguments
    and state, runs no code."""

    def __init__(self, *args, **kwargs) -> None:
        pass

    def __setstate__(self, state) -> None:
        pass


class RestrictedUnpickler(pickle.Unpickler):
    """Resolves tensor rebuild helpers, storages and OrderedDict; everything else -> `OpaqueObject`."""

    def find_class(self, module: str, name: str):
        if (module, name) in _ALLOWED:
            return _ALLOWED[(module, name)]
        if module == "torch" and name.endswith("Storage") and isinstance(getattr(torch, name, None), type):
            return getattr(torch, name)
        return type(name, (OpaqueObject,), {"__module__": f"opaque.{module}"})


def _restricted_pickle_module() -> types.ModuleType:
    mod = types.ModuleType("trackkit_restricted_pickle")
    mod.Unpickler = RestrictedUnpickler
    mod.load = lambda f, **kw: RestrictedUnpickler(f, **kw).load()
    return mod


def read_pytracking_checkpoint(path: str | Path) -> dict[str, Tensor]:
    """The ``net`` state dict of a pytracking checkpoint, read without executing pickled code.

    Raises:
        FileNotFoundError: no such file. CheckpointError: unreadable, or no ``net`` tensor dict.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: checkpoint file not found")
    try:
        obj = torch.load(path, map_location="cpu", pickle_module=_restricted_pickle_module(), weights_only=False)
    except (RuntimeError, EOFError, OSError, pickle.UnpicklingError, ValueError) as e:
        raise CheckpointError(f"{path}: not a readable checkpoint (truncated or corrupt?): {e}") from None
    if not isinstance(obj, dict) or "net" not in obj:
        keys = list(obj)[:10] if isinstance(obj, dict) else type(obj).__name__
        raise CheckpointError(f"{path}: expected a pytracking checkpoint dict with a 'net' entry, got {keys}")
    net = obj["net"]
    if not isinstance(net, dict) or not all(isinstance(v, Tensor) for v in net.values()):
        raise CheckpointError(f"{path}: 'net' is not a dict of tensors")
    return dict(net)


# -- key remapping -----------------------------------------------------------------------------

#: (pytracking prefix, our prefix); the first matching prefix wins; None = dropped on purpose
PYTRACKING_DIMP_KEYS: tuple[tuple[str, str | None], ...] = (
    ("feature_extractor.fc.", None),
    ("feature_extractor.layer4.", "category_classifier.block."),
    ("feature_extractor.", "backbone."),
    ("classifier.feature_extractor.", "target_classifier.features."),
    ("classifier.filter_initializer.filter_conv.", "target_classifier.initializer.filter_conv."),
    ("classifier.filter_optimizer.log_step_length", "target_classifier.optimizer.log_step_length"),
    ("classifier.filter_optimizer.filter_reg", "target_classifier.optimizer.filter_reg"),
    ("classifier.filter_optimizer.label_map_predictor.", "target_classifier.optimizer.label_predictor."),
    ("classifier.filter_optimizer.target_mask_predictor.0.", "target_classifier.optimizer.mask_predictor."),
    ("classifier.filter_optimizer.spatial_weight_predictor.", "target_classifier.optimizer.weight_predictor."),
    ("bb_regressor.conv3_1r.", "box_head.ref_conv_l2."),
    ("bb_regressor.fc3_1r.", "box_head.ref_fc_l2."),
    ("bb_regressor.conv4_1r.", "box_head.ref_conv_l3."),
    ("bb_regressor.fc34_3r.", "box_head.mod_l2."),
    ("bb_regressor.fc34_4r.", "box_head.mod_l3."),
    ("bb_regressor.conv3_1t.", "box_head.test_conv1_l2."),
    ("bb_regressor.conv3_2t.", "box_head.test_conv2_l2."),
    ("bb_regressor.conv4_1t.", "box_head.test_conv1_l3."),
    ("bb_regressor.conv4_2t.", "box_head.test_conv2_l3."),
    ("bb_regressor.fc3_rt.", "box_head.fc_l2."),
    ("bb_regressor.fc4_rt.", "box_head.fc_l3."),
    ("bb_regressor.iou_predictor.", "box_head.iou_predictor."),
)

#: our keys a DiMP checkpoint does not provide (CIA modules; SuperDiMP lacks the bin predictors)
CIA_ONLY_PREFIXES = ("mlp_q.", "momentum_encoder.", "angle_modulation.", "category_classifier.", "dictionary.",
                     "category_encoder.", "target_classifier.optimizer.label_predictor.",
                     "target_classifier.optimizer.mask_predictor.", "target_classifier.optimizer.weight_predictor.")


def remap_pytracking_dimp(state_dict: dict[str, Tensor]) -> dict[str, Tensor]:
    """Rename a pytracking DiMPnet state dict to `CIANet` keys (table `PYTRACKING_DIMP_KEYS`).

    Pure function. ``feature_extractor.fc.*`` is dropped; any key no rule covers raises KeyError
    (listing them), and two source keys landing on one target raise ValueError.
    """
    out: dict[str, Tensor] = {}
    unknown = []
    for key, value in state_dict.items():
        for src, dst in PYTRACKING_DIMP_KEYS:
            if key.startswith(src):
                if dst is not None:
                    new = dst + key[len(src):]
                    if new in out:
                        raise ValueError(f"remap_pytracking_dimp: two keys map to {new!r}")
                    out[new] = value
                break
        else:
            unknown.append(key)
    if unknown:
        raise KeyError(f"remap_pytracking_dimp: no rule for pytracking keys {unknown[:10]}"
                       f"{' ...' if len(unknown) > 10 else ''}")
    return out


def load_pytracking_dimp(model: nn.Module, path: str | Path) -> None:
    """Initialise `model` (a CIANet) from an official DiMP18 / SuperDiMP checkpoint file.

    Every DiMP tensor must match a parameter of the model in name and shape (else CheckpointError
    naming them); the CIA-only modules keep their initialisation (`CIA_ONLY_PREFIXES`).
    """
    mapped = remap_pytracking_dimp(read_pytracking_checkpoint(path))
    if getattr(model, "category_classifier", None) is None:
        mapped = {k: v for k, v in mapped.items() if not k.startswith("category_classifier.")}
    load_state_dict_strict(model, mapped, source=str(path), allow_missing=CIA_ONLY_PREFIXES)
    model.sync_momentum_encoder()


def load_imagenet_backbone(model: nn.Module, path: str | Path) -> None:
    """Load a torchvision ImageNet ResNet state dict (weights-only) into backbone and layer4 block."""
    sd = load_weights_only(path)
    trunk = {k: v for k, v in sd.items() if not k.startswith(("layer4.", "fc."))}
    load_state_dict_strict(model.backbone, trunk, source=str(path))
    clf = getattr(model, "category_classifier", None)
    if clf is not None:
        layer4 = {k[len("layer4."):]: v for k, v in sd.items() if k.startswith("layer4.")}
        if layer4:
            load_state_dict_strict(clf.block, layer4, source=f"{path} (layer4 -> category block)")
    model.sync_momentum_encoder()
