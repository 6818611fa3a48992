import torch

from trackers.hctrack.contrastive import ContrastiveHead
from trackers.hctrack.model import HCTrackModel


def _column_map(g=6, C=2):
    """(1, g*g, C) tokens whose every channel equals the token's column index."""
    cols = torch.arange(g, dtype=torch.float32).repeat(g)  # row-major: index % g
    return cols[None, :, None].expand(1, g * g, C).contiguous()


def test_roi_pool_hand_values():
    head = ContrastiveHead(2, 4, roi_size=1, patch_size=16)
    box = torch.tensor([[32.0, 16.0, 32.0, 32.0]])  # pixels [32, 64) = token columns 2 and 3 (away from the border)
    assert head.pool(_column_map(), box).flatten().tolist() == [2.5, 2.5]
    head2 = ContrastiveHead(2, 4, roi_size=2, patch_size=16)
    pooled = head2.pool(_column_map(), box)      # two bins: one per covered column (samples 1.75/2.25, 2.75/3.25)
    assert pooled.shape == (1, 2, 2, 2)
    torch.testing.assert_close(pooled[0, 0], torch.tensor([[2.0, 3.0], [2.0, 3.0]]))


def test_embeddings_shape_and_unit_norm():
    head = ContrastiveHead(8, 6, roi_size=3, patch_size=16).train()
    t = torch.randn(4, 16, 8)
    s = torch.randn(4, 64, 8)
    boxes_t = torch.tensor([[16.0, 16.0, 32.0, 32.0]]).repeat(4, 1)
    boxes_s = torch.tensor([[40.0, 30.0, 30.0, 40.0]]).repeat(4, 1)
    emb = head([t, t, s], [boxes_t, boxes_t, boxes_s])
    assert emb.shape == (3, 4, 6)
    torch.testing.assert_close(emb.norm(dim=-1), torch.ones(3, 4))


def test_contrastive_head_outside_the_inference_path(small_cfg):
    model = HCTrackModel(small_cfg())
    calls = []
    model.contrastive_head.register_forward_hook(lambda *a: calls.append(1))
    z, x = torch.randn(2, 3, 64, 64), torch.randn(2, 3, 128, 128)
    out = model.forward_search(x, model.forward_template(z, z))  # what the tracker runs
    out["score_map"].sum().backward()
    assert not calls
    assert all(p.grad is None for p in model.contrastive_head.parameters())
    assert model.backbone.pos_embed_x.grad is not None
    # the training forward does use it, and needs boxes for it
    box = torch.tensor([[16.0, 16.0, 32.0, 32.0]]).repeat(2, 1)
    assert "embeddings" not in model(z, z, x)
    assert model(z, z, x, box, box, box * 2)["embeddings"].shape == (3, 2, 16)
    assert model(z, z, x, box, None, box * 2)["embeddings"].shape == (2, 2, 16)
    assert calls
