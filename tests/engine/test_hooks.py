import numpy as np
import pytest
import torch
from mmengine.optim import OptimWrapper

from corrflow.engine.hooks.reconstruction_visualization_hook import reconstruction_panel
from corrflow.models.layers.colour import (KINETICS_AB_CENTROIDS, labels_to_rgb, load_centroids,
                                           rgb_to_lab, save_centroids)
from corrflow.registry import HOOKS, MODELS
from corrflow.utils.launch import ConfigError


class FakeRunner:
    def __init__(self, model, iteration, max_iters):
        self.model = model
        self.iter = iteration
        self.max_iters = max_iters


def build_model():
    return MODELS.build(dict(type='RecursiveFlow', backbone=dict(type='CorrFlowResNet'),
                             neck=dict(type='EmbeddingProjection'),
                             head=dict(type='RestrictedAttentionHead')))


def test_scheduled_sampling_hook_sets_progress():
    model = build_model()
    hook = HOOKS.build(dict(type='ScheduledSamplingHook'))
    hook.before_train_iter(FakeRunner(model, 250, 1000), 0)
    assert model.train_progress == 0.25
    assert abs(model.sampling_prob - 0.825) < 1e-9


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

    def add_image(self, name, image, step=0):
        self.images[name] = image


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
