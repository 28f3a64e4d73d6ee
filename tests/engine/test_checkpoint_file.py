"""load_checkpoint_file: one clear error for each kind of file that is not a safe checkpoint."""
import os

import pytest
import torch

from corrflow.utils.checkpoint import CheckpointError, load_checkpoint_file


class _RunsCode:
    def __reduce__(self):
        return (os.getpid, ())


def test_plain_checkpoint_loads(tmp_path):
    path = tmp_path / 'ok.pth'
    torch.save(dict(state_dict={'w': torch.ones(2)}), path)
    assert torch.equal(load_checkpoint_file(path)['state_dict']['w'], torch.ones(2))


@pytest.mark.parametrize('kind, message', [
    ('code', 'was refused: it contains objects that are not plain tensors'),
    ('junk bytes', 'it is not a PyTorch checkpoint, or it is corrupted'),
    ('truncated', 'could not be read'),
    ('missing', 'does not exist'),
    ('list', 'holds a list, expected a dict'),
    ('nan', r'holds weights that are not finite: 1 tensors \(e.g. backbone.w, 1 of its 4 values'),
    ('inf', r'holds weights that are not finite: 1 tensors \(e.g. backbone.w, 2 of its 4 values'),
])
def test_bad_files_one_error(tmp_path, kind, message):
    path = tmp_path / 'x.pth'
    if kind == 'code':
        torch.save({'x': _RunsCode()}, path)
    elif kind == 'junk bytes':
        path.write_bytes(bytes(range(100, 256)) * 10)  # fixed, not a pickle
    elif kind == 'truncated':
        torch.save({'w': torch.ones(1000)}, path)
        path.write_bytes(path.read_bytes()[:500])
    elif kind == 'list':
        torch.save([torch.ones(2)], path)
    elif kind in ('nan', 'inf'):
        w = torch.ones(4, dtype=torch.float16)
        w[1:3 if kind == 'inf' else 2] = float(kind)
        torch.save(dict(state_dict={'backbone.w': w, 'backbone.steps': torch.tensor(3)}), path)
    with pytest.raises(CheckpointError, match=message) as info:
        load_checkpoint_file(path)
    assert str(path) in str(info.value) and '\n' not in str(info.value)
