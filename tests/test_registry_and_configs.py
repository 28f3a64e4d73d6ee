"""Every registry location imports; every config loads and builds its model."""
import importlib
from pathlib import Path

import pytest
from mmengine.config import Config

from corrflow import registry
from corrflow.registry import MODELS

REPO = Path(__file__).resolve().parents[1]
CONFIGS = sorted(p for p in (REPO / 'configs').rglob('*.py') if '_base_' not in p.parts)
BASES = sorted((REPO / 'configs' / '_base_').rglob('*.py'))


def test_every_registry_location_imports():
    nodes = [getattr(registry, name) for name in registry.__all__]
    locations = {loc for node in nodes for loc in (node._locations or [])}
    assert locations == {'corrflow.models', 'corrflow.datasets', 'corrflow.evaluation.metrics',
                         'corrflow.engine'}
    for loc in locations:
        importlib.import_module(loc)
    for node in nodes:
        assert node.scope == 'corrflow'
        assert node.parent is not None and node.parent.scope == 'mmengine'


@pytest.mark.parametrize('name,node', [
    ('RecursiveFlow', 'MODELS'), ('LabelPropagator', 'MODELS'), ('CorrFlowResNet', 'MODELS'),
    ('TorchvisionResNet', 'MODELS'), ('PixelColourEncoder', 'MODELS'),
    ('ColourBottleneck', 'MODELS'), ('EmbeddingProjection', 'MODELS'),
    ('RestrictedAttentionHead', 'MODELS'), ('ClipDataPreprocessor', 'MODELS'),
    ('VideoDataPreprocessor', 'MODELS'), ('CorrFlowPropagation', 'TASK_UTILS'),
    ('TopKMemoryPropagation', 'TASK_UTILS'), ('KineticsClips', 'DATASETS'),
    ('OxUvAClips', 'DATASETS'), ('YouTubeVOSClips', 'DATASETS'), ('VideoFolder', 'DATASETS'),
    ('SyntheticVideos', 'DATASETS'), ('DAVISVideos', 'DATASETS'), ('JHMDBVideos', 'DATASETS'),
    ('VIPVideos', 'DATASETS'), ('DAVISMetric', 'METRICS'), ('JHMDBMetric', 'METRICS'),
    ('VIPMetric', 'METRICS'), ('ScheduledSamplingHook', 'HOOKS'),
    ('ReconstructionVisualizationHook', 'HOOKS'), ('VideoProgressHook', 'HOOKS'),
    ('ResumableIterBasedTrainLoop', 'LOOPS'), ('ResumableInfiniteSampler', 'DATA_SAMPLERS'),
    ('sample_list_collate', 'FUNCTIONS'), ('SampleMultiStepLR', 'PARAM_SCHEDULERS'),
    ('CRW', 'MODELS'), ('CycleWalkLoss', 'MODELS'), ('NodeProjection', 'MODELS'),
    ('TimmViT', 'MODELS'), ('PatchGrid', 'TRANSFORMS'),
])
def test_components_are_registered(name, node):
    assert getattr(registry, node).get(name) is not None


@pytest.mark.parametrize('path', BASES + CONFIGS, ids=lambda p: str(p.relative_to(REPO)))
def test_config_loads(path):
    cfg = Config.fromfile(str(path))
    assert cfg is not None


@pytest.mark.parametrize('path', CONFIGS, ids=lambda p: str(p.relative_to(REPO)))
def test_config_builds_its_model(path):
    cfg = Config.fromfile(str(path))
    assert cfg.default_scope == 'corrflow'
    model = MODELS.build(cfg.model)
    num_params = sum(p.numel() for p in model.parameters())
    if path.name.startswith('pixel_'):  # the colour baseline has nothing to learn
        assert num_params == 0 and type(model.backbone).__name__ == 'PixelColourEncoder'
    else:
        assert num_params > 2.5e6  # a ResNet encoder (ResNet-18 to layer3 is the smallest)
    if 'configs/test' in str(path):
        assert cfg.task in ('davis', 'ytvos', 'jhmdb', 'vip')
        assert type(model).__name__ == 'LabelPropagator'
    else:
        assert type(model).__name__ in ('RecursiveFlow', 'TimeCycle', 'SpaThenTemp', 'CRW')
        assert cfg.train_dataloader.collate_fn.type == 'corrflow.sample_list_collate'


TRAIN_CONFIGS = [p for p in CONFIGS if 'configs/train' in str(p)]


@pytest.mark.parametrize('path', TRAIN_CONFIGS, ids=lambda p: str(p.relative_to(REPO)))
def test_a_trained_model_fills_the_test_config_it_names(path):
    """tools/train.py ends by suggesting `test_config`: the trained weights must fit it."""
    cfg = Config.fromfile(str(path))
    test_config = cfg.get('test_config', 'configs/test/corrflow_davis.py')
    assert (REPO / test_config).is_file(), f'{path.name} names a missing {test_config}'
    model = MODELS.build(cfg.model)
    trained = model.state_dict()
    propagator = MODELS.build(Config.fromfile(str(REPO / test_config)).model).state_dict()
    assert propagator
    missing = [k for k in propagator if k not in trained]
    wrong = [k for k in propagator if k in trained and trained[k].shape != propagator[k].shape]
    assert not missing and not wrong, (test_config, missing[:3], wrong[:3])
    family = type(model).__name__
    expected = {'RecursiveFlow': 'corrflow_', 'TimeCycle': 'timecycle_',
                'SpaThenTemp': 'spa_then_temp_', 'CRW': 'crw_'}[family]
    assert Path(test_config).name.startswith(expected)
