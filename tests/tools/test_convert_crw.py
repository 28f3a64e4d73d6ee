"""tools/convert_crw_checkpoint.py on a synthetic file with the release's keys and shapes."""
import argparse
import importlib.util
from collections import OrderedDict
from pathlib import Path

import torch
from mmengine.config import Config

from corrflow.registry import MODELS
from corrflow.utils import load_checkpoint_file, load_model_weights

REPO = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location('convert_crw_checkpoint',
                                               REPO / 'tools' / 'convert_crw_checkpoint.py')
tool = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(tool)


def release(tmp_path, padded_convs=False, seed=0):
    """pretrained.pth as ajabri/videowalk's train.py saves it, random values; and the truth."""
    torch.manual_seed(seed)
    model = MODELS.build(tool.CRW_RELEASE.model)
    truth = {k: (torch.randn_like(v) if v.is_floating_point() else v + 7)
             for k, v in model.state_dict().items()}
    state = OrderedDict()
    for key, value in truth.items():
        if key.startswith('backbone.'):
            name = 'encoder.model.' + key[len('backbone.'):]
            if padded_convs and name.endswith(('conv1.weight', 'conv2.weight')) and \
                    '.layer' in name:
                name = name.replace('.weight', '.1.weight')
        else:
            name = 'selfsim_fc.' + key[len('head.layers.'):]
        state[name] = value.clone()
    ckpt = dict(model=state, optimizer=dict(state={}, param_groups=[dict(lr=1e-4)]),
                lr_scheduler=dict(milestones={}, last_epoch=3), epoch=3,
                args=argparse.Namespace(temp=0.05, dropout=0.1, clip_len=4, remove_layers=[]))
    path = tmp_path / 'pretrained.pth'
    torch.save(ckpt, path)
    return path, truth


def test_release_names_and_shapes(tmp_path):
    path, _ = release(tmp_path)
    state = torch.load(path, weights_only=False)['model']
    assert state['encoder.model.conv1.weight'].shape == (64, 3, 7, 7)
    assert state['encoder.model.layer3.0.downsample.0.weight'].shape == (256, 128, 1, 1)
    assert state['encoder.model.layer4.1.bn2.running_var'].shape == (512,)
    assert state['selfsim_fc.0.weight'].shape == (128, 512)
    assert tool.crw_key('module.selfsim_fc.0.bias') == 'head.layers.0.bias'
    assert tool.crw_key('encoder.model.layer1.0.conv2.1.weight') == 'backbone.layer1.0.conv2.weight'
    assert tool.crw_key('encoder.fc.weight') is None


def test_conversion_is_exact_and_loads_into_the_test_config(tmp_path, tool):
    for padded in (False, True):
        src, truth = release(tmp_path, padded_convs=padded)
        dst = tmp_path / f'crw_{padded}.pth'
        run = tool('tools/convert_crw_checkpoint.py', str(src), str(dst))
        assert run.returncode == 0, run.stderr
        assert 'dropped: args, epoch, lr_scheduler, optimizer' in run.stdout
        ckpt = load_checkpoint_file(dst)
        assert set(ckpt['state_dict']) == set(truth)
        for key, value in truth.items():
            assert torch.equal(ckpt['state_dict'][key], value), key
        assert ckpt['meta']['converted_keys']['head.layers.0.weight'] == 'selfsim_fc.0.weight'
    propagator = MODELS.build(Config.fromfile(str(REPO / 'configs/test/crw_r18_davis.py')).model)
    info = load_model_weights(propagator, str(dst))
    assert any(k.startswith('backbone.layer4.') for k in info['unused'])
    assert torch.equal(propagator.backbone.layer3[1].conv2.weight,
                       truth['backbone.layer3.1.conv2.weight'])
    # the encoder alone, straight from the release
    backbone = MODELS.build(dict(type='TorchvisionResNet', depth=18, strides=(1, 2, 1, 1),
                                 out_stage=3, padding_mode='reflect', checkpoint=str(src),
                                 key_map='crw'))
    assert torch.equal(backbone.conv1.weight, truth['backbone.conv1.weight'])


def test_a_wrong_file_is_refused_with_its_keys(tmp_path, tool):
    src, _ = release(tmp_path)
    ckpt = torch.load(src, weights_only=False)
    ckpt['model']['selfsim_fc.0.weight'] = torch.zeros(128, 256)  # a layer3-only head
    del ckpt['model']['encoder.model.layer4.1.conv2.weight']
    torch.save(ckpt, tmp_path / 'bad.pth')
    run = tool('tools/convert_crw_checkpoint.py', str(tmp_path / 'bad.pth'),
               str(tmp_path / 'out.pth'))
    assert run.returncode == 1 and not (tmp_path / 'out.pth').exists()
    assert 'missing: backbone.layer4.1.conv2.weight' in run.stderr
    assert 'shape: head.layers.0.weight is (128, 256)' in run.stderr
    assert run.stderr.strip().splitlines()[-1].startswith('error: ')
