"""Frame decoding: RGB uint8 via OpenCV, with errors that name the file."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from datasets.fileio import atomic_write_bytes

cv2.setNumThreads(1)  # decoding runs inside data-loader workers; avoid thread oversubscription


class FrameError(IOError):
    """A frame is missing, unreadable or corrupt. The message names the file."""


def read_frame(path: str | Path) -> np.ndarray:
    """Read an image file as an (H, W, 3) uint8 RGB array.

    Grayscale frames are expanded to 3 channels and 4-channel (RGBA/BGRA) frames drop alpha.

    Raises:
        FrameError: the file is missing, empty, truncated or not a decodable image.
    """
    path = Path(path)
    try:
        data = np.fromfile(path, dtype=np.uint8)
    except FileNotFoundError:
        raise FrameError(f"{path}: frame file not found") from None
    except OSError as e:
        raise FrameError(f"{path}: cannot read frame ({e})") from None
    if data.size == 0:
        raise FrameError(f"{path}: frame file is empty")
    img = cv2.imdecode(data, cv2.IMREAD_UNCHANGED)
    if img is None:
        raise FrameError(f"{path}: not a decodable image (corrupt or truncated)")
    if _is_truncated_jpeg(path, data):
        raise FrameError(f"{path}: truncated JPEG (no end-of-image marker)")
    if img.dtype != np.uint8:
        img = cv2.convertScaleAbs(img, alpha=255.0 / max(float(img.max()), 1.0))
    if img.ndim == 2:
        return cv2.cvtColor(img, cv2.COLOR_GRAY2RGB)
    if img.shape[2] == 4:
        return cv2.cvtColor(img, cv2.COLOR_BGRA2RGB)
    if img.shape[2] == 1:
        return cv2.cvtColor(img[:, :, 0], cv2.COLOR_GRAY2RGB)
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


def _is_truncated_jpeg(path: Path, data: np.ndarray) -> bool:
    """libjpeg decodes a truncated JPEG with a grey bottom and only warns; detect it by the
    missing end-of-image marker (FFD9) in the last bytes."""
    if path.suffix.lower() not in (".jpg", ".jpeg") or data.size < 4:
        return False
    if not (data[0] == 0xFF and data[1] == 0xD8):
        return False
    tail = data[-64:].tobytes()
    return b"\xff\xd9" not in tail


def write_frame(path: str | Path, image_rgb: np.ndarray, quality: int = 92) -> None:
    """Write an RGB uint8 image (JPEG or PNG by suffix), atomically (`datasets.fileio`).
    Raises OSError naming the file."""
    path = Path(path)
    bgr = cv2.cvtColor(np.ascontiguousarray(image_rgb), cv2.COLOR_RGB2BGR)
    params = [cv2.IMWRITE_JPEG_QUALITY, quality] if path.suffix.lower() in (".jpg", ".jpeg") else []
    ok, buf = cv2.imencode(path.suffix, bgr, params)
    if not ok:
        raise OSError(f"{path}: could not encode image")
    atomic_write_bytes(path, buf.tobytes())
