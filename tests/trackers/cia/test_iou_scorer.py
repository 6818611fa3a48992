"""The closed-form IoU-Net scorer of the box ascent against autograd through the network, and the
ascent itself (pytracking's return convention, the relative-space chain rule)."""
import pytest
import torch

from trackers.cia.box_refinement import autograd_value_and_grad, optimize_boxes
from trackers.cia.dimp.iou_net import IoUNet
from trackers.cia.dimp.iou_scorer import IoUBoxScorer
from trackers.cia.dimp.kl_iou_net import KLIoUNet

BOXES = [[100.0, 110.0, 60.0, 50.0], [90.0, 100.0, 70.0, 65.0], [130.0, 120.0, 40.0, 30.0],
         [-5.0, -8.0, 40.0, 60.0],      # leaves the crop
         [250.0, 260.0, 60.0, 50.0],    # mostly outside the 288 px crop
         [100.0, 100.0, 0.0, 20.0]]     # zero width


def _head(cls=IoUNet, dtype=torch.float64, seed=0):
    torch.manual_seed(seed)
    head = cls().eval()
    with torch.no_grad():  # non-trivial BatchNorm statistics, so folding them matters
        for m in head.modules():
            if isinstance(m, torch.nn.BatchNorm1d):
                m.running_mean.normal_()
                m.running_var.uniform_(0.5, 2.0)
                m.bias.normal_()
                m.weight.uniform_(0.5, 1.5)
    return head.to(dtype)


def _feat(dtype, seed=1):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(1, 256, 36, 36, generator=g).to(dtype), torch.randn(1, 256, 18, 18, generator=g).to(dtype))


@pytest.mark.parametrize("cls", [IoUNet, KLIoUNet])
@pytest.mark.parametrize("crop", [False, True])
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_scores_and_box_gradients_equal_autograd(cls, crop, dtype):
    head, feat = _head(cls, dtype), _feat(dtype)
    boxes = torch.tensor(BOXES, dtype=dtype)
    ref_scores, ref_grad = autograd_value_and_grad(lambda b: head.predict_iou_modulated(feat, b[None])[0])(boxes)
    scores, grad = IoUBoxScorer(head, crop=crop)(feat, boxes)
    tol = dict(rtol=1e-10, atol=1e-12) if dtype == torch.float64 else dict(rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(scores, ref_scores, **tol)
    torch.testing.assert_close(grad, ref_grad, **tol)
    assert ref_grad[:3].abs().min() > 0
    only_scores, none = IoUBoxScorer(head, crop=crop)(feat, boxes, need_grad=False)
    assert none is None
    torch.testing.assert_close(only_scores, scores, rtol=0, atol=0)


def test_scorer_needs_eval_mode_and_one_image():
    head = _head()
    with pytest.raises(ValueError, match="eval mode"):
        IoUBoxScorer(head.train())
    feat = tuple(f.expand(2, -1, -1, -1) for f in _feat(torch.float64))
    with pytest.raises(ValueError, match="one image"):
        IoUBoxScorer(head.eval())(feat, torch.tensor(BOXES[:1], dtype=torch.float64))


def test_ascent_with_the_scorer_equals_the_autograd_ascent():
    head, feat = _head(), _feat(torch.float64)
    start = torch.tensor(BOXES[:3], dtype=torch.float64)
    scorer = IoUBoxScorer(head)
    ref_vg = autograd_value_and_grad(lambda b: head.predict_iou_modulated(feat, b[None])[0])
    for space, step in (("default", 1.0), ("relative", 2.5e-3)):
        got = optimize_boxes(lambda b: scorer(feat, b), start, 5, step, 0.9, space)
        ref = optimize_boxes(ref_vg, start, 5, step, 0.9, space)
        torch.testing.assert_close(got, ref, rtol=1e-9, atol=1e-9)
        assert not torch.equal(got[0], start)


def test_ascent_returns_the_last_evaluation_scores_as_pytracking():
    target = torch.tensor([30.0, 20.0, 16.0, 12.0], dtype=torch.float64)
    score = lambda b: -((b - target) ** 2).sum(-1)                                     # noqa: E731
    start = torch.tensor([[26.0, 23.0, 12.0, 15.0]], dtype=torch.float64)
    boxes, scores = optimize_boxes(autograd_value_and_grad(score), start, 1, 0.01)
    torch.testing.assert_close(scores, score(start))                                   # scored before the step
    assert not torch.equal(boxes, start)
    boxes, scores = optimize_boxes(autograd_value_and_grad(score), start, 0, 0.01)
    torch.testing.assert_close(boxes, start)
    torch.testing.assert_close(scores, score(start))


def test_relative_space_step_follows_the_gradient_in_relative_coordinates():
    """One step in relative space against autograd through the parametrisation itself."""
    target = torch.tensor([30.0, 20.0, 16.0, 12.0], dtype=torch.float64)
    score = lambda b: -((b - target) ** 2 * torch.tensor([1.0, 2.0, 3.0, 4.0], dtype=b.dtype)).sum(-1)  # noqa: E731
    start = torch.tensor([[26.0, 23.0, 12.0, 15.0], [33.0, 18.0, 20.0, 9.0]], dtype=torch.float64)
    sz0 = start[0, 2:]
    rel = torch.cat([(start[:, :2] + start[:, 2:] / 2) / sz0, torch.log(start[:, 2:] / sz0)], 1).requires_grad_(True)
    size = torch.exp(rel[:, 2:]) * sz0
    (g,) = torch.autograd.grad(score(torch.cat([rel[:, :2] * sz0 - size / 2, size], 1)).sum(), rel)
    new_rel = rel.detach() + 0.01 * g
    new_size = torch.exp(new_rel[:, 2:]) * sz0
    expected = torch.cat([new_rel[:, :2] * sz0 - new_size / 2, new_size], 1)
    boxes, _ = optimize_boxes(autograd_value_and_grad(score), start, 1, 0.01, space="relative")
    torch.testing.assert_close(boxes, expected, rtol=1e-12, atol=1e-12)


def test_window_is_reused_while_the_boxes_stay_inside_and_recut_for_new_maps():
    head, feat = _head(dtype=torch.float32), _feat(torch.float32)
    scorer = IoUBoxScorer(head)
    boxes = torch.tensor(BOXES[:3], dtype=torch.float32)
    scorer(feat, boxes)
    first = scorer._windows[0][4]
    assert first.shape[-1] < 36                                       # a window, not the whole map
    scorer(feat, boxes + 4.0)                                         # half a cell: still inside
    assert scorer._windows[0][4] is first
    far = boxes + 40.0
    got = scorer(feat, far)
    assert scorer._windows[0][4] is not first                         # moved out: cut again
    torch.testing.assert_close(got, IoUBoxScorer(head, crop=False)(feat, far), rtol=1e-5, atol=1e-6)
    feat2 = tuple(f.clone() for f in feat)
    scorer(feat2, far)
    assert scorer._windows[0][0] is feat2[0]


@pytest.mark.parametrize("crop", [False, True])
def test_modulation_on_the_window_equals_modulated_maps(crop):
    head, feat = _head(), _feat(torch.float64)
    g = torch.Generator().manual_seed(5)
    mod = (torch.rand(1, 256, 1, 1, generator=g, dtype=torch.float64), torch.rand(1, 256, 1, 1, generator=g, dtype=torch.float64))
    boxes = torch.tensor(BOXES, dtype=torch.float64)
    ref = IoUBoxScorer(head, crop=crop)(head.modulate(mod, feat), boxes)
    scorer = IoUBoxScorer(head, crop=crop)
    for _ in range(2):                                              # the second call reuses the windows
        got = scorer(feat, boxes, modulation=mod)
        torch.testing.assert_close(got, ref, rtol=1e-12, atol=1e-12)
    other = tuple(m * 2.0 for m in mod)                             # same maps, new modulation: new windows
    torch.testing.assert_close(scorer(feat, boxes, modulation=other),
                               IoUBoxScorer(head, crop=crop)(head.modulate(other, feat), boxes), rtol=1e-12, atol=1e-12)
