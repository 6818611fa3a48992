"""Training-sample processing: jitter, crops, augmentations and labels for each tracker family."""
from datasets.processing.config import DiMPProcessingConfig, OSTrackProcessingConfig

__all__ = ["OSTrackProcessingConfig", "DiMPProcessingConfig"]
