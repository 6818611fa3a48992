"""Compositing of a `Scene` into RGB frames (OpenCV resampling on the object's region only)."""
from __future__ import annotations

import math

import cv2
import numpy as np

from datasets.synthetic.scene import Layer, Scene


def _region(x0: float, x1: float, size: int) -> tuple[int, int]:
    """Integer pixel range [a, b) covering the continuous interval [x0, x1), clipped to [0, size)."""
    return max(math.floor(x0), 0), min(math.ceil(x1), size)


def blit(frame: np.ndarray, sprite: np.ndarray, box_xywh: np.ndarray) -> None:
    """Alpha-composite a sprite over `frame` in place so that its extent is exactly `box_xywh`.

    Args:
        frame: (H, W, 3) float32, 0..255, modified in place.
        sprite: (S, S, 4) float32 premultiplied RGB + alpha, C-contiguous.
        box_xywh: (4,) float box in continuous pixel coordinates (pixel i covers [i, i+1)).

    ``frame = frame * (1 - alpha) + rgb`` on the box's integer bounding region inside the frame,
    with the sprite warped there bilinearly in one 4-channel ``cv2.warpAffine`` (after an
    area-averaging shrink to about the box size, so edge pixels get their fractional coverage). The affine map
    takes continuous sprite coordinate U to ``x + U * w / S``; OpenCV indexes pixel centres at
    integers, hence the -0.5/+0.5 terms. (numpy broadcasting alpha over a trailing axis of 1 is
    ~5x slower than same-shape operands, hence the explicit 3-channel expansion.)
    """
    h_img, w_img = frame.shape[:2]
    s = sprite.shape[0]
    x, y, w, h = (float(v) for v in box_xywh)
    if not (w > 0 and h > 0):
        return
    (x0, x1), (y0, y1) = _region(x, x + w, w_img), _region(y, y + h, h_img)
    if x1 <= x0 or y1 <= y0:
        return
    sw, sh = min(s, math.ceil(w) + 1), min(s, math.ceil(h) + 1)
    if (sw, sh) != (s, s):  # shrink by area averaging first: a bilinear warp would point-sample
        sprite = cv2.resize(sprite, (sw, sh), interpolation=cv2.INTER_AREA)
    sx, sy = w / sw, h / sh
    m = np.array([[sx, 0.0, x + 0.5 * sx - 0.5 - x0], [0.0, sy, y + 0.5 * sy - 0.5 - y0]])
    patch = cv2.warpAffine(sprite, m, (x1 - x0, y1 - y0), flags=cv2.INTER_LINEAR,
                           borderMode=cv2.BORDER_CONSTANT, borderValue=(0, 0, 0, 0))
    inv = 1.0 - cv2.cvtColor(np.ascontiguousarray(patch[:, :, 3]), cv2.COLOR_GRAY2RGB)
    roi = frame[y0:y1, x0:x1]
    roi *= inv
    roi += cv2.cvtColor(patch, cv2.COLOR_RGBA2RGB)


def blit_opaque(frame: np.ndarray, sprite: np.ndarray, box_xywh: np.ndarray) -> None:
    """Draw an opaque sprite (alpha 1 everywhere) over `frame` in place, edges rounded to whole
    pixels (error <= 0.5 px): the sprite is resized (separable, cheaper than a warp for the large
    occluder) to the rounded box and its in-frame part copied."""
    h_img, w_img = frame.shape[:2]
    x, y, w, h = (float(v) for v in box_xywh)
    bx0, by0, bx1, by1 = round(x), round(y), round(x + w), round(y + h)
    (x0, x1), (y0, y1) = _region(bx0, bx1, w_img), _region(by0, by1, h_img)
    if x1 <= x0 or y1 <= y0:
        return
    full = cv2.resize(cv2.cvtColor(sprite, cv2.COLOR_RGBA2RGB), (bx1 - bx0, by1 - by0),
                      interpolation=cv2.INTER_LINEAR)
    frame[y0:y1, x0:x1] = full[y0 - by0:y1 - by0, x0 - bx0:x1 - bx0]


def blit_layer(frame: np.ndarray, layer: Layer, t: int) -> None:
    """Draw `layer` at its frame-`t` box."""
    (blit_opaque if layer.opaque else blit)(frame, layer.sprite, layer.boxes[t])


def render_frame(scene: Scene, t: int, width: int, height: int) -> np.ndarray:
    """(H, W, 3) uint8 RGB frame `t` of `scene`."""
    ox, oy = (int(v) for v in scene.pan[t])
    frame = scene.background[oy:oy + height, ox:ox + width].copy()
    for layer in scene.layers:
        blit_layer(frame, layer, t)
    return cv2.convertScaleAbs(frame, alpha=float(scene.brightness[t]))  # gain, round, saturate


def render_frames(scene: Scene, width: int, height: int) -> np.ndarray:
    """(N, H, W, 3) uint8 RGB frames of the whole scene."""
    n = len(scene.pan)
    out = np.empty((n, height, width, 3), np.uint8)
    for t in range(n):  # per frame; each frame's work is vectorized OpenCV/numpy
        out[t] = render_frame(scene, t, width, height)
    return out
