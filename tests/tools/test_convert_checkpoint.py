"""tools/convert_corrflow_checkpoint.py and corrflow.utils.convert on a synthetic release file."""
import argparse
import importlib.util
from collections import OrderedDict
from pathlib import Path

import pytest
import torch

from helpers import write_davis_layout

from corrflow.registry import MODELS
from corrflow.utils import load_checkpoint_file, load_model_weights
from corrflow.utils.convert import convert_corrflow_state_dict, corrflow_release_key

REPO_ROOT = Path(__file__).resolve().parents[2]
TOOL = REPO_ROOT / 'tools' / 'convert_corrflow_checkpoint.py'

_spec = importlib.util.spec_from_file_location('convert_corrflow_checkpoint', TOOL)
convert_tool = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(convert_tool)

_BLOCK = {'conv1': 'left.0', 'bn1': 'left.1', 'conv2': 'left.3', 'bn2': 'left.4',
          'downsample.0': 'shortcut.0', 'downsample.1': 'shortcut.1'}


def release_name(key: str) -> str:
    """The release's name of a corrflow key, written out independently of the converter."""
    parts = key.split('.')
    if parts[0] == 'neck':
        return f'module.post_convolution.{parts[-1]}'
    if parts[1] in ('conv1', 'bn1'):
        return f'module.feature_extraction.conv1.{0 if parts[1] == "conv1" else 1}.{parts[-1]}'
    layer, block, *module, entry = parts[1:]
    return (f'module.feature_extraction.{layer}.{block}.{_BLOCK[".".join(module)]}.{entry}')


def propagator() -> torch.nn.Module:
    return MODELS.build(dict(type='LabelPropagator', backbone=dict(type='CorrFlowResNet'),
                             neck=dict(type='EmbeddingProjection')))


def release_state(seed: int = 0) -> tuple[OrderedDict, dict]:
    """A release-format state dict with random weights and running statistics, and the truth."""
    torch.manual_seed(seed)
    truth = {k: (torch.randn_like(v) if v.is_floating_point() else v + 7)
             for k, v in propagator().state_dict().items()}
    return OrderedDict((release_name(k), v.clone()) for k, v in truth.items()), truth


def save_release(path: Path, state: OrderedDict, legacy: bool = False, **extra) -> Path:
    """Save as the release does: {'epoch', 'state_dict', 'optimizer'} with an Adam state."""
    params = [v for k, v in state.items() if v.is_floating_point() and 'running' not in k]
    optimizer = torch.optim.Adam([torch.nn.Parameter(p.clone()) for p in params[:3]], lr=2e-4)
    optimizer.zero_grad()
    sum(p.sum() for group in optimizer.param_groups for p in group['params']).backward()
    optimizer.step()
    torch.save(dict(epoch=9, state_dict=state, optimizer=optimizer.state_dict(), **extra), path,
               _use_new_zipfile_serialization=not legacy)
    return path


def test_every_release_key_is_mapped_and_inverse_of_the_test_names():
    state, truth = release_state()
    converted, unmatched = convert_corrflow_state_dict(state)
    assert unmatched == []
    assert list(converted) == list(truth)
    assert all(converted[k] is state[release_name(k)] for k in truth)  # renamed, not copied
    assert corrflow_release_key('feature_extraction.layer2.0.shortcut.1.running_var') == \
        'backbone.layer2.0.downsample.1.running_var'  # without the DataParallel prefix
    assert corrflow_release_key('module.colorizer.something') is None


def test_unmatched_and_duplicate_keys():
    state, _ = release_state()
    state['module.colorizer.scale'] = torch.ones(1)
    state['module.feature_extraction.layer1.0.left.0.bias'] = torch.zeros(64)  # no such entry
    _, unmatched = convert_corrflow_state_dict(state)
    assert unmatched == ['module.colorizer.scale', 'module.feature_extraction.layer1.0.left.0.bias']
    state['post_convolution.bias'] = torch.zeros(64)  # the same tensor under a second name
    with pytest.raises(ValueError, match='both map to'):
        convert_corrflow_state_dict(state)
    with pytest.raises(ValueError, match='not a tensor'):
        convert_corrflow_state_dict({'module.post_convolution.bias': 3})


@pytest.mark.parametrize('legacy', [False, True], ids=['zip', 'legacy-format'])
def test_converted_checkpoint_loads_with_identical_tensors(tmp_path, capsys, legacy):
    state, truth = release_state(seed=1)
    state['module.colorizer.extra'] = torch.zeros(2)
    src = save_release(tmp_path / 'corrflow.pth', state, legacy=legacy)
    dst = tmp_path / 'out' / 'corrflow_r18.pth'
    assert convert_tool.main([str(src), str(dst)]) == 0
    out, err = capsys.readouterr()
    assert 'converted 116 tensors' in out and 'dropped: epoch, optimizer' in out
    assert 'not converted: module.colorizer.extra' in err
    model = propagator()
    info = load_model_weights(model, dst)
    for key, value in model.state_dict().items():
        assert torch.equal(value, truth[key]), key
    meta = info['meta']
    assert meta['source_epoch'] == 9 and meta['unmatched_keys'] == ['module.colorizer.extra']
    assert meta['converted_keys']['neck.conv.weight'] == 'module.post_convolution.weight'
    assert set(load_checkpoint_file(dst)) == {'state_dict', 'meta'}


def test_fp16(tmp_path):
    state, truth = release_state(seed=2)
    src = save_release(tmp_path / 'corrflow.pth', state)
    dst = tmp_path / 'half.pth'
    assert convert_tool.main([str(src), str(dst), '--fp16']) == 0
    saved = load_checkpoint_file(dst)['state_dict']
    assert saved['backbone.conv1.weight'].dtype == torch.float16
    assert saved['backbone.bn1.num_batches_tracked'].dtype == torch.int64
    model = propagator()
    load_model_weights(model, dst)
    assert torch.equal(model.state_dict()['neck.conv.bias'], truth['neck.conv.bias'].half().float())


def test_wrong_architecture_is_refused(tmp_path, capsys):
    state, _ = release_state()
    state['module.post_convolution.weight'] = torch.zeros(128, 256, 3, 3)  # a 128-d embedding
    del state['module.feature_extraction.layer3.0.shortcut.0.weight']
    state['module.feature_extraction.layer5.0.left.0.weight'] = torch.zeros(8, 8, 3, 3)
    src = save_release(tmp_path / 'other.pth', state)
    dst = tmp_path / 'out.pth'
    assert convert_tool.main([str(src), str(dst)]) == 1
    err = capsys.readouterr().err
    assert 'missing: backbone.layer3.0.downsample.0.weight' in err
    assert 'shape: neck.conv.weight is (128, 256, 3, 3)' in err
    assert 'unexpected: backbone.layer5.0.conv1.weight' in err
    assert err.strip().splitlines()[-1].startswith('error: ')
    assert 'nothing written' in err and not dst.exists()


def test_unsafe_or_foreign_files_are_refused(tmp_path, capsys):
    state, _ = release_state()
    src = save_release(tmp_path / 'args.pth', state, args=argparse.Namespace(lr=2e-4))
    assert convert_tool.main([str(src), str(tmp_path / 'a.pth')]) == 1
    assert 'refused' in capsys.readouterr().err and not (tmp_path / 'a.pth').exists()
    ours = tmp_path / 'ours.pth'
    torch.save(dict(state_dict=propagator().state_dict()), ours)
    assert convert_tool.main([str(ours), str(tmp_path / 'b.pth')]) == 1
    assert 'already looks like a corrflow checkpoint' in capsys.readouterr().err
    assert convert_tool.main([str(tmp_path / 'none.pth'), str(tmp_path / 'c.pth')]) == 1
    assert 'does not exist' in capsys.readouterr().err
    assert convert_tool.main([str(src), str(src)]) == 1
    assert capsys.readouterr().err.startswith('error: DST is the source file')


def test_test_tool_accepts_the_result(tmp_path, tool):
    state, _ = release_state(seed=3)
    src = save_release(tmp_path / 'corrflow.pth', state)
    dst = tmp_path / 'converted.pth'
    assert convert_tool.main([str(src), str(dst)]) == 0
    davis = write_davis_layout(tmp_path / 'davis', sequences=('seq-a',), frames=3)
    proc = tool('tools/test.py', 'configs/test/corrflow_davis.py', 'davis', str(dst),
                '--data-root', str(davis), '--work-dir', str(tmp_path / 'eval'))
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert (tmp_path / 'eval' / 'davis' / 'global_results-val.csv').is_file()
