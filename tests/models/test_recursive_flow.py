import copy

import numpy as np
import pytest
import torch
from mmengine.optim import OptimWrapper

from references import recompute_per_call_loss

from corrflow.registry import MODELS
from corrflow.errors import ConfigError


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
    for iteration, prob in [(0, 0.9), (50, 0.75), (100, 0.6), (200, 0.6), (-100, 0.9)]:
        model.set_train_iteration(iteration, 100)
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


def write_centroids(path, k: int, seed: int = 0) -> str:
    """k random (a, b) centroids saved like tools/analysis/compute_centroids.py does."""
    from corrflow.models.layers.colour import save_centroids

    save_centroids(path, np.random.default_rng(seed).uniform(-60, 60, (k, 2)))
    return str(path)


@pytest.mark.parametrize('k', [8, 20])
def test_num_classes_follows_the_centroids_of_the_data(k, tmp_path, quantised_batch):
    batch = quantised_batch(write_centroids(tmp_path / f'c{k}.npy', k, seed=k))
    labels = torch.stack([s['colour_labels'] for s in batch['data_samples']])
    assert int(labels.max()) < k and (k < 16 or int(labels.max()) >= 16)
    model = build_model()  # num_classes=None: from the data
    optim = OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.1))
    before = [p.detach().clone() for p in model.parameters()]
    model.record_next_loss()
    log = model.train_step(batch, optim)
    assert all(torch.isfinite(log[key]) for key in ('loss', 'loss_short', 'loss_cycle'))
    assert [p.shape[0] for p in model.pop_record()['preds']] == [k, k]  # k-class distributions
    assert any(not torch.equal(a, b) for a, b in zip(before, model.parameters()))
    build_model(num_classes=k).train_step(batch, optim)  # an agreeing number is fine


def test_num_classes_contradicting_the_centroids_is_one_clear_error(tmp_path, quantised_batch):
    path = write_centroids(tmp_path / 'c20.npy', 20)
    model = build_model(num_classes=16)
    data = model.data_preprocessor(quantised_batch(path, B=1), True)
    with pytest.raises(ConfigError) as err:
        model.loss(data['inputs'], data['data_samples'])
    message = str(err.value)
    assert 'num_classes=16' in message and '20 colour centroids' in message and path in message
    assert '\n' not in message


def test_labels_beyond_the_classes_are_one_clear_error():
    frames, samples = make_batch(B=1, H=32, W=32)  # no colour_centroids: 16 classes
    samples[0]['colour_labels'][1, 5, 7] = 19
    with pytest.raises(ConfigError, match=r'colour label 19 is outside \[0, 16\)'):
        build_model().loss(frames, samples)
    with pytest.raises(ConfigError, match=r'colour label 19 is outside \[0, 18\)'):
        build_model(num_classes=18).loss(frames, samples)
    assert torch.isfinite(build_model(num_classes=20).loss(frames, samples)['loss_short'])


def test_clips_quantised_with_different_centroids_are_refused(tmp_path, quantised_batch):
    own = quantised_batch(write_centroids(tmp_path / 'c8.json', 8), B=1)
    builtin = quantised_batch(None, B=1)
    model = build_model()
    samples = own['data_samples'] + builtin['data_samples']
    frames = torch.stack(own['inputs'] + builtin['inputs']).float() / 255
    with pytest.raises(ConfigError, match='different colour centroids') as err:
        model.loss(frames, samples)
    assert '8 centroids of ' in str(err.value) and '16 centroids of None' in str(err.value)


def test_num_classes_must_be_a_number_of_classes():
    with pytest.raises(ValueError, match='num_classes'):
        build_model(num_classes=1)


def test_zero_cycle_weight_skips_the_cycle_and_keeps_the_short_term_loss():
    torch.manual_seed(2)
    full = build_model(cycle_weight=0.1)
    full.eval()
    frames, samples = make_batch(B=1, H=32, W=32)
    torch.manual_seed(3)  # the same scheduled-sampling draw for both
    want = full.loss(frames, samples)
    calls = []
    no_cycle = build_model(cycle_weight=0.0)
    no_cycle.load_state_dict(full.state_dict())
    no_cycle.eval()
    head_forward = no_cycle.head.forward
    no_cycle.head.forward = lambda *a: calls.append(1) or head_forward(*a)
    torch.manual_seed(3)
    got = no_cycle.loss(frames, samples)
    assert len(calls) == 2  # p1 and p2 only: no forward chain, no way back
    assert got['loss_cycle'].item() == 0.0 and want['loss_cycle'].item() > 0
    torch.testing.assert_close(got['loss_short'], want['loss_short'])


def test_teacher_forcing_always_feeds_the_ground_truth():
    model = build_model(sampling_start=1.0, sampling_end=1.0)
    for iteration in (0, 50, 100):
        model.set_train_iteration(iteration, 100)
        assert model.sampling_prob == 1.0
    truth, pred = torch.zeros(2, 4, 3, 3), torch.ones(2, 4, 3, 3)
    for _ in range(20):
        assert model._sample_reference(truth, pred, model.sampling_prob) is truth


def _train_steps(bn_stats: str, steps: int = 4):
    torch.manual_seed(0)
    model = build_model(bn_stats=bn_stats, bottleneck=dict(type='ColourBottleneck', keep_prob=0.5,
                                                           jitter_prob=0.0))
    model.train()
    optim = OptimWrapper(torch.optim.Adam(model.parameters(), lr=1e-3))
    torch.manual_seed(1)
    clean_steps = 0
    for step in range(steps):
        frames, samples = make_batch(seed=step)
        before = model.backbone.bn1.num_batches_tracked.item()
        optim.update_params(sum(v for k, v in model.loss(frames, samples).items()
                                if k.startswith('loss')))
        clean_steps += model.backbone.bn1.num_batches_tracked.item() > before
    return model, clean_steps


def test_clean_bn_statistics_change_only_the_running_statistics():
    reference, _ = _train_steps('all')
    clean, clean_steps = _train_steps('clean')
    # the weights follow the same trajectory: training normalises with batch statistics
    for (name, p), q in zip(reference.named_parameters(), clean.parameters()):
        assert torch.equal(p, q), name
    assert 0 < clean_steps < 4  # keep_prob 0.5 under this seed: some batches dropped colour
    assert int(reference.backbone.bn1.num_batches_tracked) == 4 * 3  # 3 frames per clip
    assert int(clean.backbone.bn1.num_batches_tracked) == clean_steps * 3
    assert not torch.equal(reference.backbone.bn1.running_mean, clean.backbone.bn1.running_mean)
    assert clean.backbone.bn1.track_running_stats  # restored after the frozen passes


def test_bn_stats_mode_is_checked():
    with pytest.raises(ConfigError, match='bn_stats'):
        build_model(bn_stats='some')
