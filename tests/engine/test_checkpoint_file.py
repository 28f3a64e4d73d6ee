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
    ('junk bytes', 'is neither a zip nor a pickle'),
    ('damaged pickle', 'it is not a PyTorch checkpoint, or it is corrupted'),
    ('truncated', r'could not be read \(the archive is incomplete or damaged'),
    ('text', 'is a text file'),
    ('html', 'is an HTML/XML page, not weights'),
    ('lfs pointer', 'is a Git LFS pointer, not the weights'),
    ('empty', 'is an empty file'),
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
    elif kind == 'damaged pickle':  # a pickle opcode, then bytes that reference no memo
        path.write_bytes(b'\x80\x02' + b'hello world' * 3)
    elif kind == 'text':
        path.write_text('hello world\n')
    elif kind == 'html':
        path.write_text('<!DOCTYPE html>\n<html><body>Not Found</body></html>\n')
    elif kind == 'lfs pointer':
        path.write_text('version https://git-lfs.github.com/spec/v1\noid sha256:' + '0' * 64 +
                        '\nsize 10632337\n')
    elif kind == 'empty':
        path.write_bytes(b'')
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
