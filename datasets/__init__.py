"""Data layer: the `Sequence` model, benchmark loaders, frame decoding, box geometry and cropping,
training-sample selection and processing, and the synthetic benchmark generator.

This is the lowest layer: it imports nothing from `trackers`, `evaluation` or `experiments`.
"""
from datasets.sequence import Sequence, SequenceDataset

__all__ = ["Sequence", "SequenceDataset"]
