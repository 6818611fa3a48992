"""Looks of the synthetic benchmark: object categories (shape + texture + palette), sprites and
textured backgrounds. Pure functions of a `numpy.random.Generator`.

A sprite is an (S, S, 4) float32 array holding **premultiplied** RGB (0..255) and alpha (0..1);
its shape touches all four borders of the S x S square, so the sprite's extent is exactly the
ground-truth box once it is warped into the frame.

Each category has its own silhouette, texture kind and two-colour palette; every instance jitters
hue, brightness, texture frequency and phase a little, so same-category distractors look alike
but not identical (the "similar distractor" case trackers must resolve with the template).
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

SPRITE_SIZE = 64  # pixels per side of the sprite before it is warped into the frame


@dataclass(frozen=True)
class Category:
    """One object class: silhouette, texture kind, texture frequency (cycles per sprite side),
    and two base colours (RGB 0..255)."""

    name: str
    shape: str
    texture: str
    frequency: float
    color_a: tuple[int, int, int]
    color_b: tuple[int, int, int]


CATEGORIES: tuple[Category, ...] = (
    Category("disk", "ellipse", "rings", 3.0, (230, 60, 40), (250, 220, 60)),
    Category("tile", "rectangle", "checker", 4.0, (40, 90, 220), (230, 230, 240)),
    Category("triangle", "triangle", "stripes", 5.0, (30, 170, 60), (20, 40, 20)),
    Category("diamond", "diamond", "dots", 4.0, (200, 50, 200), (250, 200, 250)),
    Category("star", "star", "gradient", 1.0, (250, 180, 0), (160, 40, 0)),
    Category("cross", "cross", "stripes", 3.0, (0, 190, 200), (0, 40, 90)),
    Category("hexagon", "hexagon", "noise", 6.0, (120, 70, 30), (240, 170, 110)),
    Category("arrow", "arrow", "waves", 3.0, (240, 240, 240), (60, 60, 200)),
)
CATEGORY_NAMES: tuple[str, ...] = tuple(c.name for c in CATEGORIES)


def _polygon(shape: str) -> np.ndarray:
    """(K, 2) vertices in the unit square, touching all four sides."""
    if shape == "triangle":
        p = [(0.5, 0.0), (1.0, 1.0), (0.0, 1.0)]
    elif shape == "diamond":
        p = [(0.5, 0.0), (1.0, 0.5), (0.5, 1.0), (0.0, 0.5)]
    elif shape == "cross":
        a, b = 0.32, 0.68
        p = [(a, 0), (b, 0), (b, a), (1, a), (1, b), (b, b), (b, 1), (a, 1), (a, b), (0, b), (0, a), (a, a)]
    elif shape == "arrow":
        p = [(0, 0.3), (0.55, 0.3), (0.55, 0.0), (1.0, 0.5), (0.55, 1.0), (0.55, 0.7), (0, 0.7)]
    elif shape in ("star", "hexagon"):
        k = 10 if shape == "star" else 6
        ang = np.pi / 2 + np.arange(k) * 2 * np.pi / k
        rad = np.where(np.arange(k) % 2 == 0, 1.0, 0.45) if shape == "star" else np.ones(k)
        p = np.stack([np.cos(ang) * rad, -np.sin(ang) * rad], axis=1)
        p = (p - p.min(0)) / (p.max(0) - p.min(0))  # stretch to touch every side
    else:
        raise ValueError(f"unknown polygon shape {shape!r}")
    return np.asarray(p, dtype=np.float64)


def shape_mask(shape: str, size: int = SPRITE_SIZE) -> np.ndarray:
    """(size, size) float32 alpha in [0, 1] of the silhouette (anti-aliased)."""
    mask = np.zeros((size, size), np.uint8)
    if shape == "rectangle":
        mask[:] = 255
    elif shape == "ellipse":
        c = (size - 1) / 2
        cv2.ellipse(mask, (int(c * 16), int(c * 16)), (int(size / 2 * 16), int(size / 2 * 16)),
                    0, 0, 360, 255, -1, cv2.LINE_AA, 4)
    else:
        # continuous vertex p*size -> OpenCV pixel-centre coordinate p*size - 0.5; 4 fractional bits
        pts = np.round((_polygon(shape) * size - 0.5) * 16).astype(np.int32)
        cv2.fillPoly(mask, [pts], 255, cv2.LINE_AA, 4)
    return mask.astype(np.float32) / 255.0


def texture(kind: str, frequency: float, rng: np.random.Generator, size: int = SPRITE_SIZE) -> np.ndarray:
    """(size, size) float32 pattern in [0, 1] of the given kind, random phase and orientation."""
    u, v = np.meshgrid((np.arange(size) + 0.5) / size, (np.arange(size) + 0.5) / size)
    phase = rng.uniform(0, 2 * np.pi)
    theta = rng.uniform(-0.4, 0.4)
    f = frequency * rng.uniform(0.85, 1.15)
    if kind == "stripes":
        t = 0.5 + 0.5 * np.sin(2 * np.pi * f * (u * np.cos(theta) + v * np.sin(theta)) + phase)
    elif kind == "checker":
        t = ((np.floor(f * u + phase) + np.floor(f * v + phase)) % 2).astype(np.float64)
    elif kind == "dots":
        t = (np.sin(2 * np.pi * f * u + phase) * np.sin(2 * np.pi * f * v) > 0.35).astype(np.float64)
    elif kind == "rings":
        t = 0.5 + 0.5 * np.sin(2 * np.pi * f * np.hypot(u - 0.5, v - 0.5) * 2 + phase)
    elif kind == "gradient":
        t = np.clip(0.5 + (u - 0.5) * np.sin(theta) + (v - 0.5) * np.cos(theta), 0, 1)
    elif kind == "waves":
        t = 0.5 + 0.5 * np.sin(2 * np.pi * f * (u + 0.08 * np.sin(2 * np.pi * 2 * v + phase)))
    elif kind == "noise":
        grid = rng.uniform(0, 1, (max(2, int(f)), max(2, int(f))))
        t = cv2.resize(grid, (size, size), interpolation=cv2.INTER_CUBIC).clip(0, 1)
    else:
        raise ValueError(f"unknown texture kind {kind!r}")
    return t.astype(np.float32)


def _jitter_color(rgb: tuple[int, int, int], rng: np.random.Generator, amount: float) -> np.ndarray:
    """Colour with hue shifted by up to ``amount * 20`` degrees and value scaled by 1 +- amount/4."""
    hsv = cv2.cvtColor(np.array([[rgb]], np.uint8), cv2.COLOR_RGB2HSV_FULL).astype(np.float64)
    hsv[..., 0] = (hsv[..., 0] + rng.uniform(-1, 1) * amount * 20 * 256 / 360) % 256
    hsv[..., 2] = np.clip(hsv[..., 2] * (1 + rng.uniform(-1, 1) * amount / 4), 0, 255)
    return cv2.cvtColor(hsv.astype(np.uint8), cv2.COLOR_HSV2RGB_FULL)[0, 0].astype(np.float32)


def object_sprite(category: Category, rng: np.random.Generator, jitter: float = 1.0) -> np.ndarray:
    """(S, S, 4) float32 premultiplied sprite of one instance of `category`."""
    t = texture(category.texture, category.frequency, rng)[..., None]     # (S, S, 1)
    ca = _jitter_color(category.color_a, rng, jitter)
    cb = _jitter_color(category.color_b, rng, jitter)
    rgb = ca * (1 - t) + cb * t                                             # (S, S, 3)
    alpha = shape_mask(category.shape)[..., None]                          # (S, S, 1)
    return np.concatenate([rgb * alpha, alpha], axis=2).astype(np.float32)


def occluder_sprite(rng: np.random.Generator) -> np.ndarray:
    """(S, S, 4) opaque sprite of the occluder: a dull, noisy, striped panel."""
    base = rng.uniform(60, 160, 3).astype(np.float32)
    t = 0.6 * texture("noise", 5.0, rng) + 0.4 * texture("stripes", 2.0, rng)
    rgb = base * (0.6 + 0.8 * t[..., None])
    alpha = np.ones((SPRITE_SIZE, SPRITE_SIZE, 1), np.float32)
    return np.concatenate([np.clip(rgb, 0, 255), alpha], axis=2).astype(np.float32)


def background(height: int, width: int, rng: np.random.Generator, clutter: int = 14) -> np.ndarray:
    """(height, width, 3) uint8 textured background.

    Sum of a smooth colour field, a mid-frequency luminance texture and `clutter` low-contrast
    filled rectangles/circles (drawn once per sequence, not per frame).
    """
    low = rng.uniform(30, 220, (4, 5, 3)).astype(np.float32)
    img = cv2.resize(low, (width, height), interpolation=cv2.INTER_CUBIC)
    mid = rng.normal(0, 1, (height // 6 + 1, width // 6 + 1)).astype(np.float32)
    img += 28 * cv2.resize(mid, (width, height), interpolation=cv2.INTER_LINEAR)[..., None]
    fine = rng.normal(0, 1, (height // 2 + 1, width // 2 + 1)).astype(np.float32)
    img += 10 * cv2.resize(fine, (width, height), interpolation=cv2.INTER_LINEAR)[..., None]
    layer = img.copy()
    xy = rng.uniform(0, 1, (clutter, 2)) * (width, height)
    sz = rng.uniform(8, 40, (clutter, 2))
    cols = rng.uniform(20, 235, (clutter, 3))
    for (x, y), (a, b), c, circ in zip(xy, sz, cols, rng.uniform(size=clutter) < 0.5):
        if circ:
            cv2.ellipse(layer, (int(x), int(y)), (int(a), int(b)), 0, 0, 360, c.tolist(), -1, cv2.LINE_AA)
        else:
            cv2.rectangle(layer, (int(x), int(y)), (int(x + a), int(y + b)), c.tolist(), -1, cv2.LINE_AA)
    img = 0.55 * img + 0.45 * layer
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)
