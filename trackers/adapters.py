"""Run our online trackers inside the `got10k` toolkit (its ``init/update`` convention).

    from got10k.experiments import ExperimentGOT10k
    from trackers.adapters import Got10kToolkitTracker
    exp = ExperimentGOT10k(root, subset="val", result_dir=..., report_dir=...)
    exp.run(Got10kToolkitTracker(my_tracker, name="hctrack-tiny"))

The toolkit hands PIL images and expects an ``x, y, w, h`` numpy box back from ``update``.
The toolkit (PyPI ``got10k``) is an optional dependency: importing this module does not need it,
constructing the adapter does.
"""
from __future__ import annotations

import numpy as np


def _to_rgb_array(image) -> np.ndarray:
    """PIL image or array -> (H, W, 3) uint8 RGB."""
    if hasattr(image, "mode"):  # PIL
        if image.mode != "RGB":
            image = image.convert("RGB")
        return np.asarray(image, dtype=np.uint8)
    arr = np.asarray(image)
    if arr.ndim != 3 or arr.shape[2] != 3 or arr.dtype != np.uint8:
        raise ValueError(f"expected an (H, W, 3) uint8 RGB image, got {arr.shape} {arr.dtype}")
    return arr


def Got10kToolkitTracker(tracker, name: str | None = None, is_deterministic: bool = True):
    """Wrap an online tracker (``initialize/track``) as a ``got10k.trackers.Tracker``."""
    try:
        from got10k.trackers import Tracker as _ToolkitTracker
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ImportError("the got10k toolkit is not installed: pip install got10k") from e

    class _Adapter(_ToolkitTracker):
        def __init__(self) -> None:
            super().__init__(name=name or getattr(tracker, "name", type(tracker).__name__),
                             is_deterministic=is_deterministic)
            self.inner = tracker

        def init(self, image, box) -> None:
            self.inner.initialize(_to_rgb_array(image), np.asarray(box, dtype=np.float64))

        def update(self, image) -> np.ndarray:
            box, _score = self.inner.track(_to_rgb_array(image))
            return np.asarray(box, dtype=np.float64)

    return _Adapter()
