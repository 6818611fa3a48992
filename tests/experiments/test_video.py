"""experiments.video: MP4 rendering with boxes, read back with OpenCV; atomic output."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from datasets.frames import FrameError, write_frame
from datasets.sequence import Sequence
from experiments.video import VideoStyle, box_corners, write_sequence_video

W, H = 96, 64


def _sequence(tmp_path, sizes) -> Sequence:
    frames = []
    for i, (w, h) in enumerate(sizes):
        p = tmp_path / "frames" / f"{i:04d}.png"
        write_frame(p, np.full((h, w, 3), 128, np.uint8))
        frames.append(p)
    gt = np.tile([[10.0, 8.0, 40.0, 30.0]], (len(sizes), 1))
    gt[-1] = np.nan                                        # unknown on the last frame
    return Sequence("seq", tuple(frames), gt, np.isfinite(gt).all(axis=1))


def _read(path):
    cap = cv2.VideoCapture(str(path))
    frames = []
    while True:
        ok, f = cap.read()
        if not ok:
            break
        frames.append(f[:, :, ::-1])                       # BGR -> RGB
    cap.release()
    return frames


def test_box_corners_hand_computed():
    ok, c = box_corners(np.array([[10.0, 8.0, 40.0, 30.0], [1.4, 2.6, 0.2, 0.2], [np.nan, 0, 1, 1], [0, 0, 0, 5]]))
    assert ok.tolist() == [True, True, False, False]
    assert c[0].tolist() == [10, 8, 49, 37]               # last pixel inside: x + w - 1
    assert c[1].tolist() == [1, 3, 1, 3]                  # tiny box: one pixel, never inverted


def test_video_frames_boxes_and_colours(tmp_path):
    seq = _sequence(tmp_path, [(W, H)] * 5)
    pred = np.tile([[50.0, 30.0, 30.0, 20.0]], (5, 1))
    style = VideoStyle(thickness=3, show_text=False)
    out = write_sequence_video(seq, pred, tmp_path / "v" / "seq.mp4", style)
    frames = _read(out)
    assert len(frames) == 5 and frames[0].shape == (H, W, 3)
    f = frames[0].astype(int)
    # middle of the prediction's top edge (y = 30) is green, of the GT's left edge (x = 10) red
    g = f[30, 65]
    r = f[22, 10]
    assert g[1] > 180 and g[0] < 100 and g[2] < 100, g
    assert r[0] > 180 and r[1] < 100 and r[2] < 100, r
    assert abs(f[5, 90] - 128).max() < 20                  # background untouched
    last = frames[-1].astype(int)
    assert abs(last[22, 10] - 128).max() < 25              # NaN ground truth: nothing drawn
    assert [p.name for p in (tmp_path / "v").iterdir()] == ["seq.mp4"]  # no temporary file left


def test_frames_of_changing_size_are_resized(tmp_path):
    seq = _sequence(tmp_path, [(W, H), (2 * W, 2 * H), (W, H)])
    pred = np.array([[50.0, 30.0, 30.0, 20.0], [100.0, 60.0, 60.0, 40.0], [50.0, 30.0, 30.0, 20.0]])
    frames = _read(write_sequence_video(seq, pred, tmp_path / "s.mp4", VideoStyle(thickness=3, show_text=False)))
    assert [f.shape for f in frames] == [(H, W, 3)] * 3
    assert frames[1][30, 65, 1] > 180                      # the scaled box lands where frame 0's is


def test_wrong_box_count_or_suffix_writes_nothing(tmp_path):
    seq = _sequence(tmp_path, [(W, H)] * 3)
    with pytest.raises(ValueError, match=r"\(2, 4\) predicted boxes for 3 frames"):
        write_sequence_video(seq, np.zeros((2, 4)), tmp_path / "v" / "a.mp4")
    with pytest.raises(ValueError, match="must end in .mp4"):
        write_sequence_video(seq, np.zeros((3, 4)), tmp_path / "v" / "a.avi")
    assert not (tmp_path / "v").exists() or not list((tmp_path / "v").iterdir())


def test_error_while_writing_leaves_no_file(tmp_path):
    seq = _sequence(tmp_path, [(W, H)] * 3)
    seq.frames[2].unlink()                                 # frame missing on disk: fails mid-video
    with pytest.raises(FrameError, match="0002.png"):
        write_sequence_video(seq, np.ones((3, 4)) * 5, tmp_path / "v" / "b.mp4")
    assert list((tmp_path / "v").iterdir()) == []
