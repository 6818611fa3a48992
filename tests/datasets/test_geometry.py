import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from datasets.geometry import box_convert, clip_box_xywh, crop_around_box, crop_transform


def test_box_convert_hand_values():
    b = np.array([10.0, 20.0, 30.0, 40.0])
    np.testing.assert_allclose(box_convert(b, "xywh", "xyxy"), [10, 20, 40, 60])
    np.testing.assert_allclose(box_convert(b, "xywh", "cxcywh"), [25, 40, 30, 40])
    np.testing.assert_allclose(box_convert([25, 40, 30, 40], "cxcywh", "xywh"), b)
    with pytest.raises(ValueError, match="unknown box format"):
        box_convert(b, "xywh", "yxhw")


def test_crop_window_side_and_centre():
    t = crop_transform(np.array([100.0, 50.0, 40.0, 10.0]), area_factor=4.0, out_size=128)
    assert t.window_side == pytest.approx(80.0)  # sqrt(400) * 4
    assert (t.cx, t.cy) == (120.0, 55.0)
    # the box centre lands at the crop centre, sizes scale by 128/80
    np.testing.assert_allclose(t.box_to_crop([100, 50, 40, 10]), [64 - 32, 64 - 8, 64, 16])


def test_crop_pixels_match_image_content():
    # a 1-pixel-precise check: an image whose value encodes x; crop at scale 1 is a pure shift
    img = np.tile(np.arange(200, dtype=np.uint8)[None, :, None], (100, 1, 3))
    crop, t = crop_around_box(img, np.array([50.0, 30.0, 16.0, 16.0]), area_factor=2.0, out_size=32)
    assert t.scale == pytest.approx(1.0)
    # crop column j covers image column (cx - 16) + j = 42 + j
    np.testing.assert_array_equal(crop[5, :, 0], np.arange(42, 74))


def test_crop_rejects_bad_boxes():
    for bad in ([0, 0, 0, 5], [0, 0, np.nan, 5], [0, 0, -1, 5]):
        with pytest.raises(ValueError, match="cannot crop"):
            crop_transform(np.array(bad, float), 2.0, 64)


@settings(max_examples=200, deadline=None)
@given(
    st.floats(-500, 500), st.floats(-500, 500), st.floats(1, 300), st.floats(1, 300),
    st.floats(1.0, 6.0), st.integers(16, 384),
    st.floats(-300, 300), st.floats(-300, 300), st.floats(0.5, 50), st.floats(0.5, 50),
)
def test_crop_map_back_round_trip(x, y, w, h, f, n, bx, by, bw, bh):
    t = crop_transform(np.array([x, y, w, h]), f, n)
    other = np.array([bx, by, bw, bh])
    np.testing.assert_allclose(t.box_to_image(t.box_to_crop(other)), other, rtol=1e-9, atol=1e-7)


@settings(max_examples=100, deadline=None)
@given(st.floats(-1000, 1000), st.floats(-1000, 1000), st.floats(0, 500), st.floats(0, 500))
def test_clip_box_always_inside(x, y, w, h):
    b = clip_box_xywh(np.array([x, y, w, h]), (240, 320))
    assert b[0] >= 0 and b[1] >= 0 and b[2] >= 1 - 1e-9 and b[3] >= 1 - 1e-9
    assert b[0] + b[2] <= 320 + 1e-9 and b[1] + b[3] <= 240 + 1e-9
