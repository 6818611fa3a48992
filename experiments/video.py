"""``--save-video``: render a sequence's frames with the predicted (and ground-truth) boxes to MP4.

One MP4 per sequence (OpenCV ``VideoWriter``, FourCC ``mp4v``), written to a temporary file next
to the target and renamed into place (`datasets.fileio.atomic_output_path`), so a video is
complete or absent.

Drawing conventions (choices; the papers say nothing):

* prediction in green, ground truth in red (where known: NaN / absent rows are not drawn), frame
  index and a two-line legend in the top-left corner;
* a box ``x, y, w, h`` (continuous pixels, pixel ``i`` covers ``[i, i + 1)``) is drawn as the
  rectangle of pixels ``round(x) .. round(x + w) - 1`` (the first and last pixel inside it);
* a sequence whose frames change size (a few GOT-10k videos do) is written at the first frame's
  size: later frames are resized to it and their boxes scaled alike (an MP4 has one frame size);
* frame rate `VideoStyle.fps` (30 by default; annotation rates differ per benchmark).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from datasets.fileio import atomic_output_path
from datasets.frames import read_frame
from datasets.sequence import Sequence

FOURCC = "mp4v"


@dataclass(frozen=True)
class VideoStyle:
    """How boxes are drawn. Colours are RGB."""

    fps: float = 30.0
    pred_color: tuple[int, int, int] = (0, 255, 0)
    gt_color: tuple[int, int, int] = (255, 0, 0)
    thickness: int = 2            # line width in pixels
    show_gt: bool = True
    show_text: bool = True        # frame index and legend

    def __post_init__(self) -> None:
        if not self.fps > 0:
            raise ValueError(f"VideoStyle.fps={self.fps} must be > 0")
        if self.thickness < 1:
            raise ValueError(f"VideoStyle.thickness={self.thickness} must be >= 1")


def box_corners(boxes_xywh: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Integer pixel corners of xywh boxes (first and last pixel inside).

    Args:
        boxes_xywh: (N, 4) float boxes.
    Returns:
        finite: (N,) bool, box drawable (finite with w, h > 0);
        corners: (N, 4) int64 ``x1, y1, x2, y2`` (inclusive; zeros where not finite).
    """
    b = np.asarray(boxes_xywh, dtype=np.float64).reshape(-1, 4)
    finite = np.isfinite(b).all(axis=1) & (b[:, 2] > 0) & (b[:, 3] > 0)
    safe = np.where(finite[:, None], b, 0.0)
    x1, y1 = np.round(safe[:, 0]), np.round(safe[:, 1])
    x2 = np.maximum(np.round(safe[:, 0] + safe[:, 2]) - 1, x1)
    y2 = np.maximum(np.round(safe[:, 1] + safe[:, 3]) - 1, y1)
    # keep far-off boxes inside int32 for OpenCV
    corners = np.clip(np.stack([x1, y1, x2, y2], axis=1), -1e6, 1e6).astype(np.int64)
    return finite, corners


def _draw(frame_bgr: np.ndarray, corners: np.ndarray, ok: bool, color_rgb: tuple[int, int, int], thickness: int) -> None:
    if ok:
        x1, y1, x2, y2 = (int(v) for v in corners)
        cv2.rectangle(frame_bgr, (x1, y1), (x2, y2), color_rgb[::-1], thickness, lineType=cv2.LINE_8)


def _text(frame_bgr: np.ndarray, lines: list[tuple[str, tuple[int, int, int]]]) -> None:
    scale = max(0.4, frame_bgr.shape[0] / 720.0)
    step = int(round(22 * scale)) + 4
    for i, (txt, rgb) in enumerate(lines):
        org = (6, step * (i + 1))
        cv2.putText(frame_bgr, txt, org, cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), 3, cv2.LINE_AA)
        cv2.putText(frame_bgr, txt, org, cv2.FONT_HERSHEY_SIMPLEX, scale, rgb[::-1], 1, cv2.LINE_AA)


def write_sequence_video(
    seq: Sequence,
    pred_boxes: np.ndarray,
    path: str | Path,
    style: VideoStyle = VideoStyle(),
    tracker_name: str = "prediction",
) -> Path:
    """Render `seq` with `pred_boxes` (and its ground truth) to an MP4 at `path`, atomically.

    Args:
        seq: the sequence (frames read with `datasets.frames.read_frame`).
        pred_boxes: (N, 4) float xywh predictions, one per frame (frame 0 = the initial box).
        path: output ``.mp4`` file.
        style: colours, thickness, frame rate.
        tracker_name: legend text of the prediction.
    Returns:
        `path`.
    Raises:
        ValueError: `pred_boxes` is not (len(seq), 4), or `path` does not end in ``.mp4``.
        OSError: OpenCV cannot open a writer for the file (codec missing).
    """
    path = Path(path)
    if path.suffix.lower() != ".mp4":
        raise ValueError(f"{path}: video path must end in .mp4")
    pred = np.asarray(pred_boxes, dtype=np.float64)
    if pred.shape != (len(seq), 4):
        raise ValueError(f"sequence {seq.name!r}: {pred.shape} predicted boxes for {len(seq)} frames, expected ({len(seq)}, 4)")
    first = read_frame(seq.frames[0])
    height, width = first.shape[:2]
    with atomic_output_path(path) as tmp:
        writer = cv2.VideoWriter(str(tmp), cv2.VideoWriter_fourcc(*FOURCC), float(style.fps), (width, height))
        if not writer.isOpened():
            raise OSError(f"{path}: OpenCV could not open an {FOURCC!r} video writer (is the codec available?)")
        try:
            for i in range(len(seq)):
                rgb = first if i == 0 else read_frame(seq.frames[i])
                scale = np.ones(4)
                if rgb.shape[:2] != (height, width):
                    sx, sy = width / rgb.shape[1], height / rgb.shape[0]
                    scale = np.array([sx, sy, sx, sy])
                    rgb = cv2.resize(rgb, (width, height), interpolation=cv2.INTER_AREA)
                frame = np.ascontiguousarray(rgb[:, :, ::-1])   # RGB -> BGR for OpenCV
                boxes = np.stack([pred[i], seq.boxes[i]]) * scale  # (2, 4): prediction, ground truth
                ok, corners = box_corners(boxes)
                if style.show_gt:
                    _draw(frame, corners[1], bool(ok[1]), style.gt_color, style.thickness)
                _draw(frame, corners[0], bool(ok[0]), style.pred_color, style.thickness)
                if style.show_text:
                    lines = [(f"#{i}", (255, 255, 255)), (tracker_name, style.pred_color)]
                    if style.show_gt:
                        lines.append(("ground truth", style.gt_color))
                    _text(frame, lines)
                writer.write(frame)
        finally:
            writer.release()
    return path


__all__ = ["FOURCC", "VideoStyle", "box_corners", "write_sequence_video"]
