"""tools/train.py on the reduced TimeCycle config: 4 iterations on a CPU, each loss term logged."""
import re
from pathlib import Path

import cv2


from corrflow.datasets.synthetic import render_synthetic_video
from corrflow.utils import load_checkpoint_file

CONFIG = 'configs/train/timecycle_r18_davis16.py'


def write_frame_folders(root: Path) -> Path:
    """The layout the config reads: davis2016-train-256/JPEGImages/<seq>/ and raw-videos/<clip>/."""
    for i, folder in enumerate(('davis2016-train-256/JPEGImages/seq', 'raw-videos/clip')):
        video, _ = render_synthetic_video(7 + i, 48, (160, 128))
        out = root / folder
        out.mkdir(parents=True)
        for t, frame in enumerate(video):
            cv2.imwrite(str(out / f'{t:05d}.jpg'), cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    return root


def test_four_iterations_log_every_loss_term(tool, tmp_path):
    data = write_frame_folders(tmp_path / 'data')
    work = tmp_path / 'work'
    result = tool('tools/train.py', CONFIG, '--work-dir', str(work), '--data-root', str(data),
                  '--cfg-options', 'train_cfg.max_iters=4', 'model.frozen_encoder_iters=2',
                  'train_dataloader.batch_size=1', 'train_dataloader.num_workers=0',
                  'train_dataloader.persistent_workers=False', 'default_hooks.logger.interval=1',
                  'default_hooks.checkpoint.interval=4')
    assert result.returncode == 0, result.stderr[-3000:]
    log = result.stdout + result.stderr
    lines = re.findall(r'Iter\(train\) \[\s*(\d)/4\].*', log)
    assert len(lines) == 4, log[-3000:]
    for line in re.findall(r'Iter\(train\) \[\s*\d/4\].*', log):
        for term in ('loss_long', 'loss_skip', 'loss_sim', 'grid_long', 'grid_skip', 'inlier',
                     'encoder_frozen'):
            assert f'{term}: ' in line, line
    frozen = [float(x) for x in re.findall(r'encoder_frozen: ([0-9.]+)', log)]
    assert frozen == [1.0, 1.0, 0.0, 0.0]  # the first 2 iterations train only neck and tracker
    state = load_checkpoint_file(work / 'iter_4.pth')['state_dict']
    assert state['tracker.conv1.weight'].shape == (128, 900, 4, 4)
    assert state['neck.conv.weight'].shape == (512, 256, 1, 1)
    assert len(re.findall(r'TimeCycleVideoFolder: 1 clips from 1 videos', log)) == 2
