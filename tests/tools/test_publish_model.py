"""tools/publish_model.py: training checkpoint -> fp16 release weights."""
import importlib.util
import json
from pathlib import Path

import pytest
import torch
from mmengine.config import Config

from corrflow.registry import MODELS
from corrflow.utils import load_model_weights

REPO_ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location('publish_model',
                                               REPO_ROOT / 'tools' / 'publish_model.py')
publish_tool = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(publish_tool)


def training_checkpoint(path: Path) -> Path:
    """What tools/train.py writes: model state, optimizer state, meta."""
    torch.manual_seed(3)
    cfg = Config.fromfile(str(REPO_ROOT / 'configs/train/corrflow_r18_demo.py'))
    model = MODELS.build(cfg.model)
    optim = torch.optim.Adam(model.parameters(), lr=1e-3)
    model.train()
    loss = sum(p.sum() for p in model.parameters())
    loss.backward()
    optim.step()
    torch.save(dict(state_dict=model.state_dict(), optimizer=optim.state_dict(),
                    meta=dict(iter=7, epoch=0)), path)
    return path


def propagator():
    return MODELS.build(Config.fromfile(str(REPO_ROOT / 'configs/test/corrflow_davis.py')).model)


def test_publish_writes_fp16_state_dict_that_loads(tmp_path, capsys):
    src = training_checkpoint(tmp_path / 'iter_7.pth')
    dst = tmp_path / 'release' / 'model.pth'
    assert publish_tool.main([str(src), str(dst)]) == 0
    assert 'float16' in capsys.readouterr().out

    state = torch.load(dst, weights_only=True)
    assert all(isinstance(v, torch.Tensor) for v in state.values())
    assert all(k.startswith(('backbone.', 'neck.')) for k in state)
    assert {v.dtype for v in state.values() if v.is_floating_point()} == {torch.float16}
    assert dst.stat().st_size < 0.55 * src.stat().st_size / 3  # no optimizer, half precision

    source = torch.load(src, weights_only=True)['state_dict']
    for key, value in state.items():
        torch.testing.assert_close(value.to(source[key].dtype), source[key], rtol=1e-3, atol=1e-4)

    model = propagator()
    load_model_weights(model, dst)
    meta = json.loads(Path(f'{dst}.json').read_text())
    assert meta['iteration'] == 7 and meta['dtype'] == 'float16'
    assert meta['num_tensors'] == len(state) == len(model.state_dict())


def test_publish_fp32_keeps_exact_values(tmp_path):
    src = training_checkpoint(tmp_path / 'iter_7.pth')
    dst = tmp_path / 'model32.pth'
    assert publish_tool.main([str(src), str(dst), '--fp32']) == 0
    state = torch.load(dst, weights_only=True)
    source = torch.load(src, weights_only=True)['state_dict']
    assert all(torch.equal(v, source[k]) for k, v in state.items())


@pytest.mark.parametrize('case', ['wrong_architecture', 'no_weights', 'missing'])
def test_publish_refuses_bad_input(tmp_path, capsys, case):
    dst = tmp_path / 'out.pth'
    args = []
    if case == 'wrong_architecture':
        other = MODELS.build(dict(type='TorchvisionResNet', depth=18))
        torch.save(dict(state_dict={f'backbone.{k}': v for k, v in other.state_dict().items()}),
                   tmp_path / 'other.pth')
        args = [str(tmp_path / 'other.pth'), str(dst)]
    elif case == 'no_weights':
        args = [str(training_checkpoint(tmp_path / 'a.pth')), str(dst), '--config',
                str(REPO_ROOT / 'configs/test/pixel_lab_raw_davis.py')]
    else:
        args = [str(tmp_path / 'nope.pth'), str(dst)]
    assert publish_tool.main(args) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith('error: ')
    assert not dst.exists()
