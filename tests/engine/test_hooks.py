from types import SimpleNamespace

import numpy as np
import pytest
import torch
from mmengine.optim import OptimWrapper

from corrflow.engine.hooks import video_progress_hook
from corrflow.engine.hooks.reconstruction_visualization_hook import reconstruction_panel
from corrflow.models.layers.colour import (KINETICS_AB_CENTROIDS, labels_to_rgb, load_centroids,
                                           rgb_to_lab, save_centroids)
from corrflow.registry import HOOKS, MODELS
from corrflow.errors import ConfigError


class FakeRunner:
    def __init__(self, model, iteration, max_iters):
        self.model = model
        self.iter = iteration
        self.max_iters = max_iters


def build_model():
    return MODELS.build(dict(type='RecursiveFlow', backbone=dict(type='CorrFlowResNet'),
                             neck=dict(type='EmbeddingProjection'),
                             head=dict(type='RestrictedAttentionHead')))


@pytest.mark.parametrize('name', ['TrainProgressHook', 'ScheduledSamplingHook'])
def test_train_progress_hook_sets_progress(name):
    model = build_model()
    hook = HOOKS.build(dict(type=name))  # the earlier name builds the same hook
    hook.before_train_iter(FakeRunner(model, 250, 1000), 0)
    assert (model.train_iteration, model.max_train_iters) == (250, 1000)
    assert model.train_progress == 0.25
    assert abs(model.sampling_prob - 0.825) < 1e-9


def test_train_progress_hook_leaves_other_models_alone():
    model = torch.nn.Linear(2, 2)
    HOOKS.build(dict(type='TrainProgressHook')).before_train_iter(FakeRunner(model, 5, 10), 0)
    assert not hasattr(model, 'train_iteration')


def test_reconstruction_hook_refuses_a_model_that_keeps_no_reconstructions():
    hook = HOOKS.build(dict(type='ReconstructionVisualizationHook'))
    with pytest.raises(ConfigError, match='Linear keeps no reconstructions to show'):
        hook.before_train(FakeRunner(torch.nn.Linear(2, 2), 0, 10))


@pytest.mark.parametrize('iteration,max_iters,progress,prob', [
    (0, 1000, 0.0, 0.9), (750, 1000, 0.75, 0.675), (1000, 1000, 1.0, 0.6),
    (0, 0, 0.0, 0.9)])  # max_iters 0: no division by zero
def test_scheduled_sampling_hook_drives_the_logged_probability(iteration, max_iters, progress,
                                                               prob, quantised_batch):
    """The loss of the next iteration logs the probability of the run's progress."""
    model = build_model()
    model.set_train_iteration(500, 1000)  # left over from an earlier iteration: replaced
    HOOKS.build(dict(type='TrainProgressHook')).before_train_iter(
        FakeRunner(model, iteration, max_iters), 0)
    assert model.train_progress == progress
    data = model.data_preprocessor(quantised_batch(B=1), True)
    with torch.no_grad():
        _, log_vars = model.parse_losses(model(**data, mode='loss'))
    assert set(log_vars) == {'loss', 'loss_short', 'loss_cycle', 'sampling_prob'}
    assert float(log_vars['sampling_prob']) == pytest.approx(prob, abs=1e-7)
    assert float(log_vars['loss']) == pytest.approx(
        float(log_vars['loss_short'] + log_vars['loss_cycle']), rel=1e-6)


def test_reconstruction_is_recorded_and_drawn():
    model = build_model()
    frames = torch.rand(2, 3, 3, 32, 32)
    labels = torch.randint(0, 16, (2, 3, 32, 32))
    model.record_next_loss()
    model.loss(frames, [dict(colour_labels=labels[i]) for i in range(2)])
    record = model.pop_record()
    assert record is not None and model.pop_record() is None
    panel = reconstruction_panel(record, load_centroids(None))
    assert panel.shape == (3 * 32, 4 * 32, 3) and panel.dtype == np.uint8
    # the target column shows the quantised colours: at most 16 distinct chromaticities
    assert panel[:, 64:96].reshape(-1, 3).std(0).sum() > 0


class FakeVisualizer:
    def __init__(self):
        self.images = {}
        self.calls = []  # (name, step) of every image, in order

    def add_image(self, name, image, step=0):
        self.images[name] = image
        self.calls.append((name, step))


def target_column(inputs: torch.Tensor, labels: torch.Tensor, centroids) -> np.ndarray:
    """(T*H, W, 3) uint8: the labels of a clip drawn with ``centroids`` and its lightness."""
    frames = inputs.float() / 255  # (T, 3, H, W)
    rgb = labels_to_rgb(labels.long(), rgb_to_lab(frames)[:, 0], centroids)  # (T, 3, H, W)
    return (torch.cat(list(rgb), dim=1).permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)


@pytest.mark.parametrize('k', [8, 20])
def test_reconstructions_are_drawn_with_the_centroids_of_the_batch(k, tmp_path,
                                                                    quantised_batch):
    path = tmp_path / f'c{k}.json'
    save_centroids(path, np.random.default_rng(k).uniform(-60, 60, (k, 2)))
    batch = quantised_batch(str(path), W=32)
    model = build_model()
    runner = FakeRunner(model, 0, 10)
    runner.visualizer = FakeVisualizer()
    hook = HOOKS.build(dict(type='ReconstructionVisualizationHook', interval=1))
    hook.before_train_iter(runner, 0, batch)
    model.train_step(batch, OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.1)))
    hook.after_train_iter(runner, 0, batch)
    panel = runner.visualizer.images['train_reconstruction']
    assert panel.shape == (3 * 32, 4 * 32, 3)
    sample = batch['data_samples'][0]
    want = target_column(batch['inputs'][0], sample['colour_labels'], load_centroids(path))
    np.testing.assert_array_equal(panel[:, 64:96], want)
    assert panel[32:, 96:].std() > 0  # frames 1, 2: colours reconstructed from k classes


def test_hook_centroids_that_differ_from_the_batch_are_an_error(tmp_path, quantised_batch):
    save_centroids(tmp_path / 'c8.npy', np.random.default_rng(0).uniform(-60, 60, (8, 2)))
    batch = quantised_batch(str(tmp_path / 'c8.npy'), B=1)
    hook = HOOKS.build(dict(type='ReconstructionVisualizationHook', centroids=None))
    assert hook.palette(batch, 8).shape == (8, 2)  # unset: the batch's centroids
    with pytest.raises(ConfigError, match='reconstructs 16 colour classes'):
        hook.palette(batch, 16)
    own = HOOKS.build(dict(type='ReconstructionVisualizationHook',
                           centroids=list(KINETICS_AB_CENTROIDS)))
    with pytest.raises(ConfigError, match='differs from the 8 centroids') as err:
        own.palette(batch, 8)
    assert str(tmp_path / 'c8.npy') in str(err.value)
    assert own.palette(quantised_batch(None, B=1), 16).shape == (16, 2)


def test_reconstruction_hook_logs_every_interval_the_recorded_clip(quantised_batch):
    """interval 2: an image after iterations 1 and 3 (steps 2 and 4), none after 0 and 2;
    its columns are frame, network input, colour target and reconstruction of clip 0."""
    model = build_model()  # no bottleneck: the network input is the frame
    runner = FakeRunner(model, 0, 10)
    runner.visualizer = FakeVisualizer()
    hook = HOOKS.build(dict(type='ReconstructionVisualizationHook', interval=2))
    batch = quantised_batch(B=2, H=24, W=32)
    records = []
    pop_record = model.pop_record

    def keep(*args):
        record = pop_record(*args)
        if record is not None:
            records.append(record)
        return record

    model.pop_record = keep
    logged = []
    for iteration in range(4):
        runner.iter = iteration
        hook.before_train_iter(runner, iteration, batch)
        assert model._record_next == (iteration % 2 == 1)
        data = model.data_preprocessor(batch, True)
        with torch.no_grad():
            model(**data, mode='loss')
        hook.after_train_iter(runner, iteration, batch)
        logged.append(len(runner.visualizer.calls))
    assert logged == [0, 1, 1, 2]
    assert runner.visualizer.calls == [('train_reconstruction', 2), ('train_reconstruction', 4)]
    assert len(records) == 2
    panel = runner.visualizer.images['train_reconstruction']
    H, W = 24, 32
    assert panel.shape == (3 * H, 4 * W, 3) and panel.dtype == np.uint8
    clip = batch['inputs'][0]  # (T, 3, H, W) uint8
    frames = torch.cat(list(clip), dim=1).permute(1, 2, 0).numpy()  # (T*H, W, 3)
    np.testing.assert_array_equal(panel[:, :W], frames)
    np.testing.assert_array_equal(panel[:, W:2 * W], frames)
    centroids = load_centroids(None)
    labels = batch['data_samples'][0]['colour_labels']
    np.testing.assert_array_equal(panel[:, 2 * W:3 * W], target_column(clip, labels, centroids))
    assert not panel[:H, 3 * W:].any()  # frame 0 is given, not reconstructed
    lightness = rgb_to_lab(clip.float() / 255)[:, 0]
    for t, prob in enumerate(records[-1]['preds'], start=1):
        assert prob.shape == (16, H // 4, W // 4)
        up = torch.nn.functional.interpolate(prob[None], size=(H, W), mode='bilinear',
                                             align_corners=False)[0]
        want = labels_to_rgb(up, lightness[t], centroids).permute(1, 2, 0).numpy()
        np.testing.assert_array_equal(panel[t * H:(t + 1) * H, 3 * W:],
                                      (want * 255).round().astype(np.uint8))


class FakeLogger:
    def __init__(self):
        self.messages = []

    def info(self, message):
        self.messages.append(message)


def video_batches(frame_counts):
    """One batch per video, as sample_list_collate gives them: lists of (T, 3, H, W)."""
    return [dict(inputs=[torch.zeros(n, 3, 4, 4, dtype=torch.uint8)]) for n in frame_counts]


class FakeLoader(list):
    """The batches of one rank; ``dataset`` holds the videos of all ranks."""

    def __init__(self, batches, dataset_size):
        super().__init__(batches)
        self.dataset = list(range(dataset_size))


def progress_runner(batches, dataset_size=None):
    loop = SimpleNamespace(dataloader=FakeLoader(batches, dataset_size or len(batches)))
    return SimpleNamespace(logger=FakeLogger(), test_loop=loop, val_loop=loop)


@pytest.fixture
def fixed_clock(monkeypatch):
    """perf_counter 100 s at the start of the epoch, 104 s at its end; peak RSS 300 MiB."""
    ticks = iter([100.0, 104.0])
    monkeypatch.setattr(video_progress_hook, 'time',
                        SimpleNamespace(perf_counter=lambda: next(ticks)))
    monkeypatch.setattr(video_progress_hook, 'resource', SimpleNamespace(
        RUSAGE_SELF=0, getrusage=lambda who: SimpleNamespace(ru_maxrss=300 * 1024)))  # KiB
    monkeypatch.setattr(video_progress_hook, 'sys', SimpleNamespace(platform='linux'))
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: False)


@pytest.mark.parametrize('stage', ['test', 'val'])
def test_video_progress_hook_logs_videos_frames_and_rate(stage, fixed_clock):
    batches = video_batches([5, 3, 4])
    runner = progress_runner(batches)
    hook = HOOKS.build(dict(type='VideoProgressHook'))
    getattr(hook, f'before_{stage}_epoch')(runner)
    for i, batch in enumerate(batches):
        getattr(hook, f'after_{stage}_iter')(runner, i, batch)
    assert (hook._bar.completed, hook._bar.task_num) == (3, 3)  # the bar went over all videos
    assert runner.logger.messages == []  # nothing logged before the end
    getattr(hook, f'after_{stage}_epoch')(runner)
    # 12 frames in 104 - 100 = 4 s: 3 frames/s
    assert runner.logger.messages == [
        '3 videos, 12 frames in 4.0 s: 3.00 frames/s; process peak RSS 300 MiB']
    hook.after_test_epoch(runner)  # a second end without a start logs nothing more
    assert len(runner.logger.messages) == 1


def test_video_progress_hook_with_several_ranks(fixed_clock, monkeypatch):
    batches = video_batches([2, 6])
    runner = progress_runner(batches, dataset_size=5)
    monkeypatch.setattr(video_progress_hook, 'get_world_size', lambda: 2)
    hook = HOOKS.build(dict(type='VideoProgressHook'))
    hook.before_test_epoch(runner)
    for i, batch in enumerate(batches):
        hook.after_test_iter(runner, i, batch)
    hook.after_test_epoch(runner)
    assert runner.logger.messages == [
        '5 videos over 2 ranks; rank 0 evaluates 2',
        '2 videos, 8 frames in 4.0 s: 2.00 frames/s; process peak RSS 300 MiB']
    # the other ranks show and log nothing
    monkeypatch.setattr(video_progress_hook, 'get_rank', lambda: 1)
    other = progress_runner(batches, dataset_size=5)
    hook.before_test_epoch(other)
    for i, batch in enumerate(batches):
        hook.after_test_iter(other, i, batch)
    hook.after_test_epoch(other)
    assert other.logger.messages == []
