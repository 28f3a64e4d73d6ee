"""tools/train.py on the real demo config, shortened; resume; distributed; bad input."""
import re

import pytest
import torch

from corrflow.utils import load_checkpoint_file

DEMO = 'configs/train/corrflow_r18_demo.py'
SHORT = ['train_dataloader.batch_size=2', 'train_dataloader.num_workers=0',
         'train_dataloader.persistent_workers=False',
         'train_dataloader.dataset.datasets.0.size=[64,64]',
         'default_hooks.logger.interval=1', 'default_hooks.checkpoint.interval=2']


def losses(log: str):
    return [float(x) for x in re.findall(r'\bloss: ([0-9.]+)', log)]


def test_demo_config_trains_checkpoints_and_resumes(tool, tmp_path):
    work = tmp_path / 'work'
    first = tool('tools/train.py', DEMO, '--work-dir', str(work), '--cfg-options',
                 'train_cfg.max_iters=2', *SHORT)
    assert first.returncode == 0, first.stderr[-3000:]
    assert len(losses(first.stdout + first.stderr)) == 2
    ckpt = load_checkpoint_file(work / 'iter_2.pth')  # weights_only=True
    assert ckpt['meta']['iter'] == 2
    assert any(k.startswith('backbone.') for k in ckpt['state_dict'])
    # TensorBoard event file and reconstruction images are written
    assert list(work.rglob('events.out.tfevents.*'))

    second = tool('tools/train.py', DEMO, '--work-dir', str(work), '--resume', '--cfg-options',
                  'train_cfg.max_iters=3', *SHORT)
    log = second.stdout + second.stderr
    assert second.returncode == 0, log[-3000:]
    assert 'resumed epoch: 0, iter: 2' in log
    assert re.search(r'Iter\(train\) \[3/3\]', log)
    # the scheduled-sampling probability continues from the restored iteration (2/3)
    assert re.search(r'sampling_prob: 0\.7000', log)
    assert load_checkpoint_file(work / 'iter_3.pth')['meta']['iter'] == 3


def test_distributed_demo_on_two_cpu_processes(tool, tmp_path):
    result = tool('bash', 'tools/dist_train.sh', DEMO, '2', '--work-dir', str(tmp_path),
                  '--cfg-options', 'train_cfg.max_iters=2', *SHORT, env=dict(PORT='29631'))
    log = result.stdout + result.stderr
    assert result.returncode == 0, log[-3000:]
    assert 'terminate called' not in log
    assert (tmp_path / 'iter_2.pth').is_file()


@pytest.mark.parametrize('options,message', [
    (['model.backbone.type=ResNet9000'], 'ResNet9000 is not in the'),
    (['train_cfg.max_iter=3'], 'did you mean train_cfg.max_iters'),
    (['model.head.radiuss=3'], 'did you mean model.head.radius'),
])
def test_bad_config_gives_one_clear_error(tool, tmp_path, options, message):
    result = tool('tools/train.py', DEMO, '--work-dir', str(tmp_path), '--cfg-options',
                  *options)
    assert result.returncode == 1
    assert 'Traceback' not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith('error:')]
    assert len(lines) == 1 and message in lines[0], result.stderr[-2000:]


def test_missing_data_root_is_reported(tool, tmp_path):
    result = tool('tools/train.py', 'configs/train/corrflow_r18_davis16.py', '--work-dir',
                  str(tmp_path), '--data-root', str(tmp_path / 'nowhere'))
    assert result.returncode == 1
    assert 'Traceback' not in result.stderr
    assert 'does not exist' in result.stderr


def test_unsafe_checkpoint_is_refused(tool, tmp_path):
    class Payload:
        def __reduce__(self):
            import os
            return (os.system, ('echo pwned',))

    path = tmp_path / 'evil.pth'
    torch.save(dict(state_dict={}, extra=Payload()), path)
    result = tool('tools/train.py', DEMO, '--work-dir', str(tmp_path), '--resume', str(path),
                  '--cfg-options', 'train_cfg.max_iters=1', *SHORT)
    assert result.returncode == 1
    assert 'pwned' not in result.stdout
    assert 'error: checkpoint' in result.stderr and 'refused' in result.stderr


def test_davis_validation_during_training_keeps_best(tool, tmp_path):
    import sys
    from pathlib import Path
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from helpers import write_davis_layout

    davis = write_davis_layout(tmp_path / 'davis', sequences=('seq-a', 'seq-b'))
    config = tmp_path / 'demo_val.py'
    repo = Path(__file__).resolve().parents[2]
    config.write_text(
        f"_base_ = ['{repo}/configs/train/corrflow_r18_demo.py',\n"
        f"          '{repo}/configs/_base_/datasets/davis_val.py']\n"
        f"val_dataloader = dict(num_workers=0, dataset=dict(data_root='{davis}', sequences=None))\n"
        "train_cfg = dict(val_interval=1)\n"
        "default_hooks = dict(checkpoint=dict(save_best='davis/J&F-Mean', rule='greater'))\n")
    result = tool('tools/train.py', str(config), '--work-dir', str(tmp_path / 'work'),
                  '--cfg-options', 'train_cfg.max_iters=1', *SHORT)
    log = result.stdout + result.stderr
    assert result.returncode == 0, log[-3000:]
    assert 'davis/J&F-Mean' in log
    assert list((tmp_path / 'work').glob('best_davis_J&F-Mean_iter_1.pth'))
