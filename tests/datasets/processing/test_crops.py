"""The resize path of `datasets.geometry.crop_image` (training) against an exact bilinear reference."""
from __future__ import annotations

import cv2
import numpy as np
import pytest
from scipy.ndimage import map_coordinates

from datasets.geometry import crop_image, crop_transform, snap_transform


def exact_crop(img, t, border):
    """Float64 bilinear sample of every crop pixel centre: image point (j + 0.5 - S/2) / scale + cx,
    pixel centres of the image at integer + 0.5 (scipy indexes centres at integers)."""
    n = t.out_size
    j = (np.arange(n) + 0.5 - n / 2) / t.scale
    xs, ys = j + t.cx - 0.5, j + t.cy - 0.5
    yy, xx = np.meshgrid(ys, xs, indexing="ij")
    mode = "grid-constant" if border == "constant" else "nearest"
    return np.stack([map_coordinates(img[..., c].astype(float), [yy, xx], order=1, mode=mode, cval=0.0)
                     for c in range(img.shape[2])], axis=-1)


@pytest.mark.parametrize("border", ["constant", "replicate"])
def test_resize_path_matches_exact_bilinear_at_least_as_well_as_the_warp(border):
    rng = np.random.default_rng(0)
    img = cv2.resize(rng.integers(0, 255, (40, 50, 3), dtype=np.uint8), (400, 300), interpolation=cv2.INTER_CUBIC)
    for _ in range(25):
        box = np.array([*rng.uniform(-60, 380, 2), *rng.uniform(8, 120, 2)])
        t = snap_transform(crop_transform(box, rng.uniform(1.5, 5.0), int(rng.choice([32, 64, 96]))))
        ref = exact_crop(img, t, border)[1:-1, 1:-1]                     # outermost ring: see docstring
        fast = crop_image(img, t, border, resize_if_aligned=True).astype(float)[1:-1, 1:-1]
        warp = crop_image(img, t, border).astype(float)[1:-1, 1:-1]
        assert np.abs(fast - ref).max() <= 1.0 + 1e-9                    # rounding only
        assert np.abs(fast - ref).mean() <= np.abs(warp - ref).mean() + 0.05


def test_snap_transform_is_whole_pixel_and_close():
    t = crop_transform(np.array([10.3, 20.7, 33.1, 17.9]), 4.0, 128)
    s = snap_transform(t)
    x0, y0 = s.cx - s.window_side / 2, s.cy - s.window_side / 2
    assert s.window_side == round(t.window_side) and x0 == round(x0) and y0 == round(y0)
    assert abs(s.cx - t.cx) <= 0.75 and abs(s.cy - t.cy) <= 0.75


def test_resize_path_scale_one_is_a_pure_copy_and_unaligned_windows_use_the_warp():
    img = np.random.default_rng(1).integers(0, 255, (50, 60, 3), dtype=np.uint8)
    t = snap_transform(crop_transform(np.array([20.0, 10.0, 16.0, 16.0]), 2.0, 32))   # 32 px window, scale 1
    np.testing.assert_array_equal(crop_image(img, t, resize_if_aligned=True), img[2:34, 12:44])
    u = crop_transform(np.array([20.3, 10.0, 16.0, 16.0]), 2.0, 32)                    # not aligned
    np.testing.assert_array_equal(crop_image(img, u, resize_if_aligned=True), crop_image(img, u))
