"""Training-sample processing: jitter, crops, augmentations and labels for each tracker family."""
from datasets.processing.config import DiMPProcessingConfig, OSTrackProcessingConfig

__all__ = ["OSTrackProcessingConfig", "DiMPProcessingConfig", "build_processing"]


def build_processing(cfg, category_index=None):
    """The processing object of a preset's ``data`` config (`OSTrackProcessing` or `DiMPProcessing`).

    Args:
        cfg: an `OSTrackProcessingConfig` or `DiMPProcessingConfig`.
        category_index: DiMP only: category name -> LaSOT class index (-1 unknown).
    Raises:
        TypeError: another config type.
    """
    from datasets.processing.dimp import DiMPProcessing, unknown_category
    from datasets.processing.ostrack import OSTrackProcessing

    if isinstance(cfg, OSTrackProcessingConfig):
        return OSTrackProcessing(cfg)
    if isinstance(cfg, DiMPProcessingConfig):
        return DiMPProcessing(cfg, category_index or unknown_category)
    raise TypeError(f"no processing for data config of type {type(cfg).__name__}")
