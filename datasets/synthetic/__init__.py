"""Procedurally generated tracking benchmark in the GOT-10k layout (train and val splits).

Textured objects of 8 categories (distinct silhouettes, textures and palettes) move over textured,
slowly panning backgrounds with scale and aspect change, same-category look-alike distractors,
full occlusions by an opaque occluder and out-of-view excursions; the labels (absence, cover,
cut_by_image) follow from the geometry. Hard enough that a tracker repeating the first box scores
a low AO (tested), small enough (320x240) for CPU training.

Command line::

    python -m datasets.synthetic OUT_DIR [--sequences N] [--seed S] [--frames F] [--split train|val|both]

Library: `ensure_synthetic(root, cfg)` generates on first use and returns the root (default
root: ``$SYNTHETIC_ROOT`` or a parameter-named folder under ``$TRACKKIT_CACHE``);
`generate_synthetic` always writes; `synthetic_sequence` renders one sequence in memory. Load the
written benchmark with ``datasets.loaders.get_dataset("synthetic", root, split)``.

Modules: `appearance` (categories, sprites, backgrounds), `scene` (motion, events, labels),
`render` (compositing), `generate` (files, CLI logic).
"""
from datasets.synthetic.appearance import CATEGORIES, CATEGORY_NAMES
from datasets.synthetic.generate import (
    MARKER,
    SyntheticConfig,
    SyntheticSequence,
    default_synthetic_root,
    ensure_synthetic,
    generate_synthetic,
    read_marker,
    sequence_name,
    synthetic_sequence,
)
from datasets.synthetic.scene import SceneConfig, TargetLabels, make_scene, target_labels

__all__ = [
    "CATEGORIES", "CATEGORY_NAMES", "MARKER", "SceneConfig", "SyntheticConfig", "SyntheticSequence",
    "TargetLabels", "default_synthetic_root", "ensure_synthetic", "generate_synthetic", "make_scene", "read_marker",
    "sequence_name", "synthetic_sequence", "target_labels",
]
