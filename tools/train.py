"""Train a corrflow model: ``python tools/train.py CONFIG [options]``."""
import argparse
import os
import os.path as osp
import sys

from mmengine.config import Config, DictAction

from corrflow.engine import CorrflowRunner, apply_total_batch, launcher_world_size
from corrflow.utils import allow_mmengine_checkpoints, load_checkpoint_file
from corrflow.utils.launch import (ConfigError, check_cfg_options, check_config_components,
                                   choose_threads,
                                   run_with_one_line_errors,
                                   set_dataset_root, setup_cpu_distributed, teardown_distributed)
from corrflow.utils.precision import AMP_CHOICES, apply_precision, cpu_description

# the test config printed at the end of a run when the training config names none (test_config)
DEFAULT_TEST_CONFIG = 'configs/test/corrflow_davis.py'


def parse_args():
    parser = argparse.ArgumentParser(description='Train a corrflow model')
    parser.add_argument('config', help='training config file')
    parser.add_argument('--work-dir', help='where logs and checkpoints go')
    parser.add_argument('--resume', nargs='?', const='auto', metavar='PATH',
                        help='resume from PATH, or from the latest checkpoint of the work dir')
    parser.add_argument('--amp', nargs='?', const='auto', choices=AMP_CHOICES, default=None,
                        help='mixed precision: bf16 on GPUs that support it and on CPUs with '
                             'bf16 matrix units (AMX), fp16 with loss scaling on other GPUs, '
                             'fp32 (with a warning) on other CPUs; or force bf16 / fp16 / fp32 '
                             '(default: the config\'s `amp`, off)')
    parser.add_argument('--data-root', help='data_root of the training dataset(s) that take one')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config keys, e.g. train_cfg.max_iters=100')
    parser.add_argument('--auto-scale-lr', action='store_true',
                        help='scale the lr by the total batch / auto_scale_lr.base_batch_size')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm'], default='none',
                        help='pytorch: started by torchrun (tools/dist_train.sh), which sets '
                             'RANK, LOCAL_RANK and WORLD_SIZE; slurm: started by srun')
    return parser.parse_args()


def build_config(args) -> Config:
    if not osp.isfile(args.config):
        raise FileNotFoundError(f'config {args.config} does not exist')
    cfg = Config.fromfile(args.config)
    check_cfg_options(cfg, args.cfg_options)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    check_config_components(cfg, args.config)
    cfg.launcher = args.launcher
    cfg.work_dir = args.work_dir or cfg.get('work_dir') or osp.join(
        'work_dirs', osp.splitext(osp.basename(args.config))[0])
    if args.data_root:
        if set_dataset_root(cfg.train_dataloader.dataset, args.data_root) == 0:
            raise ConfigError(f'--data-root: no training dataset of {args.config} takes a '
                              'data_root')
    if args.amp is not None:
        cfg.amp = args.amp
    if args.auto_scale_lr:
        if 'base_batch_size' not in (cfg.get('auto_scale_lr') or {}):
            raise ConfigError(f'--auto-scale-lr: {args.config} sets no auto_scale_lr.'
                              'base_batch_size (the total batch its lr is set for); add '
                              'auto_scale_lr = dict(enable=False, base_batch_size=N)')
        cfg.auto_scale_lr.enable = True
    if args.resume == 'auto':
        cfg.resume, cfg.load_from = True, None
    elif args.resume:
        load_checkpoint_file(args.resume)  # refuses unsafe or unreadable files up front
        cfg.resume, cfg.load_from = True, args.resume
    return cfg


def last_checkpoint(work_dir: str) -> str | None:
    """The checkpoint mmengine recorded last in ``work_dir`` (None if none was saved)."""
    marker = osp.join(work_dir, 'last_checkpoint')
    if not osp.isfile(marker):
        return None
    with open(marker) as f:
        path = f.read().strip()
    return path if osp.isfile(path) else None


def summary(runner, cfg, first_iter: int) -> list[str]:
    """What a finished run did and how to use its result, as log lines."""
    lines = [f'trained iterations {first_iter + 1}..{runner.iter} of '
             f'{cfg.train_cfg.max_iters} in {cfg.work_dir}']
    hub = runner.message_hub
    run_iters = runner.iter - first_iter
    if 'train/loss' in hub.log_scalars and run_iters > 0:
        losses = hub.get_scalar('train/loss').data[0][-run_iters:]
        k = min(10, len(losses))
        if k:
            lines.append(f'loss: {losses[:k].mean():.4f} (mean of the first {k} iterations of '
                         f'this run), {losses[-k:].mean():.4f} (mean of the last {k})')
    ckpt = last_checkpoint(cfg.work_dir)
    if ckpt is None:
        lines.append('no checkpoint was saved (default_hooks.checkpoint)')
        return lines
    test_config = cfg.get('test_config', DEFAULT_TEST_CONFIG)
    lines += [f'final checkpoint: {ckpt}',
              f'evaluate it: python tools/test.py {test_config} davis {ckpt} '
              '--data-root DAVIS_ROOT (DAVIS-2017 in its official layout: '
              'docs/en/user_guides/dataset_prepare.md)',
              f'propagate a mask with it: python tools/propagate.py my_video.mp4 '
              f'first_frame_mask.png --checkpoint {ckpt}'
              + ('' if test_config == DEFAULT_TEST_CONFIG else f' --config {test_config}')]
    return lines


def train(args) -> None:
    runner, ok = None, False
    try:
        cfg = build_config(args)
        precision = apply_precision(cfg)
        if precision.warning and os.environ.get('RANK', '0') == '0':  # once per run
            print(f'warning: {precision.warning}', file=sys.stderr)
        setup_cpu_distributed(cfg, args.launcher)
        schedule = apply_total_batch(cfg, launcher_world_size(args.launcher))
        threads = choose_threads(cfg.train_dataloader.get('num_workers', 0))
        runner = CorrflowRunner.from_cfg(cfg)
        runner.logger.info(threads)
        for line in schedule:  # the log states the total batch and the lr schedule
            runner.logger.info(line)
        runner.logger.info(f'precision: {precision.describe()}; {cpu_description()}')
        runner.train()
        first_iter = getattr(runner.train_loop, 'resumed_from', 0)
        if runner.rank == 0:
            for line in summary(runner, cfg, first_iter):
                runner.logger.info(line)
        ok = True
    finally:
        runner = None
        teardown_distributed(barrier=ok)


def main() -> int:
    args = parse_args()
    allow_mmengine_checkpoints()
    return run_with_one_line_errors(lambda: train(args))


if __name__ == '__main__':
    sys.exit(main())
