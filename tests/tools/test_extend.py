"""Extending corrflow from outside: components registered in a user's own package.

A temporary package outside corrflow registers a backbone, a transform and a
dataset in corrflow's registries; configs reach them through
``custom_imports`` alone, and tools/train.py and tools/test.py use them without
any edit to corrflow.
"""
import importlib
import textwrap

import numpy as np
import pytest
import torch

from helpers import REPO, write_davis_layout

from corrflow.registry import DATASETS, MODELS
from corrflow.utils import load_checkpoint_file

PACKAGE = '''
"""A user's extension of corrflow."""
import numpy as np
import torch.nn as nn
from mmcv.transforms import BaseTransform

from corrflow.datasets import SyntheticVideos
from corrflow.registry import DATASETS, MODELS, TRANSFORMS


@MODELS.register_module()
class TwoLayerEncoder(nn.Module):
    """A small stride-4 encoder with 256 output channels."""

    stride = 4

    def __init__(self, width=32):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(3, width, 3, 2, 1), nn.ReLU(),
                                  nn.Conv2d(width, 256, 3, 2, 1))

    def forward(self, x):
        return self.body(x)


@TRANSFORMS.register_module()
class InvertColours(BaseTransform):
    """Photographic negative of every frame of a clip."""

    def transform(self, results):
        results['frames'] = [255 - np.asarray(f) for f in results['frames']]
        results['inverted'] = True
        return results


@DATASETS.register_module()
class FewSyntheticVideos(SyntheticVideos):
    """The procedural videos, fewer of them."""

    def __init__(self, **kwargs):
        kwargs.setdefault('num_videos', 4)
        super().__init__(**kwargs)
'''


@pytest.fixture
def extension(tmp_path):
    pkg = tmp_path / 'ext' / 'my_corrflow_ext'
    pkg.mkdir(parents=True)
    (pkg / '__init__.py').write_text(PACKAGE)
    return tmp_path / 'ext'


def test_a_train_config_reaches_components_of_an_outside_package(tool, tmp_path, extension):
    config = tmp_path / 'my_train.py'
    config.write_text(textwrap.dedent(f'''
        _base_ = ['{REPO}/configs/train/corrflow_r18_demo.py']
        custom_imports = dict(imports=['my_corrflow_ext'], allow_failed_imports=False)
        model = dict(backbone=dict(_delete_=True, type='TwoLayerEncoder', width=16))
        train_dataloader = dict(
            batch_size=2, num_workers=0, persistent_workers=False,
            dataset=dict(_delete_=True, type='FewSyntheticVideos', num_frames=12,
                         size=(64, 64), seed=0, clip_length=3, frame_stride=4,
                         pipeline=[dict(type='LoadSyntheticClip'), dict(type='InvertColours'),
                                   dict(type='QuantiseColour', centroids=None),
                                   dict(type='PackClipInputs')]))
        train_cfg = dict(max_iters=2)
        default_hooks = dict(logger=dict(interval=1), checkpoint=dict(interval=2))
        custom_hooks = [dict(type='ScheduledSamplingHook')]
    '''))
    work = tmp_path / 'work'
    result = tool('tools/train.py', str(config), '--work-dir', str(work),
                  env=dict(PYTHONPATH=f'{extension}:{REPO}'))
    assert result.returncode == 0, result.stderr[-3000:]
    state = load_checkpoint_file(work / 'iter_2.pth')['state_dict']
    assert state['backbone.body.0.weight'].shape == (16, 3, 3, 3)  # the outside encoder trained

    # the same encoder evaluates by label propagation through tools/test.py
    test_config = tmp_path / 'my_test.py'
    test_config.write_text(textwrap.dedent(f'''
        _base_ = ['{REPO}/configs/test/corrflow_davis.py']
        custom_imports = dict(imports=['my_corrflow_ext'], allow_failed_imports=False)
        model = dict(backbone=dict(_delete_=True, type='TwoLayerEncoder', width=16))
    '''))
    davis = write_davis_layout(tmp_path / 'davis', sequences=('seq-a',), frames=3)
    tested = tool('tools/test.py', str(test_config), 'davis', str(work / 'iter_2.pth'),
                  '--data-root', str(davis), '--work-dir', str(tmp_path / 'eval'),
                  env=dict(PYTHONPATH=f'{extension}:{REPO}'))
    assert tested.returncode == 0, tested.stderr[-3000:]
    assert 'davis: J&F-Mean' in tested.stdout
    assert 'TwoLayerEncoder' in (tmp_path / 'eval' / 'davis' / 'propagation.json').read_text()


def test_without_custom_imports_the_type_is_one_clear_error(tool, tmp_path):
    config = tmp_path / 'no_import.py'
    config.write_text(textwrap.dedent(f'''
        _base_ = ['{REPO}/configs/train/corrflow_r18_demo.py']
        model = dict(backbone=dict(_delete_=True, type='TwoLayerEncoder'))
    '''))
    result = tool('tools/train.py', str(config), '--work-dir', str(tmp_path / 'work'))
    assert result.returncode == 1 and 'Traceback' not in result.stderr
    assert 'TwoLayerEncoder' in result.stderr


def test_the_extension_registers_into_corrflow_registries(extension, monkeypatch):
    monkeypatch.syspath_prepend(str(extension))
    module = importlib.import_module('my_corrflow_ext')
    assert MODELS.get('TwoLayerEncoder') is module.TwoLayerEncoder
    assert DATASETS.get('FewSyntheticVideos') is module.FewSyntheticVideos
    encoder = MODELS.build(dict(type='TwoLayerEncoder', width=8))
    assert encoder(torch.zeros(1, 3, 32, 32)).shape == (1, 256, 8, 8)
    assert np.all(module.InvertColours()(dict(frames=[np.zeros((2, 2, 3), np.uint8)]))
                  ['frames'][0] == 255)
