"""tools/convert_spa_then_temp_checkpoint.py on synthetic files with the release's names, shapes."""
import importlib.util
import re
from collections import OrderedDict
from pathlib import Path

import pytest
import torch

from corrflow.registry import MODELS
from corrflow.utils import load_model_weights

REPO = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location(
    'convert_spa_then_temp_checkpoint', REPO / 'tools' / 'convert_spa_then_temp_checkpoint.py')
tool = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(tool)


def release_name(key: str) -> str:
    """The release's ConvModule name of a corrflow student key, written out independently."""
    key = key.replace('backbone.conv1.weight', 'backbone.conv1.conv.weight')
    key = re.sub(r'^backbone\.bn1\.', 'backbone.conv1.bn.', key)
    key = re.sub(r'\.conv(\d)\.weight$', r'.conv\1.conv.weight', key)
    key = re.sub(r'\.bn(\d)\.', r'.conv\1.bn.', key)
    key = key.replace('.downsample.0.weight', '.downsample.conv.weight')
    return re.sub(r'\.downsample\.1\.', '.downsample.bn.', key)


def release_state(depth: int, seed: int = 0):
    torch.manual_seed(seed)
    student = MODELS.build(dict(type='TorchvisionResNet', depth=depth, strides=(1, 2, 2, 4),
                                out_stage=4, stem_pool='none'))
    truth = {f'backbone.{k}': (torch.randn_like(v) if v.is_floating_point() else v + 5)
             for k, v in student.state_dict().items()}
    state = OrderedDict((release_name(k), v.clone()) for k, v in truth.items())
    for key, value in list(state.items())[:6]:  # a training checkpoint also holds the teacher
        state[key.replace('backbone.', 'backbone_t.', 1)] = torch.zeros_like(value)
    return state, truth


@pytest.mark.parametrize('depth', [18, 50])
def test_release_round_trips_into_the_test_and_training_students(tmp_path, capsys, depth):
    state, truth = release_state(depth)
    assert 'backbone.layer1.0.conv1.conv.weight' in state
    assert 'backbone.layer2.0.downsample.bn.running_var' in state
    src = tmp_path / f'res{depth}_d8_temp.pth'
    torch.save(dict(meta=dict(epoch=800), state_dict=state), src)
    dst = tmp_path / 'converted.pth'
    assert tool.main([str(src), str(dst)]) == 0
    out, err = capsys.readouterr()
    assert f'TorchvisionResNet-{depth}' in out and 'warning' not in err
    from corrflow.apis import init_model
    for variant in ('d8', 'd4'):
        propagator = init_model(REPO / 'configs' / 'test' / f'spa_then_temp_r{depth}_{variant}.py',
                                dst)
        for key, value in propagator.state_dict().items():
            assert torch.equal(value, truth[key]), key
    student = MODELS.build(dict(type='TorchvisionResNet', depth=depth, strides=(1, 2, 2, 4),
                                out_stage=4, stem_pool='none'))
    wrapped = torch.nn.Module()
    wrapped.backbone = student
    info = load_model_weights(wrapped, dst)
    assert info['meta']['unmatched_keys'] == []
    assert all(torch.equal(v, truth[f'backbone.{k}']) for k, v in student.state_dict().items())


def test_a_file_that_is_no_release_is_one_error(tmp_path, capsys):
    torch.save(dict(state_dict={'encoder.weight': torch.zeros(2)}), tmp_path / 'other.pth')
    assert tool.main([str(tmp_path / 'other.pth'), str(tmp_path / 'out.pth')]) == 1
    err = capsys.readouterr().err
    assert err.strip().startswith('error: ') and 'not a Spa-then-Temp release' in err
