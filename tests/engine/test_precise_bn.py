"""Batch-norm statistics re-estimated on clean clips: the estimate, the hook, the switch."""
from types import SimpleNamespace

import pytest
import torch
import torch.nn as nn

from corrflow.datasets.collate import sample_list_collate
from corrflow.engine.bn_recalibration import calibration_batches, recalibrate_bn
from corrflow.models.layers.batch_norm import (batch_norm_layers, estimate_bn_statistics,
                                               frozen_bn_statistics)
from corrflow.registry import DATASETS, HOOKS, MODELS
from corrflow.errors import ConfigError


def build_model(**kwargs):
    cfg = dict(type='RecursiveFlow', backbone=dict(type='CorrFlowResNet'),
               neck=dict(type='EmbeddingProjection'), head=dict(type='RestrictedAttentionHead'),
               bottleneck=dict(type='ColourBottleneck', keep_prob=0.0, jitter_prob=1.0))
    cfg.update(kwargs)
    return MODELS.build(cfg)


def clip_dataset(num_videos=6):
    return DATASETS.build(dict(
        type='SyntheticVideos', num_videos=num_videos, num_frames=12, size=(32, 40), seed=0,
        clip_length=3, frame_stride=2,
        pipeline=[dict(type='LoadSyntheticClip'), dict(type='QuantiseColour', centroids=None),
                  dict(type='PackClipInputs')]))


def direct_statistics(model, batches):
    """Mean over the clean passes of each BN input's mean and unbiased variance."""
    layers = batch_norm_layers(model.bn_statistics_module())
    seen = {layer: [] for layer in layers}
    hooks = [layer.register_forward_pre_hook(
        lambda m, args: seen[m].append((args[0].mean((0, 2, 3)),
                                        args[0].var((0, 2, 3), unbiased=True))))
        for layer in layers]
    model.train()
    with torch.no_grad(), frozen_bn_statistics(model):
        for data in batches:
            inputs = model.data_preprocessor(data, True)['inputs']
            for t in range(inputs.shape[1]):  # one pass per frame, as in training
                model.embed(inputs[:, t])  # straight to the encoder: no bottleneck
    for hook in hooks:
        hook.remove()
    return {layer: (torch.stack([m for m, _ in passes]).mean(0),
                    torch.stack([v for _, v in passes]).mean(0))
            for layer, passes in seen.items()}


class FakeRunner:
    def __init__(self, model, dataset, batch_size=2):
        self.model = model
        self.train_dataloader = SimpleNamespace(dataset=dataset, batch_size=batch_size,
                                                collate_fn=sample_list_collate)
        self.logged = []
        self.logger = SimpleNamespace(info=self.logged.append)
        self.iter, self.max_iters = 9, 10


def test_hook_statistics_equal_the_direct_ones_over_the_same_clean_batches():
    torch.manual_seed(0)
    model = build_model()
    dataset = clip_dataset()
    runner = FakeRunner(model, dataset)
    hook = HOOKS.build(dict(type='PreciseBNHook', num_batches=4, batch_size=2, seed=3))
    before = torch.get_rng_state()
    hook.after_train_iter(runner, 9)  # the last iteration: runner.iter + 1 == max_iters
    assert torch.equal(torch.get_rng_state(), before)  # training's generators untouched
    assert runner.logged == ['batch-norm statistics re-estimated on 4 batches of 2 clean '
                             'training clips (seed 3)']
    reference = build_model()
    reference.load_state_dict(model.state_dict())
    expected = direct_statistics(reference, calibration_batches(
        dataset, sample_list_collate, 2, 4, seed=3))
    for layer, (mean, var) in zip(batch_norm_layers(model.bn_statistics_module()),
                                  expected.values()):
        assert torch.allclose(layer.running_mean, mean, atol=1e-5, rtol=1e-5)
        assert torch.allclose(layer.running_var, var, atol=1e-5, rtol=1e-5)
        assert int(layer.num_batches_tracked) == 4 * 3  # 4 batches x 3 frames
        assert layer.momentum == 0.1  # restored


def test_the_bottleneck_is_off_during_the_estimate(monkeypatch):
    model = build_model()  # its bottleneck drops and jitters colour in every batch
    monkeypatch.setattr(type(model.bottleneck), 'forward',
                        lambda self, frames: pytest.fail('the bottleneck ran'))
    seen = []
    model.backbone.register_forward_pre_hook(lambda m, args: seen.append(args[0].clone()))
    batches = list(calibration_batches(clip_dataset(), sample_list_collate, 2, 2, seed=0))
    model.train()
    assert recalibrate_bn(model, iter(batches)) == 2
    clean = [model.data_preprocessor(b, True)['inputs'] for b in batches]
    expected = [clip[:, t] for clip in clean for t in range(clip.shape[1])]
    assert len(seen) == len(expected) == 6
    for got, frames in zip(seen, expected):
        assert torch.equal(got, frames)  # the frames as loaded: no channel dropped
    assert model.training and model.bottleneck.training  # training flags left alone


def test_calibration_batches_are_reproducible_and_do_not_repeat_within_a_pass():
    dataset = clip_dataset(num_videos=4)
    first = list(calibration_batches(dataset, sample_list_collate, 3, 2, seed=5))
    again = list(calibration_batches(dataset, sample_list_collate, 3, 2, seed=5))
    other = list(calibration_batches(dataset, sample_list_collate, 3, 2, seed=6))
    flat = [torch.stack(list(b['inputs'])) for b in first]
    assert all(torch.equal(a, torch.stack(list(b['inputs']))) for a, b in zip(flat, again))
    assert not all(torch.equal(a, torch.stack(list(b['inputs']))) for a, b in zip(flat, other))
    with pytest.raises(ConfigError, match='batch_size >= 1'):
        next(calibration_batches(dataset, sample_list_collate, 0, 2))


def test_estimate_is_the_mean_of_per_pass_statistics():
    net = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4))
    batches = [torch.randn(2, 3, 8, 8) * (i + 1) + i for i in range(3)]
    estimate_bn_statistics(net, batches, net)
    inputs = [net[0](b) for b in batches]
    mean = torch.stack([x.mean((0, 2, 3)) for x in inputs]).mean(0)
    var = torch.stack([x.var((0, 2, 3)) for x in inputs]).mean(0)
    assert torch.allclose(net[1].running_mean, mean, atol=1e-5)
    assert torch.allclose(net[1].running_var, var, atol=1e-5)
    with pytest.raises(ValueError, match='no batch'):
        estimate_bn_statistics(net, [], net)
    with pytest.raises(ValueError, match='saw no pass'):
        estimate_bn_statistics(nn.Sequential(nn.BatchNorm2d(3), nn.BatchNorm2d(4)),
                               batches, lambda x: None)


def test_frozen_statistics_keep_outputs_and_running_statistics():
    bn = nn.BatchNorm2d(3).train()
    x = torch.randn(4, 3, 5, 5)
    with frozen_bn_statistics(bn):
        out = bn(x)
    assert torch.equal(bn.running_mean, torch.zeros(3)) and int(bn.num_batches_tracked) == 0
    assert torch.allclose(out, nn.BatchNorm2d(3).train()(x))
    assert bn.track_running_stats


@pytest.mark.parametrize('config', ['configs/train/timecycle_r18_davis16.py',
                                    'configs/train/spa_then_temp_r18_davis16.py'])
def test_timecycle_and_spa_then_temp_estimate_on_the_frames_the_test_sees(config):
    from mmengine.config import Config

    from corrflow.models.algorithms.spa_then_temp import normalised_lab

    model = MODELS.build(Config.fromfile(config).model)
    teacher = getattr(model, 'teacher', None)
    teacher_state = None if teacher is None else {
        k: v.clone() for k, v in teacher.state_dict().items()}
    seen = []
    model.backbone.register_forward_pre_hook(lambda m, args: seen.append(args[0].clone()))
    clips = torch.randint(0, 256, (2, 2 if teacher is not None else 3, 3, 64, 64),
                          dtype=torch.uint8)
    assert recalibrate_bn(model, iter([dict(inputs=list(clips))])) == 1
    frames = clips.float() / 255
    if teacher is None:  # TimeCycle: the base frames together, then the target (no patch)
        norm = (frames - model.mean.unsqueeze(1)) / model.std.unsqueeze(1)
        expected = [norm[:, :-1].flatten(0, 1), norm[:, -1]]
    else:  # Spa-then-Temp: Lab with no channel dropped and no x1.5
        expected = [normalised_lab(frames).flatten(0, 1)]
        for k, v in teacher.state_dict().items():
            assert torch.equal(v, teacher_state[k]), k  # the frozen teacher is left alone
    assert len(seen) == len(expected)
    for got, want in zip(seen, expected):
        assert torch.allclose(got, want, atol=1e-6)


def test_a_model_without_clean_passes_is_one_clear_error():
    runner = FakeRunner(nn.Linear(2, 2), clip_dataset())
    with pytest.raises(ConfigError, match='Linear cannot have its batch-norm statistics'):
        HOOKS.build(dict(type='PreciseBNHook')).before_train(runner)


def _rank_estimate(rank, world_size, init_file, results):
    import torch.distributed as dist
    dist.init_process_group('gloo', init_method=f'file://{init_file}', rank=rank,
                            world_size=world_size)
    try:
        torch.manual_seed(0)
        net = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4))
        g = torch.Generator().manual_seed(rank)
        batches = [torch.randn(2, 3, 8, 8, generator=g) * (rank + 1) for _ in range(3)]
        local = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4))
        local.load_state_dict(net.state_dict())
        inputs = [local[0](b) for b in batches]
        results[rank] = dict(
            mean=torch.stack([x.mean((0, 2, 3)) for x in inputs]).mean(0).detach(),
            var=torch.stack([x.var((0, 2, 3)) for x in inputs]).mean(0).detach())
        estimate_bn_statistics(net, batches, net)
        results[f'reduced{rank}'] = (net[1].running_mean.clone(), net[1].running_var.clone())
        indices = [idx for idx in range(4)]
        from corrflow.engine.bn_recalibration import calibration_batches as batches_of
        drawn = list(batches_of(indices, lambda items: items, 2, 1, seed=0))
        results[f'drawn{rank}'] = drawn[0]
    finally:
        dist.destroy_process_group()


def test_statistics_are_averaged_over_ranks(tmp_path):
    """Two gloo processes: each ends with the mean of the two ranks' estimates, and the
    calibration clips are split between the ranks."""
    import torch.multiprocessing as mp
    manager = mp.Manager()
    results = manager.dict()
    mp.spawn(_rank_estimate, args=(2, str(tmp_path / 'init'), results), nprocs=2, join=True)
    mean = (results[0]['mean'] + results[1]['mean']) / 2
    var = (results[0]['var'] + results[1]['var']) / 2
    for rank in (0, 1):
        running_mean, running_var = results[f'reduced{rank}']
        assert torch.allclose(running_mean, mean, atol=1e-5)
        assert torch.allclose(running_var, var, atol=1e-5)
    assert not set(results['drawn0']) & set(results['drawn1'])  # different clips per rank
