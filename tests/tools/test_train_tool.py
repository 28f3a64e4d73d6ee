"""tools/train.py on the real demo config, shortened; resume; distributed; bad input."""
import re
from pathlib import Path

import pytest
import torch

from corrflow.utils import load_checkpoint_file

REPO = Path(__file__).resolve().parents[2]
DEMO = 'configs/train/corrflow_r18_demo.py'
SHORT = ['train_dataloader.batch_size=2', 'train_dataloader.num_workers=0',
         'train_dataloader.persistent_workers=False',
         'train_dataloader.dataset.datasets.0.size=[64,64]',
         'default_hooks.logger.interval=1', 'default_hooks.checkpoint.interval=2']


def losses(log: str):
    """The losses of the Iter(train) log lines."""
    return [float(x) for x in re.findall(r'Iter\(train\).*?\bloss: ([0-9.]+)', log)]


def test_demo_config_trains_checkpoints_and_resumes(tool, tmp_path):
    work = tmp_path / 'work'
    first = tool('tools/train.py', DEMO, '--work-dir', str(work), '--cfg-options',
                 'train_cfg.max_iters=2', *SHORT)
    assert first.returncode == 0, first.stderr[-3000:]
    assert len(losses(first.stdout + first.stderr)) == 2
    # the log states the total batch and the lr schedule
    for line in ('total batch 2 = 1 process x 2 clips', 'lr milestones: none',
                 'auto_scale_lr off: lr 0.001'):
        assert line in first.stdout, first.stdout[-3000:]
    ckpt = load_checkpoint_file(work / 'iter_2.pth')  # weights_only=True
    assert ckpt['meta']['iter'] == 2
    assert any(k.startswith('backbone.') for k in ckpt['state_dict'])
    # TensorBoard event file and reconstruction images are written
    assert list(work.rglob('events.out.tfevents.*'))
    # the console starts at the work: the set-up dumps are in the log file only
    head = first.stdout[:first.stdout.index('Iter(train)')]
    assert len(head.splitlines()) <= 40, head
    assert 'System environment' not in head and 'Hooks will be executed' not in head
    assert 'environment, config, hook order: in ' in head
    log_file = re.search(r'environment, config, hook order: in (\S+)', head)[1]
    with open(log_file) as f:
        assert 'System environment' in f.read()
    assert re.search(r'torch threads \d+ \(', head)
    # the run ends on a summary: what it did and how to use the result
    tail = first.stdout[first.stdout.rindex('Saving checkpoint at 2 iterations'):]
    assert f'trained iterations 1..2 of 2 in {work}' in tail
    found = re.search(r'loss: ([0-9.]+) \(mean of the first 2 iterations of this run\), '
                      r'([0-9.]+) \(mean of the last 2\)', tail)
    # the log line of iteration 2 shows the mean over its window: the same two losses
    assert found and float(found[1]) == float(found[2]) == losses(first.stdout)[-1]
    assert f'final checkpoint: {work / "iter_2.pth"}' in tail
    assert (f'evaluate it: python tools/test.py configs/test/corrflow_davis.py davis '
            f'{work / "iter_2.pth"} --data-root DAVIS_ROOT') in tail
    assert 'propagate a mask with it: python tools/propagate.py my_video.mp4 ' in tail

    second = tool('tools/train.py', DEMO, '--work-dir', str(work), '--resume', '--cfg-options',
                  'train_cfg.max_iters=3', *SHORT)
    log = second.stdout + second.stderr
    assert second.returncode == 0, log[-3000:]
    assert 'resumed epoch: 0, iter: 2' in log
    assert re.search(r'Iter\(train\) \[3/3\]', log)
    # the scheduled-sampling probability continues from the restored iteration (2/3)
    assert re.search(r'sampling_prob: 0\.7000', log)
    assert load_checkpoint_file(work / 'iter_3.pth')['meta']['iter'] == 3
    assert f'trained iterations 3..3 of 3 in {work}' in second.stdout
    assert 'mean of the first 1 iterations of this run' in second.stdout


def test_distributed_demo_on_two_cpu_processes(tool, tmp_path):
    # --amp with the CPU's bf16 units forced on: DDP over gloo with bf16 autocast
    result = tool('bash', 'tools/dist_train.sh', DEMO, '2', '--work-dir', str(tmp_path),
                  '--auto-scale-lr', '--amp', '--cfg-options', 'train_cfg.max_iters=2', *SHORT,
                  env=dict(PORT='29631', CORRFLOW_CPU_BF16='1'))
    log = result.stdout + result.stderr
    assert result.returncode == 0, log[-3000:]
    assert 'terminate called' not in log
    # 2 processes x 2 clips: mmengine scales the lr by the same total batch (4 / base 4)
    assert log.count('total batch 4 = 2 processes x 2 clips') == 1
    assert 'auto_scale_lr on: lr 0.001 = 0.001 x total batch 4 / base batch 4' in log
    assert 'the current batch size is 4' in log
    assert log.count('precision: bf16') == 1  # rank 0's log
    assert (tmp_path / 'iter_2.pth').is_file()


@pytest.mark.parametrize('options,message', [
    (['model.backbone.type=ResNet9000'], 'model.backbone.type: "ResNet9000" is not a registered'),
    (['train_cfg.max_iter=3'], 'did you mean train_cfg.max_iters'),
    (['model.head.radiuss=3'], 'did you mean model.head.radius'),
    # the class count of the model disagrees with the centroids the targets are quantised with
    (['model.num_classes=20', 'train_cfg.max_iters=1', *SHORT],
     'RecursiveFlow(num_classes=20) contradicts the 16 colour centroids'),
])
def test_bad_config_gives_one_clear_error(tool, tmp_path, options, message):
    result = tool('tools/train.py', DEMO, '--work-dir', str(tmp_path), '--cfg-options',
                  *options)
    assert result.returncode == 1
    assert 'Traceback' not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith('error:')]
    assert len(lines) == 1 and message in lines[0], result.stderr[-2000:]


@pytest.mark.parametrize('args,message', [
    (['--cfg-options', 'param_scheduler.0.milestones=[400000,-5]'],
     'error: lr milestone -5 is not a positive whole number of samples'),
    (['--cfg-options', 'train_dataloader.batch_size=0'],
     'error: train_dataloader.batch_size must be a positive integer'),
])
def test_bad_schedule_gives_one_clear_error(tool, tmp_path, args, message):
    result = tool('tools/train.py', 'configs/train/corrflow_r18.py', '--work-dir', str(tmp_path),
                  *args)
    assert result.returncode == 1
    assert 'Traceback' not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith('error:')]
    assert len(lines) == 1 and lines[0].startswith(message), result.stderr[-2000:]


def test_sample_milestones_set_the_lr_of_a_real_run(tool, tmp_path):
    config = tmp_path / 'demo_samples.py'
    config.write_text(f"_base_ = ['{REPO}/{DEMO}']\n"
                      "param_scheduler = [dict(type='SampleMultiStepLR', milestones=[4, 8], "
                      "gamma=0.5)]\n")
    work = tmp_path / 'work'
    result = tool('tools/train.py', str(config), '--work-dir', str(work), '--cfg-options',
                  'train_cfg.max_iters=5', *SHORT)
    log = result.stdout + result.stderr
    assert result.returncode == 0, log[-3000:]
    assert 'lr x0.5 at iterations 2, 4 = 4, 8 samples // total batch 2' in log
    # 4 // 2 = 2 and 8 // 2 = 4 iterations: the lr logged after iterations 3 and 5
    lrs = [float(x) for x in re.findall(r'Iter\(train\) \[\d/5\]\s+lr: ([0-9.e+-]+)', log)]
    assert lrs == [1e-3, 1e-3, 5e-4, 5e-4, 2.5e-4], log[-3000:]
    # resuming at another total batch would move the milestones: refused
    again = tool('tools/train.py', str(config), '--work-dir', str(work), '--resume',
                 '--cfg-options', 'train_cfg.max_iters=6', *SHORT, 'train_dataloader.batch_size=1')
    assert again.returncode == 1 and 'Traceback' not in again.stderr
    assert 'error: the checkpoint was trained at a total batch of 2, this run has 1' \
        in again.stderr, again.stderr[-2000:]


def test_auto_scale_lr_needs_a_base_batch(tool, tmp_path):
    config = tmp_path / 'no_base.py'
    config.write_text(f"_base_ = ['{REPO}/{DEMO}']\nauto_scale_lr = dict(_delete_=True)\n")
    result = tool('tools/train.py', str(config), '--work-dir', str(tmp_path), '--auto-scale-lr')
    assert result.returncode == 1
    assert 'Traceback' not in result.stderr
    assert 'error: --auto-scale-lr:' in result.stderr and 'base_batch_size' in result.stderr


def test_recomputed_centroids_set_the_number_of_classes(tool, tmp_path):
    centroids = tmp_path / 'c20.npy'
    made = tool('tools/analysis/compute_centroids.py', DEMO, '--clips', '4', '-k', '20',
                '--out', str(centroids))
    assert made.returncode == 0, made.stderr[-2000:]
    own = f'train_dataloader.dataset.datasets.0.pipeline.1.centroids={centroids}'
    trained = tool('tools/train.py', DEMO, '--work-dir', str(tmp_path / 'own'), '--cfg-options',
                   'train_cfg.max_iters=1', own, *SHORT)
    assert trained.returncode == 0, trained.stderr[-3000:]
    assert len(losses(trained.stdout + trained.stderr)) == 1
    # an explicit number of classes that contradicts the centroids: one line naming both
    bad = tool('tools/train.py', DEMO, '--work-dir', str(tmp_path / 'bad'), '--cfg-options',
               'train_cfg.max_iters=1', own, 'model.num_classes=16', *SHORT)
    assert bad.returncode == 1 and 'Traceback' not in bad.stderr
    lines = [line for line in bad.stderr.splitlines() if line.startswith('error:')]
    assert len(lines) == 1, bad.stderr[-2000:]
    assert 'num_classes=16' in lines[0] and '20 colour centroids' in lines[0]
    assert str(centroids) in lines[0]


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
    from pathlib import Path
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


def test_amp_on_a_cpu_without_bf16_units_warns_once_and_trains_in_fp32(tool, tmp_path):
    result = tool('tools/train.py', DEMO, '--amp', '--work-dir', str(tmp_path), '--cfg-options',
                  'train_cfg.max_iters=1', *SHORT, env=dict(CORRFLOW_CPU_BF16='0'))
    assert result.returncode == 0, result.stderr[-3000:]
    warnings = [line for line in result.stderr.splitlines() if 'bf16 matrix units' in line]
    assert len(warnings) == 1 and warnings[0].startswith('warning: ') and 'fp32' in warnings[0]
    assert 'precision: fp32 (CPU without bf16 matrix units)' in result.stdout


def test_amp_bf16_trains_with_the_cpu_autocast_wrapper(tool, tmp_path):
    # forced on: the CPU's bf16 units are detected as present whatever this machine has
    result = tool('tools/train.py', DEMO, '--amp', '--work-dir', str(tmp_path), '--cfg-options',
                  'train_cfg.max_iters=2', *SHORT, env=dict(CORRFLOW_CPU_BF16='1'))
    log = result.stdout + result.stderr
    assert result.returncode == 0, log[-3000:]
    assert 'precision: bf16 (CPU bf16 matrix units: CORRFLOW_CPU_BF16=1)' in log
    # the config dump of the run, in its log file
    log_file = re.search(r'environment, config, hook order: in (\S+)', log)[1]
    with open(log_file) as f:
        assert "type='CPUAutocastOptimWrapper'" in f.read()
    assert len(losses(log)) == 2 and all(0 < x < 100 for x in losses(log))
    assert 'Traceback' not in log


@pytest.mark.parametrize('args, message', [
    (['--amp', 'fp16'], 'fp16 autocast needs a CUDA GPU'),
    (['--cfg-options', 'amp=int8'], 'amp must be one of auto, bf16, fp16, fp32'),
])
def test_impossible_precision_gives_one_clear_error(tool, tmp_path, args, message):
    result = tool('tools/train.py', DEMO, '--work-dir', str(tmp_path), *args)
    assert result.returncode == 1 and 'Traceback' not in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith('error: ')
    assert message in result.stderr
