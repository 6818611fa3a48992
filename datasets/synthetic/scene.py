"""Scene of one synthetic sequence: who moves where, and the GOT-10k-style labels that follow.

Everything here is vectorized over frames; randomness only comes from the `Generator` passed in.

Motion model (per object): the centre integrates an AR(1)-smoothed random velocity (per-axis std
``speed`` px/frame, correlation ~10 frames) and bounces off the band ``[10%, 90%]`` of the frame
(triangle-wave reflection); size follows ``sqrt(area) * exp(0.3 n_s(t))`` and aspect ratio
``exp(0.2 n_a(t))`` with slow AR(1) noises n (scale and aspect change).

Events of the target:

* **out of view**: with probability `out_of_view_prob` the target is pushed, over a window of
  12-26 frames, through the nearest image border until fully outside, then comes back;
* **full occlusion**: with probability `occlusion_prob` an opaque occluder (a full-height pillar
  or full-width bar, 1.4-1.8x the target's extent across) moves so that it is centred on the
  target at a random frame ``tc``, passing it at a relative speed that keeps the target fully
  hidden for about 4-12 frames; it is clear of the target in the first frame;
* **distractors**: 1-3 instances of the target's category (same silhouette and texture, jittered
  colours) with their own trajectories, the first one starting 1.5-2.5 target sizes away, and
  0-2 objects of other categories. They are drawn *behind* the target; the occluder in front.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np
from scipy.signal import lfilter

from datasets.synthetic import appearance as ap


@dataclass(frozen=True)
class SceneConfig:
    """Sizes and event rates of a synthetic sequence (pixels, frames, probabilities)."""

    width: int = 320
    height: int = 240
    frames: int = 100
    min_size: float = 0.10            # sqrt(target area) / sqrt(W*H), lower bound
    max_size: float = 0.22            # upper bound
    min_speed: float = 1.5            # per-axis velocity std, px/frame
    max_speed: float = 5.0
    occlusion_prob: float = 0.5
    out_of_view_prob: float = 0.35
    max_distractors: int = 3          # same-category look-alikes (at least 1)
    max_clutter: int = 2              # objects of other categories
    pan: int = 16                     # max camera pan in px (background only)

    def __post_init__(self) -> None:
        if self.width < 32 or self.height < 32:
            raise ValueError(f"frame size {self.width}x{self.height} must be at least 32x32")
        if self.frames < 2:
            raise ValueError(f"frames={self.frames} must be >= 2")
        if not 0 < self.min_size <= self.max_size < 0.5:
            raise ValueError(f"need 0 < min_size ({self.min_size}) <= max_size ({self.max_size}) < 0.5")
        if not 0 < self.min_speed <= self.max_speed:
            raise ValueError(f"need 0 < min_speed ({self.min_speed}) <= max_speed ({self.max_speed})")
        for n in ("occlusion_prob", "out_of_view_prob"):
            if not 0.0 <= getattr(self, n) <= 1.0:
                raise ValueError(f"{n}={getattr(self, n)} must be in [0, 1]")
        if self.max_distractors < 1 or self.max_clutter < 0 or self.pan < 0:
            raise ValueError("max_distractors must be >= 1, max_clutter and pan >= 0")


PYRAMID_LEVELS = 4  # sprite sizes S, S/2, S/4, S/8 per axis


@dataclass(frozen=True)
class Layer:
    """A sprite drawn at one box per frame.

    Attributes:
        sprite: (S, S, 4) float32 premultiplied RGB (0..255) + alpha (0..1).
        boxes: (N, 4) float64 xywh of the sprite's full extent in frame pixels (may leave the frame).
        opaque: alpha is 1 everywhere (derived; opaque sprites are drawn with a plain resize).
        pyramid: (derived) ``pyramid[i][j]`` is the sprite area-averaged to ``(S >> j) x (S >> i)``
            (height x width) pixels, so a frame-sized warp never shrinks by more than 2x
            (a bilinear warp point-samples when it shrinks more, losing edge coverage).
    """

    sprite: np.ndarray
    boxes: np.ndarray
    opaque: bool = field(init=False)
    pyramid: tuple = field(init=False, repr=False)

    def __post_init__(self) -> None:
        sp = np.ascontiguousarray(self.sprite, dtype=np.float32)
        s = sp.shape[0]
        pyr = tuple(
            tuple(sp if i == j == 0 else cv2.resize(sp, (s >> i, s >> j), interpolation=cv2.INTER_AREA)
                  for i in range(PYRAMID_LEVELS))
            for j in range(PYRAMID_LEVELS)
        )
        object.__setattr__(self, "sprite", sp)
        object.__setattr__(self, "opaque", bool((sp[:, :, 3] >= 1.0).all()))
        object.__setattr__(self, "pyramid", pyr)

    def level(self, w: float, h: float) -> np.ndarray:
        """The smallest pyramid level at least ``w x h`` (or the full sprite when larger)."""
        s = self.sprite.shape[0]
        i = max(0, min(PYRAMID_LEVELS - 1, int(np.floor(np.log2(s / max(w, 1e-6))))))
        j = max(0, min(PYRAMID_LEVELS - 1, int(np.floor(np.log2(s / max(h, 1e-6))))))
        return self.pyramid[j][i]


@dataclass(frozen=True)
class Scene:
    """Everything needed to render and label one sequence.

    Attributes:
        category: the target's category name.
        background: (H + 2 pan, W + 2 pan, 3) uint8 canvas.
        pan: (N, 2) int64 (x, y) offset of the frame window inside `background`.
        brightness: (N,) float32 global gain per frame.
        layers: draw order, back to front; `layers[target_index]` is the target.
        target_index: index of the target layer.
        occluder: (N, 4) float64 xywh of the opaque occluder, or None.
        events: sorted names of the target events present ("occlusion", "out_of_view").
    """

    category: str
    background: np.ndarray
    pan: np.ndarray
    brightness: np.ndarray
    layers: tuple[Layer, ...]
    target_index: int
    occluder: np.ndarray | None
    events: tuple[str, ...]

    @property
    def target_boxes(self) -> np.ndarray:
        """(N, 4) float64 xywh full extent of the target (not clipped to the frame)."""
        return self.layers[self.target_index].boxes


def smooth_noise(rng: np.random.Generator, n: int, dims: int, alpha: float) -> np.ndarray:
    """(n, dims) stationary AR(1) noise ``y_t = alpha y_{t-1} + (1 - alpha) e_t``, unit variance."""
    burn = int(3 / (1 - alpha)) + 1
    e = rng.normal(size=(n + burn, dims))
    y = lfilter([1 - alpha], [1, -alpha], e, axis=0)[burn:]
    return y * np.sqrt(1 - alpha**2) / (1 - alpha)


def reflect(x: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Fold `x` into ``[lo, hi]`` by mirror reflection at the bounds (bouncing), elementwise."""
    span = hi - lo
    y = np.mod(x - lo, 2 * span)
    return lo + np.where(y > span, 2 * span - y, y)


def _trajectory(rng: np.random.Generator, cfg: SceneConfig, base: float, start: np.ndarray,
                speed: float) -> np.ndarray:
    """(N, 4) xywh boxes of one object: bouncing AR(1) motion, scale and aspect change."""
    n, wh = cfg.frames, np.array([cfg.width, cfg.height], np.float64)
    vel = smooth_noise(rng, n, 2, 0.9) * speed                          # (N, 2) px/frame
    centre = reflect(start + np.cumsum(vel, axis=0) - vel[0], 0.1 * wh, 0.9 * wh)
    aspect0 = np.exp(rng.uniform(np.log(0.5), np.log(2.0)))            # w / h
    scale = np.exp(0.3 * smooth_noise(rng, n, 1, 0.95)[:, 0])
    aspect = aspect0 * np.exp(0.2 * smooth_noise(rng, n, 1, 0.95)[:, 0])
    w, h = base * scale * np.sqrt(aspect), base * scale / np.sqrt(aspect)
    return np.stack([centre[:, 0] - w / 2, centre[:, 1] - h / 2, w, h], axis=1)


def _push_out_of_view(rng: np.random.Generator, cfg: SceneConfig, boxes: np.ndarray) -> np.ndarray:
    """Boxes with an out-of-view excursion through the border nearest to the target."""
    n = cfg.frames
    dur = int(min(rng.integers(12, 27), max(4, n // 2)))
    ts = int(rng.integers(int(0.15 * n), max(int(0.15 * n) + 1, n - dur)))
    phase = (np.arange(n) - ts) / dur
    inside = (phase >= 0) & (phase <= 1)
    wgt = np.where(inside, np.clip(1.6 * 0.5 * (1 - np.cos(2 * np.pi * phase)), 0, 1), 0.0)
    c = boxes[:, :2] + boxes[:, 2:] / 2                                  # (N, 2) centres
    mid = c[min(n - 1, ts + dur // 2)]
    dist = np.array([mid[0], cfg.width - mid[0], mid[1], cfg.height - mid[1]])
    side = int(np.argmin(dist))                                          # 0 left 1 right 2 top 3 bottom
    ax = side // 2
    limit = (0.0, float(cfg.width), 0.0, float(cfg.height))[side]
    overshoot = 0.6 * boxes[:, 2 + ax] * (1 if side % 2 else -1)        # beyond the border
    out = boxes.copy()
    out[:, ax] += wgt * (limit + overshoot - c[:, ax])
    return out


def _occluder(rng: np.random.Generator, cfg: SceneConfig, target: np.ndarray) -> np.ndarray | None:
    """(N, 4) xywh of an opaque pillar/bar that passes in front of the target, or None.

    The occluder is centred on the target at frame ``tc`` and moves at the target's velocity
    there plus a relative speed chosen so that the target stays fully hidden for about 4-12
    frames. ``tc`` is late enough that the occluder is clear of the target at frame 0
    (None when the sequence is too short for that).
    """
    n = cfg.frames
    ax = int(rng.integers(2))                                            # 0: pillar moving in x
    hidden = rng.uniform(4, 12)                                          # frames fully hidden
    factor, dirn = rng.uniform(1.4, 1.8), rng.choice((-1.0, 1.0))
    c = target[:, ax] + target[:, 2 + ax] / 2                            # (N,) centre along ax
    tc_lo = int(0.15 * n)
    for _ in range(2):  # tc depends on the target's size near tc: one refinement suffices
        ext = target[tc_lo:, 2 + ax].max()
        across = ext * factor + 6
        v_rel = (across - ext) / hidden
        tc_lo = max(int(0.15 * n), int(np.ceil((across + ext) / v_rel)) + 3)
        if tc_lo >= int(0.9 * n):
            return None
    tc = int(rng.integers(tc_lo, int(0.9 * n)))
    v_t = (c[min(n - 1, tc + 1)] - c[tc - 1]) / (min(n - 1, tc + 1) - (tc - 1))
    pos = c[tc] + (v_t + dirn * v_rel) * (np.arange(n) - tc) - across / 2
    occ = np.empty((n, 4))
    occ[:, ax], occ[:, 2 + ax] = pos, across
    occ[:, 1 - ax], occ[:, 3 - ax] = -10.0, (cfg.height, cfg.width)[ax] + 20.0
    return occ


def make_scene(cfg: SceneConfig, rng: np.random.Generator) -> Scene:
    """Draw one random scene (see the module docstring for the model)."""
    n, wh = cfg.frames, np.array([cfg.width, cfg.height], np.float64)
    diag = np.sqrt(cfg.width * cfg.height)
    cat_idx = int(rng.integers(len(ap.CATEGORIES)))
    cat = ap.CATEGORIES[cat_idx]
    base = diag * rng.uniform(cfg.min_size, cfg.max_size)
    speed = rng.uniform(cfg.min_speed, cfg.max_speed)

    bg = ap.background(cfg.height + 2 * cfg.pan, cfg.width + 2 * cfg.pan, rng)
    pan = np.clip(np.rint(cfg.pan + 0.5 * cfg.pan * smooth_noise(rng, n, 2, 0.97)), 0, 2 * cfg.pan)
    brightness = (1 + 0.08 * smooth_noise(rng, n, 1, 0.95)[:, 0]).astype(np.float32)

    start = rng.uniform(0.25, 0.75, 2) * wh
    target = _trajectory(rng, cfg, base, start, speed)
    events = []
    if rng.uniform() < cfg.out_of_view_prob:
        target = _push_out_of_view(rng, cfg, target)
        events.append("out_of_view")
    occ = _occluder(rng, cfg, target) if rng.uniform() < cfg.occlusion_prob else None
    if occ is not None and target_labels(target[:1], occ[:1], cfg.width, cfg.height).cover[0] < 8:
        occ = None  # the target must be unoccluded in the first frame (the init box)
    if occ is not None:
        events.append("occlusion")

    layers: list[Layer] = []
    others = [c for i, c in enumerate(ap.CATEGORIES) if i != cat_idx]
    for _ in range(int(rng.integers(0, cfg.max_clutter + 1))):
        other = others[int(rng.integers(len(others)))]
        b = _trajectory(rng, cfg, base * rng.uniform(0.6, 1.4), rng.uniform(0.1, 0.9, 2) * wh, speed)
        layers.append(Layer(ap.object_sprite(other, rng), b))
    for k in range(int(rng.integers(1, cfg.max_distractors + 1))):
        if k == 0:  # a look-alike starting close to the target
            ang = rng.uniform(0, 2 * np.pi)
            s = start + base * rng.uniform(1.5, 2.5) * np.array([np.cos(ang), np.sin(ang)])
        else:
            s = rng.uniform(0.1, 0.9, 2) * wh
        b = _trajectory(rng, cfg, base * rng.uniform(0.75, 1.25), s, rng.uniform(cfg.min_speed, cfg.max_speed))
        layers.append(Layer(ap.object_sprite(cat, rng), b))
    target_index = len(layers)
    layers.append(Layer(ap.object_sprite(cat, rng), target))
    if occ is not None:
        layers.append(Layer(ap.occluder_sprite(rng), occ))
    return Scene(cat.name, bg, pan.astype(np.int64), brightness, tuple(layers), target_index, occ,
                 tuple(sorted(events)))


@dataclass(frozen=True)
class TargetLabels:
    """GOT-10k-style per-frame labels of the target.

    Attributes:
        boxes: (N, 4) float64 xywh, the target's extent clipped to the image; ``-1,-1,-1,-1`` on
            absent frames (the marker real GOT-10k annotations use for a target out of view).
        absence: (N,) bool, target not visible (``cover == 0``).
        cover: (N,) int64 in 0..8, ``round(8 * visible_ratio)`` (half up), where visible_ratio is
            the fraction of the target's full box area inside the image and not under the
            occluder (a box-area approximation of the silhouette's visible part).
        cut_by_image: (N,) bool, the full box crosses an image border and the target is present.
    """

    boxes: np.ndarray
    absence: np.ndarray
    cover: np.ndarray
    cut_by_image: np.ndarray


def _overlap_1d(a0: np.ndarray, a1: np.ndarray, b0: np.ndarray, b1: np.ndarray) -> np.ndarray:
    return np.clip(np.minimum(a1, b1) - np.maximum(a0, b0), 0, None)


def target_labels(target: np.ndarray, occluder: np.ndarray | None, width: int, height: int) -> TargetLabels:
    """Labels from the target's full boxes (N, 4) and the occluder's boxes (N, 4) or None."""
    x0, y0 = target[:, 0], target[:, 1]
    x1, y1 = x0 + target[:, 2], y0 + target[:, 3]
    cx0, cx1 = np.clip(x0, 0, width), np.clip(x1, 0, width)             # part inside the image
    cy0, cy1 = np.clip(y0, 0, height), np.clip(y1, 0, height)
    area_in = (cx1 - cx0) * (cy1 - cy0)
    hidden = np.zeros_like(area_in)
    if occluder is not None:
        ox0, oy0 = occluder[:, 0], occluder[:, 1]
        ox1, oy1 = ox0 + occluder[:, 2], oy0 + occluder[:, 3]
        hidden = _overlap_1d(cx0, cx1, ox0, ox1) * _overlap_1d(cy0, cy1, oy0, oy1)
    ratio = np.clip((area_in - hidden) / (target[:, 2] * target[:, 3]), 0.0, 1.0)
    cover = np.clip(np.floor(8 * ratio + 0.5), 0, 8).astype(np.int64)
    absence = cover == 0
    cut = ((x0 < 0) | (y0 < 0) | (x1 > width) | (y1 > height)) & ~absence
    boxes = np.stack([cx0, cy0, cx1 - cx0, cy1 - cy0], axis=1)
    boxes[absence] = -1.0
    return TargetLabels(boxes, absence, cover, cut)
