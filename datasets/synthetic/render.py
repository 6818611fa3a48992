"""Compositing of a `Scene` into RGB frames (OpenCV warps on each object's region only).

Frames stay uint8; each layer is blended in float32 on its own region (``frame = frame * (1 -
alpha) + rgb``, premultiplied colour) and written back rounded.
"""
from __future__ import annotations

import math

import cv2
import numpy as np

from datasets.synthetic.scene import Layer, Scene


def _region(x0: float, x1: float, size: int) -> tuple[int, int]:
    """Integer pixel range [a, b) covering the continuous interval [x0, x1), clipped to [0, size)."""
    return max(math.floor(x0), 0), min(math.ceil(x1), size)


def blit(frame: np.ndarray, layer: Layer, box_xywh: np.ndarray) -> None:
    """Alpha-composite `layer`'s sprite over `frame` in place with its extent exactly `box_xywh`.

    Args:
        frame: (H, W, 3) uint8, modified in place.
        layer: the sprite (its pyramid level nearest above the box size is warped).
        box_xywh: (4,) float box in continuous pixel coordinates (pixel i covers [i, i+1)).

    One 4-channel bilinear ``cv2.warpAffine`` onto the box's integer bounding region inside the
    frame. The map takes continuous sprite coordinate U to ``x + U * w / Sw``; OpenCV indexes
    pixel centres at integers, hence the -0.5/+0.5 terms. (numpy broadcasting alpha over a
    trailing axis of 1 is ~5x slower than same-shape operands, hence the 3-channel expansion.)
    """
    h_img, w_img = frame.shape[:2]
    x, y, w, h = (float(v) for v in box_xywh)
    if not (w > 0 and h > 0):
        return
    (x0, x1), (y0, y1) = _region(x, x + w, w_img), _region(y, y + h, h_img)
    if x1 <= x0 or y1 <= y0:
        return
    sprite = layer.level(w, h)
    sx, sy = w / sprite.shape[1], h / sprite.shape[0]
    m = np.array([[sx, 0.0, x + 0.5 * sx - 0.5 - x0], [0.0, sy, y + 0.5 * sy - 0.5 - y0]])
    patch = cv2.warpAffine(sprite, m, (x1 - x0, y1 - y0), flags=cv2.INTER_LINEAR,
                           borderMode=cv2.BORDER_CONSTANT, borderValue=(0, 0, 0, 0))
    inv = 1.0 - cv2.cvtColor(np.ascontiguousarray(patch[:, :, 3]), cv2.COLOR_GRAY2RGB)
    roi = frame[y0:y1, x0:x1]
    out = roi.astype(np.float32)
    out *= inv
    out += cv2.cvtColor(patch, cv2.COLOR_RGBA2RGB)
    roi[...] = cv2.convertScaleAbs(out)  # round and saturate to uint8


def blit_opaque(frame: np.ndarray, layer: Layer, box_xywh: np.ndarray) -> None:
    """Draw an opaque layer (alpha 1 everywhere) over `frame` in place, edges rounded to whole
    pixels (error <= 0.5 px): the sprite is resized (separable, cheaper than a warp for the large
    occluder) to the rounded box and its in-frame part copied."""
    h_img, w_img = frame.shape[:2]
    x, y, w, h = (float(v) for v in box_xywh)
    bx0, by0, bx1, by1 = round(x), round(y), round(x + w), round(y + h)
    (x0, x1), (y0, y1) = _region(bx0, bx1, w_img), _region(by0, by1, h_img)
    if x1 <= x0 or y1 <= y0:
        return
    full = cv2.resize(cv2.cvtColor(layer.sprite, cv2.COLOR_RGBA2RGB), (bx1 - bx0, by1 - by0),
                      interpolation=cv2.INTER_LINEAR)
    frame[y0:y1, x0:x1] = cv2.convertScaleAbs(full[y0 - by0:y1 - by0, x0 - bx0:x1 - bx0])


def blit_layer(frame: np.ndarray, layer: Layer, t: int) -> None:
    """Draw `layer` at its frame-`t` box."""
    (blit_opaque if layer.opaque else blit)(frame, layer, layer.boxes[t])


def render_frame(scene: Scene, t: int, width: int, height: int) -> np.ndarray:
    """(H, W, 3) uint8 RGB frame `t` of `scene`."""
    ox, oy = (int(v) for v in scene.pan[t])
    frame = scene.background[oy:oy + height, ox:ox + width].copy()
    for layer in scene.layers:
        blit_layer(frame, layer, t)
    return cv2.convertScaleAbs(frame, alpha=float(scene.brightness[t]))  # global gain, saturating


def render_frames(scene: Scene, width: int, height: int) -> np.ndarray:
    """(N, H, W, 3) uint8 RGB frames of the whole scene."""
    n = len(scene.pan)
    out = np.empty((n, height, width, 3), np.uint8)
    for t in range(n):  # per frame; each frame's work is vectorized OpenCV/numpy
        out[t] = render_frame(scene, t, width, height)
    return out
