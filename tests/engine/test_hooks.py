import numpy as np
import torch

from corrflow.engine.hooks.reconstruction_visualization_hook import reconstruction_panel
from corrflow.models.layers.colour import load_centroids
from corrflow.registry import HOOKS, MODELS


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
