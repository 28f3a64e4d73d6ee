"""tools/train.py on the reduced Spa-then-Temp config: 4 iterations on a CPU with a small
teacher, each loss term logged; the teacher's bad inputs as one error line each."""
import re

import torch
import torchvision

from helpers import write_random_corrflow_checkpoint
from test_timecycle_train import write_frame_folders

from corrflow.utils import load_checkpoint_file

CONFIG = 'configs/train/spa_then_temp_r18_davis16.py'
SHORT = ['train_cfg.max_iters=4', 'train_dataloader.batch_size=2',
         'train_dataloader.num_workers=0', 'train_dataloader.persistent_workers=False',
         'default_hooks.logger.interval=1', 'default_hooks.checkpoint.interval=4']


def train(tool, tmp_path, *options):
    data = tmp_path / 'data'
    if not data.exists():
        write_frame_folders(data)
    return tool('tools/train.py', CONFIG, '--work-dir', str(tmp_path / 'work'), '--data-root',
                str(data), '--cfg-options', *SHORT, *options)


def test_four_iterations_with_a_small_teacher_log_every_term(tool, tmp_path):
    teacher = write_random_corrflow_checkpoint(tmp_path / 'teacher.pth')
    result = train(tool, tmp_path, f'model.teacher.checkpoint={teacher}')
    assert result.returncode == 0, result.stderr[-3000:]
    log = result.stdout + result.stderr
    lines = re.findall(r'Iter\(train\) \[\s*\d/4\].*', log)
    assert len(lines) == 4, log[-3000:]
    for line in lines:
        for term in ('loss_rec_s4', 'loss_rec_s8', 'loss_local', 'loss_global',
                     'mask_fraction'):
            assert f'{term}: ' in line, line
    state = load_checkpoint_file(tmp_path / 'work' / 'iter_4.pth')['state_dict']
    assert state['backbone.layer4.0.conv1.weight'].shape == (512, 256, 3, 3)
    teacher_weights = load_checkpoint_file(teacher)['state_dict']
    assert torch.equal(state['teacher.backbone.conv1.weight'],
                       teacher_weights['backbone.conv1.weight'])  # frozen: unchanged


def one_error_line(result):
    assert result.returncode == 1 and 'Traceback' not in result.stderr, result.stderr[-2000:]
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr[-2000:]
    return lines[0]


def test_a_missing_teacher_path(tool, tmp_path):
    line = one_error_line(train(tool, tmp_path, f'model.teacher.checkpoint={tmp_path}/none.pth'))
    assert line.startswith('error: teacher: checkpoint ') and 'none.pth does not exist' in line


def test_a_teacher_checkpoint_of_the_wrong_architecture(tool, tmp_path):
    torch.save(torchvision.models.resnet18(weights=None).state_dict(), tmp_path / 'r18.pth')
    line = one_error_line(train(tool, tmp_path, f'model.teacher.checkpoint={tmp_path}/r18.pth'))
    assert 'r18.pth does not fit the teacher CorrFlowResNet' in line
    assert re.search(r'would stay unfilled|weights have another shape', line)


def test_a_teacher_whose_grid_does_not_match_the_students_layer4(tool, tmp_path):
    teacher = write_random_corrflow_checkpoint(tmp_path / 'teacher.pth')
    line = one_error_line(train(tool, tmp_path, f'model.teacher.checkpoint={teacher}',
                                'model.teacher.pool=4'))
    assert "error: the teacher gives a (8, 8) grid, the student's last layer a (4, 4) one" in line
