import copy

import pytest
import torch

from benchmarks.baselines import recompute_per_call_loss
from corrflow.registry import MODELS


def build_model(**kwargs):
    cfg = dict(
        type='RecursiveFlow',
        backbone=dict(type='CorrFlowResNet'),
        neck=dict(type='EmbeddingProjection', in_channels=256, out_channels=64),
        head=dict(type='RestrictedAttentionHead', radius=6, stride=4),
        bottleneck=None)
    cfg.update(kwargs)
    return MODELS.build(cfg)


def make_batch(B=2, T=3, H=48, W=40, seed=0):
    g = torch.Generator().manual_seed(seed)
    frames = torch.rand(B, T, 3, H, W, generator=g)
    labels = torch.randint(0, 16, (B, T, H, W), generator=g)
    return frames, [dict(colour_labels=labels[b]) for b in range(B)]


def test_sampling_schedule_is_linear_from_0_9_to_0_6():
    model = build_model()
    for progress, prob in [(0.0, 0.9), (0.5, 0.75), (1.0, 0.6), (2.0, 0.6), (-1, 0.9)]:
        model.set_train_progress(progress)
        assert model.sampling_prob == pytest.approx(prob)


@pytest.mark.parametrize('use_truth', [True, False])
@pytest.mark.parametrize('dtype', [torch.float32, torch.float64])
def test_embed_once_equals_recompute_per_call(use_truth, dtype, monkeypatch):
    torch.manual_seed(0)
    model = build_model().to(dtype)
    model.train()
    reference = copy.deepcopy(model)
    frames, samples = make_batch()
    frames = frames.to(dtype)
    # fix the scheduled-sampling draw
    monkeypatch.setattr(model, 'sampling_start', 1.0 if use_truth else 0.0)
    monkeypatch.setattr(model, 'sampling_end', 1.0 if use_truth else 0.0)
    ours = model.loss(frames, samples)
    ref = recompute_per_call_loss(reference, frames, samples, use_truth=use_truth)
    for key in ('loss_short', 'loss_cycle'):
        torch.testing.assert_close(ours[key], ref[key], rtol=1e-5, atol=1e-5)
    (ours['loss_short'] + ours['loss_cycle']).backward()
    (ref['loss_short'] + ref['loss_cycle']).backward()
    for (name, a), b in zip(model.named_parameters(), reference.parameters()):
        # equal up to float summation order: 1e-5 of the gradient's scale
        scale = max(1.0, float(b.grad.abs().max()))
        torch.testing.assert_close(a.grad, b.grad, rtol=0, atol=1e-5 * scale, msg=name)


def test_prediction_is_not_detached_when_fed_back():
    model = build_model(sampling_start=0.0, sampling_end=0.0)  # always feed own output
    frames, samples = make_batch(B=1, H=32, W=32)
    frames.requires_grad_(True)
    # the gradient of the second short-term term must reach frame 0 through p1
    model.eval()  # no batch-norm coupling between frames
    out = model.loss(frames, samples)
    g0 = torch.autograd.grad(out['loss_short'], frames)[0][:, 0]
    assert g0.abs().sum() > 0


@pytest.mark.parametrize('T', [2, 3, 5])
def test_longer_clips_and_loss_terms(T):
    model = build_model()
    frames, samples = make_batch(B=1, T=T, H=32, W=32)
    out = model.loss(frames, samples)
    assert set(out) == {'loss_short', 'loss_cycle', 'sampling_prob'}
    assert torch.isfinite(out['loss_short']) and torch.isfinite(out['loss_cycle'])
    emb = model(frames, mode='tensor')
    assert emb.shape == (1, T, 64, 8, 8)


def test_cycle_terms_for_three_frames_match_manual_recursion():
    torch.manual_seed(1)
    model = build_model(cycle_weight=0.5)
    model.eval()
    frames, samples = make_batch(B=1, H=32, W=32)
    out = model.loss(frames, samples)
    targets = samples[0]['colour_labels'][None].long()
    e = [model.embed(frames[:, t]) for t in range(3)]
    q0 = model.head.downsample_labels(targets[:, 0], 16, e[0].shape[-2:])
    from corrflow.models.algorithms.recursive_flow import colour_cross_entropy as ce
    a1 = model.head(e[1], e[0], q0)
    c1 = model.head(e[0], e[1], a1)
    a2 = model.head(e[2], e[1], a1)
    c2 = model.head(e[0], e[1], model.head(e[1], e[2], a2))
    want = 0.5 * (ce(c1, targets[:, 0]) + ce(c2, targets[:, 0]))
    torch.testing.assert_close(out['loss_cycle'], want)


def test_label_downsampling_modes():
    head = MODELS.build(dict(type='RestrictedAttentionHead', stride=4))
    labels = torch.zeros(1, 8, 8, dtype=torch.long)
    labels[:, :, 4:] = 6
    labels[:, :, :4] = 2
    onehot = head.downsample_labels(labels, 16, (2, 2))
    assert onehot.argmax(1).tolist() == [[[2, 6], [2, 6]]]  # only labels that exist
    quirk = MODELS.build(dict(type='RestrictedAttentionHead', stride=4,
                              label_downsample='bilinear_truncate'))
    # bilinear resizing of the class map invents in-between classes on boundaries:
    # at 1/4 scale each cell samples between input pixels 4i+1 and 4i+2
    stripes = torch.tensor([[0, 0, 9, 9, 0, 0, 9, 9]] * 8)[None]
    invented = quirk.downsample_labels(stripes, 16, (2, 2)).argmax(1)
    assert invented.flatten().tolist() == [4, 4, 4, 4]  # int(4.5)
    assert head.downsample_labels(stripes, 16, (2, 2)).argmax(1).flatten().tolist() == [0, 0, 0, 0]
    with pytest.raises(ValueError, match='label_downsample'):
        MODELS.build(dict(type='RestrictedAttentionHead', label_downsample='nearest'))


def test_per_sample_draw_mixes_truth_and_prediction():
    model = build_model(sampling_draw='sample')
    truth = torch.zeros(64, 2, 1, 1)
    pred = torch.ones(64, 2, 1, 1)
    torch.manual_seed(0)
    mixed = model._sample_reference(truth, pred, 0.5)
    share = (mixed[:, 0, 0, 0] == 0).float().mean()
    assert 0.25 < share < 0.75
