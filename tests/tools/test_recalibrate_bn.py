"""tools/analysis/recalibrate_bn.py on the demo config: a release file in, a release file out."""
import json

import torch

from corrflow.registry import MODELS
from corrflow.utils import load_checkpoint_file

TOOL = 'tools/analysis/recalibrate_bn.py'
DEMO = 'configs/train/corrflow_r18_demo.py'
SMALL = ['--num-batches', '2', '--batch-size', '2', '--cfg-options',
         'train_dataloader.dataset.datasets.0.size=[48,48]']


def release_file(path):
    """A float16 release file (backbone and neck) of a freshly built CorrFlow model."""
    torch.manual_seed(0)
    model = MODELS.build(dict(type='RecursiveFlow', backbone=dict(type='CorrFlowResNet'),
                              neck=dict(type='EmbeddingProjection'),
                              head=dict(type='RestrictedAttentionHead')))
    state = {k: v.half() if v.is_floating_point() else v for k, v in model.state_dict().items()}
    torch.save(state, path)
    return state


def test_release_file_is_recalibrated_in_place_of_its_statistics(tool, tmp_path):
    src = tmp_path / 'weights.pth'
    state = release_file(src)
    out = tmp_path / 'recalibrated.pth'
    result = tool(TOOL, DEMO, str(src), str(out), *SMALL)
    assert result.returncode == 0, result.stderr[-3000:]
    assert 'batch-norm layers re-estimated on 2 batches of 2 clean clips (seed 0)' in result.stdout
    new = load_checkpoint_file(out)
    assert set(new) == set(state)
    changed = set()
    for key, value in state.items():
        assert new[key].dtype == value.dtype, key  # a float16 release stays float16
        if not torch.equal(new[key], value):
            changed.add(key.rsplit('.', 1)[-1])
    assert changed == {'running_mean', 'running_var', 'num_batches_tracked'}
    record = json.loads((tmp_path / 'recalibrated.pth.json').read_text())
    assert record['num_batches'] == 2 and record['batch_size'] == 2 and record['seed'] == 0
    assert record['layers'] == 19 and record['recalibrated_from'] == 'weights.pth'

    again = tmp_path / 'again.pth'
    assert tool(TOOL, DEMO, str(src), str(again), *SMALL).returncode == 0
    repeat = load_checkpoint_file(again)
    assert all(torch.equal(repeat[k], new[k]) for k in new)  # the same clips, the same result


def one_error(result, message):
    assert result.returncode == 1
    assert 'Traceback' not in result.stderr, result.stderr[-2000:]
    lines = [line for line in result.stderr.splitlines() if line.startswith('error:')]
    assert len(lines) == 1 and message in lines[0], result.stderr[-2000:]


def test_bad_input_is_one_clear_error(tool, tmp_path):
    src = tmp_path / 'weights.pth'
    release_file(src)
    one_error(tool(TOOL, DEMO, str(src), str(src), *SMALL), 'OUT is the checkpoint itself')
    one_error(tool(TOOL, 'configs/test/corrflow_davis.py', str(src), str(tmp_path / 'o.pth')),
              'has no train_dataloader')
    torch.save({'backbone.conv1.weight': torch.zeros(3, 3)}, tmp_path / 'other.pth')
    one_error(tool(TOOL, DEMO, str(tmp_path / 'other.pth'), str(tmp_path / 'o.pth'), *SMALL),
              'does not fit the model of the config')
    (tmp_path / 'text.pth').write_text('not a checkpoint')
    one_error(tool(TOOL, DEMO, str(tmp_path / 'text.pth'), str(tmp_path / 'o.pth'), *SMALL),
              'is a text file')
    assert not (tmp_path / 'o.pth').exists()
