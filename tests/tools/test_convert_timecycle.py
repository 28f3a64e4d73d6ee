"""tools/convert_timecycle_checkpoint.py on a synthetic file with the release's names and shapes."""
import importlib.util
from collections import OrderedDict
from pathlib import Path

import pytest
import torch
import torchvision

from corrflow.registry import MODELS
from corrflow.utils import CheckpointError, load_checkpoint_file, load_model_weights
from corrflow.utils.convert import timecycle_release_key
from corrflow.utils.release_conversion import convert_release

REPO = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location(
    'convert_timecycle_checkpoint', REPO / 'tools' / 'convert_timecycle_checkpoint.py')
tool = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(tool)

TRACKER = {'tracker.conv1.weight': 'module.afterconv3_trans.weight',
           'tracker.conv2.weight': 'module.afterconv4_trans.weight',
           'tracker.fc.weight': 'module.linear2.weight', 'tracker.fc.bias': 'module.linear2.bias'}


def release_state(with_counters: bool = True, seed: int = 0):
    """The release's state dict (names, 5-D conv shapes, layer4), random values, and the truth."""
    torch.manual_seed(seed)
    model = MODELS.build(tool.TIMECYCLE_RELEASE.model)
    truth = {k: (torch.randn_like(v) if v.is_floating_point() else v + 3)
             for k, v in model.state_dict().items()}
    state = OrderedDict()
    for key, value in truth.items():
        if key.startswith('backbone.'):
            if key.endswith('num_batches_tracked') and not with_counters:
                continue
            name = 'module.encoderVideo.' + key[len('backbone.'):]
        elif key == 'neck.conv.weight':
            name = 'module.afterconv1.weight'
        else:
            name = TRACKER[key]
        inflated = value.dim() == 4 and not key.startswith('tracker.')
        state[name] = value.unsqueeze(2).clone() if inflated else value.clone()
    layer4 = torchvision.models.resnet50(weights=None).layer4.state_dict()
    for key, value in layer4.items():  # saved by the release, never used
        state[f'module.encoderVideo.layer4.{key}'] = (value.unsqueeze(2) if value.dim() == 4
                                                      else value)
    return state, truth


def test_release_names_and_shapes():
    state, _ = release_state()
    assert state['module.encoderVideo.conv1.weight'].shape == (64, 3, 1, 7, 7)
    assert state['module.encoderVideo.layer3.0.downsample.0.weight'].shape == (1024, 512, 1, 1, 1)
    assert state['module.afterconv1.weight'].shape == (512, 1024, 1, 1, 1)
    assert state['module.afterconv3_trans.weight'].shape == (128, 900, 4, 4)
    assert state['module.linear2.weight'].shape == (3, 1024)
    assert timecycle_release_key('module.encoderVideo.layer4.0.conv1.weight') is None
    assert timecycle_release_key('encoderVideo.layer2.1.bn3.running_var') == \
        'backbone.layer2.1.bn3.running_var'


@pytest.mark.parametrize('with_counters', [True, False], ids=['counters', 'no-counters'])
def test_conversion_round_trips(tmp_path, capsys, with_counters):
    state, truth = release_state(with_counters)
    src = tmp_path / 'checkpoint_14.pth.tar'
    torch.save(dict(epoch=14, state_dict=state), src)
    dst = tmp_path / 'timecycle_r50.pth'
    assert tool.main([str(src), str(dst)]) == 0
    out = capsys.readouterr().out
    assert 'dropped: epoch' in out
    model = MODELS.build(tool.TIMECYCLE_RELEASE.model)
    info = load_model_weights(model, dst)
    for key, value in model.state_dict().items():
        if key.endswith('num_batches_tracked') and not with_counters:
            assert int(value) == 0
            continue
        assert torch.equal(value, truth[key]), key
    meta = info['meta']
    assert meta['source_epoch'] == 14 and meta['unmatched_keys'] == []
    assert bool(meta['filled_defaults']) != with_counters
    assert not any('layer4' in k for k in meta['converted_keys'].values())
    # the encoder of the test config takes backbone and neck; the tracker is reported unused
    from corrflow.apis import init_model
    propagator = init_model(REPO / 'configs' / 'test' / 'timecycle_davis.py', dst)
    torch.testing.assert_close(propagator.neck.conv.weight, truth['neck.conv.weight'])
    # converting back gives the release tensors again (the round trip)
    saved = load_checkpoint_file(dst)['state_dict']
    for key, value in saved.items():
        name = meta['converted_keys'].get(key)
        if name is not None:
            assert torch.equal(value, state[name].reshape(value.shape)), key


def test_a_release_of_another_architecture_is_refused(tmp_path, capsys):
    state, _ = release_state()
    state['module.afterconv1.weight'] = torch.zeros(256, 1024, 1, 1, 1)
    del state['module.encoderVideo.layer3.5.conv3.weight']
    src = tmp_path / 'other.pth'
    torch.save(dict(state_dict=state), src)
    assert tool.main([str(src), str(tmp_path / 'out.pth')]) == 1
    err = capsys.readouterr().err
    assert 'missing: backbone.layer3.5.conv3.weight' in err
    assert 'shape: neck.conv.weight is (256, 1024, 1, 1)' in err
    assert err.strip().splitlines()[-1].startswith('error: ') and 'nothing written' in err
    assert not (tmp_path / 'out.pth').exists()
    # the library function prints nothing: the problems travel with the error
    with pytest.raises(CheckpointError, match='nothing written') as info:
        convert_release(str(src), str(tmp_path / 'out.pth'), tool.TIMECYCLE_RELEASE)
    assert info.value.problems[0].startswith('missing: backbone.layer3.5.conv3.weight')
    assert capsys.readouterr() == ('', '')
