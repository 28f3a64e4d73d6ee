"""The schedule follows the total batch: milestones in samples, auto_scale_lr, world size."""
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from mmengine.config import Config
from mmengine.logging import MMLogger
from mmengine.optim import OptimWrapper
from mmengine.runner import Runner

from corrflow.engine import apply_total_batch, launcher_world_size, samples_to_iters
from corrflow.registry import PARAM_SCHEDULERS
from corrflow.errors import ConfigError

REPO = Path(__file__).resolve().parents[2]
PAPER = REPO / 'configs' / 'train' / 'corrflow_r18.py'


def optim_wrapper(lr: float = 2e-4) -> OptimWrapper:
    return OptimWrapper(torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=lr))


def build_scheduler(cfg: dict, wrapper: OptimWrapper | None = None):
    return PARAM_SCHEDULERS.build(dict(cfg), default_args=dict(
        optimizer=wrapper or optim_wrapper(), epoch_length=10))


@pytest.mark.parametrize('processes,milestones', [
    (1, [66666, 100000, 133333, 166666]),   # total 6: 400_000 // 6, ...
    (2, [33333, 50000, 66666, 83333]),      # total 12
    (4, [16666, 25000, 33333, 41666]),      # total 24
])
@pytest.mark.parametrize('config', ['corrflow_r18.py', 'corrflow_r18_oxuva.py',
                                    'corrflow_r18_ytvos.py'])
def test_paper_milestones_follow_the_total_batch(config, processes, milestones):
    cfg = Config.fromfile(str(REPO / 'configs' / 'train' / config))
    assert cfg.train_dataloader.batch_size == 6 and cfg.train_cfg.max_epochs == 10
    lines = apply_total_batch(cfg, processes)
    assert lines[0] == (f'total batch {6 * processes} = {processes} '
                        f'process{"es" if processes > 1 else ""} x 6 clips '
                        '(train_dataloader.batch_size)')
    assert ', '.join(map(str, milestones)) in lines[1]
    assert '400000, 600000, 800000, 1000000 samples' in lines[1]
    # by_epoch=False also makes the Runner end the scheduler at max_iters, not max_epochs
    assert cfg.param_scheduler[0].by_epoch is False
    scheduler = build_scheduler(cfg.param_scheduler[0])
    assert sorted(scheduler.milestones) == milestones
    assert scheduler.gamma == 0.5 and not scheduler.by_epoch


def test_by_epoch_is_set_for_the_runner():
    cfg = Config(dict(train_dataloader=dict(batch_size=2),
                      param_scheduler=[dict(type='SampleMultiStepLR', milestones=[4])]))
    apply_total_batch(cfg, 1)
    assert cfg.param_scheduler[0].by_epoch is False
    cfg.param_scheduler[0].by_epoch = True
    with pytest.raises(ConfigError, match='remove by_epoch=True'):
        apply_total_batch(cfg, 1)


def test_milestones_that_are_not_divisible_round_down():
    cfg = Config.fromfile(str(PAPER))
    cfg.train_dataloader.batch_size = 7
    apply_total_batch(cfg, 1)
    scheduler = build_scheduler(cfg.param_scheduler[0])
    assert sorted(scheduler.milestones) == [57142, 85714, 114285, 142857]
    assert samples_to_iters([10, 25], 4) == [2, 6]


def test_lr_changes_at_the_converted_iterations():
    wrapper = optim_wrapper(lr=1.0)
    scheduler = build_scheduler(dict(type='SampleMultiStepLR', milestones=[10, 25], gamma=0.5,
                                     total_batch_size=4), wrapper)
    lrs = []
    for _ in range(8):
        lrs.append(wrapper.optimizer.param_groups[0]['lr'])
        wrapper.step()
        scheduler.step()
    # 10 // 4 = 2 and 25 // 4 = 6 iterations
    assert lrs == [1.0, 1.0, 0.5, 0.5, 0.5, 0.5, 0.25, 0.25]


def test_iteration_based_configs_keep_their_milestones():
    cfg = Config.fromfile(str(REPO / 'configs' / 'train' / 'corrflow_r18_davis16.py'))
    lines = apply_total_batch(cfg, 2)
    assert 'lr x0.5 at iterations 500, 750 = 6000, 9000 samples at total batch 12' in lines[1]
    assert sorted(build_scheduler(cfg.param_scheduler[0]).milestones) == [500, 750]
    demo = Config.fromfile(str(REPO / 'configs' / 'train' / 'corrflow_r18_demo.py'))
    assert apply_total_batch(demo, 1)[1] == 'lr milestones: none'


@pytest.mark.parametrize('processes,enable,expected', [
    (4, False, 'auto_scale_lr off: lr 0.0002; --auto-scale-lr scales it by total batch / 6'),
    (4, True, 'auto_scale_lr on: lr 0.0008 = 0.0002 x total batch 24 / base batch 6'),
    (1, True, 'auto_scale_lr on: lr 0.0002 = 0.0002 x total batch 6 / base batch 6'),
])
def test_auto_scale_lr_is_reported_as_mmengine_applies_it(processes, enable, expected):
    cfg = Config.fromfile(str(PAPER))
    assert cfg.auto_scale_lr == dict(enable=False, base_batch_size=6)
    cfg.auto_scale_lr.enable = enable
    assert apply_total_batch(cfg, processes)[-1] == expected
    # mmengine's Runner.scale_lr multiplies by world size x per-process batch / base batch
    wrapper = optim_wrapper(lr=2e-4)
    runner = SimpleNamespace(_train_dataloader=dict(batch_size=6), world_size=processes,
                             logger=MMLogger.get_current_instance(), param_schedulers=None)
    Runner.scale_lr(runner, wrapper, cfg.auto_scale_lr)
    scaled = 2e-4 * 6 * processes / 6 if enable else 2e-4
    assert wrapper.optimizer.param_groups[0]['lr'] == pytest.approx(scaled)


@pytest.mark.parametrize('edit,message', [
    (dict(milestones=[400_000, -5]), 'lr milestone -5 is not a positive whole number'),
    (dict(milestones=[4e5, 6e5]), 'lr milestone 400000.0 is not a positive whole number'),
    (dict(milestones=[600_000, 400_000]), 'lr milestones in samples must increase'),
    (dict(milestones=400_000), 'must be a list of whole numbers'),
    (dict(batch_size=0), 'train_dataloader.batch_size must be a positive integer'),
    (dict(base_batch_size=-6), 'auto_scale_lr.base_batch_size must be a positive integer'),
])
def test_bad_values_give_one_clear_error(edit, message):
    cfg = Config.fromfile(str(PAPER))
    if 'milestones' in edit:
        cfg.param_scheduler[0].milestones = edit['milestones']
    if 'batch_size' in edit:
        cfg.train_dataloader.batch_size = edit['batch_size']
    if 'base_batch_size' in edit:
        cfg.auto_scale_lr = dict(enable=True, base_batch_size=edit['base_batch_size'])
    with pytest.raises(ConfigError, match=message):
        apply_total_batch(cfg, 2)


def test_scheduler_without_total_batch_says_what_to_do():
    cfg = Config.fromfile(str(PAPER))
    with pytest.raises(ConfigError, match='needs total_batch_size .* tools/train.py sets it'):
        build_scheduler(cfg.param_scheduler[0])
    with pytest.raises(ConfigError, match='remove by_epoch=True'):
        build_scheduler(dict(type='SampleMultiStepLR', milestones=[6], total_batch_size=6,
                             by_epoch=True))


def test_resume_at_another_total_batch_is_refused():
    milestones = [400_000, 600_000]
    saved = build_scheduler(dict(type='SampleMultiStepLR', milestones=milestones,
                                 total_batch_size=6)).state_dict()
    same = build_scheduler(dict(type='SampleMultiStepLR', milestones=milestones,
                                total_batch_size=6))
    same.load_state_dict(saved)
    other = build_scheduler(dict(type='SampleMultiStepLR', milestones=milestones,
                                 total_batch_size=24))
    with pytest.raises(ConfigError, match='trained at a total batch of 6, this run has 24'):
        other.load_state_dict(saved)


@pytest.mark.parametrize('launcher,environ,expected', [
    ('none', dict(WORLD_SIZE='4'), 1),
    ('pytorch', dict(WORLD_SIZE='4'), 4),
    ('slurm', dict(SLURM_NTASKS='2'), 2),
])
def test_world_size_comes_from_the_launcher(launcher, environ, expected):
    assert launcher_world_size(launcher, environ) == expected


@pytest.mark.parametrize('launcher,environ,message', [
    ('pytorch', {}, 'needs the environment variable WORLD_SIZE'),
    ('pytorch', dict(WORLD_SIZE='two'), "WORLD_SIZE='two' is not a positive number"),
])
def test_bad_launcher_environment_is_reported(launcher, environ, message):
    with pytest.raises(ConfigError, match=message):
        launcher_world_size(launcher, environ)
