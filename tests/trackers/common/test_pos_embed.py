import pytest
import torch

from trackers.common.pos_embed import resample_abs_pos_embed


def _coord_grid(g, prefix=0):
    ii, jj = torch.meshgrid(torch.arange(g), torch.arange(g), indexing="ij")
    grid = torch.stack([ii, jj], -1).reshape(1, g * g, 2).float()  # channel 0 = row, 1 = column
    if prefix:
        grid = torch.cat([torch.full((1, prefix, 2), -7.0), grid], 1)
    return grid


def test_token_order_is_row_major():
    out = resample_abs_pos_embed(_coord_grid(3, prefix=1), (6, 6), num_prefix_tokens=1, mode="nearest")
    assert out.shape == (1, 36, 2)
    tok = out.reshape(6, 6, 2)
    # nearest 3 -> 6: output (i, j) comes from input (i // 2, j // 2)
    assert tok[4, 1].tolist() == [2.0, 0.0]
    assert tok[1, 5].tolist() == [0.0, 2.0]


def test_bicubic_keeps_constants_and_prefix():
    pe = torch.cat([torch.full((1, 1, 4), 5.0), torch.full((1, 196, 4), 0.25)], 1)
    out = resample_abs_pos_embed(pe, (8, 8), num_prefix_tokens=1)
    torch.testing.assert_close(out, torch.full((1, 64, 4), 0.25))
    kept = resample_abs_pos_embed(pe, (16, 16), num_prefix_tokens=1, keep_prefix=True)
    assert kept.shape == (1, 257, 4) and kept[0, 0, 0].item() == 5.0


def test_identity_bilinear_halfpixel_values_and_dtype():
    pe = _coord_grid(4)
    torch.testing.assert_close(resample_abs_pos_embed(pe, (4, 4)), pe)
    # bilinear 2 -> 4 with align_corners=False: sample positions (i + 0.5) / 2 - 0.5 = -0.25, 0.25, 0.75, 1.25
    # clamped to [0, 1] -> row values 0, 0.25, 0.75, 1
    out = resample_abs_pos_embed(_coord_grid(2), (4, 4), mode="bilinear").reshape(4, 4, 2)
    torch.testing.assert_close(out[:, 0, 0], torch.tensor([0.0, 0.25, 0.75, 1.0]))
    half = resample_abs_pos_embed(_coord_grid(14).half(), (8, 8))
    assert half.dtype == torch.float16 and half.shape == (1, 64, 2)


def test_rejects_non_square():
    with pytest.raises(ValueError, match="not a square"):
        resample_abs_pos_embed(torch.zeros(1, 10, 3), (2, 2))
    with pytest.raises(ValueError, match=r"\(1, N, C\)"):
        resample_abs_pos_embed(torch.zeros(10, 3), (2, 2))
