"""Evaluate by label propagation: ``python tools/test.py CONFIG TASK CHECKPOINT [options]``.

TASK is davis, ytvos, jhmdb or vip (it must match the config). CHECKPOINT is a
corrflow checkpoint (training checkpoints and model-zoo weights both work), or
``none`` to evaluate the encoder as initialised (e.g. a random-initialisation
baseline or a parameter-free pixel encoder). Outputs go to WORK_DIR/TASK/.

Sets without ground truth (DAVIS test-dev, own videos in DAVIS layout with a
first-frame mask) run with ``--predict-only``: the masks are written and no
score is computed. YouTube-VOS val is always predict-only (its ground truth is
withheld): the masks are written in the server's layout and zipped; a split
with full ground truth in YouTube-VOS layout is scored locally.
"""
import argparse
import copy
import json
import os
import os.path as osp
import sys

from mmengine.config import Config, DictAction
from mmengine.dist import get_rank
from mmengine.registry import DefaultScope

from corrflow.engine import CorrflowRunner
from corrflow.registry import DATASETS, MODELS
from corrflow.utils import allow_mmengine_checkpoints, load_model_weights
from corrflow.utils.launch import (ConfigError, check_cfg_options, check_config_components,
                                   choose_threads, run_with_one_line_errors,
                                   setup_test_distributed, teardown_distributed)
from corrflow.utils.precision import AMP_CHOICES

TASKS = ('davis', 'ytvos', 'jhmdb', 'vip')
HEADLINE = {'davis': ('J&F-Mean', 'J-Mean', 'F-Mean'),
            'ytvos': ('overall', 'J&F-Mean', 'J-Mean', 'F-Mean', 'J-seen', 'F-seen', 'J-unseen',
                      'F-unseen'),
            'jhmdb': ('PCK@0.1', 'PCK@0.2'), 'vip': ('mIoU',)}
PREDICT_ONLY_TASKS = ('davis', 'ytvos')
SEQUENCE_KEYS = {'davis': 'sequences', 'ytvos': 'videos'}  # the dataset's option for --sequences


def parse_args():
    parser = argparse.ArgumentParser(description='Evaluate corrflow features by label propagation')
    parser.add_argument('config', help='test config file')
    parser.add_argument('task', choices=TASKS, help='benchmark')
    parser.add_argument('checkpoint', help='checkpoint file, or "none" for initial weights')
    parser.add_argument('--data-root', help='the dataset in its official layout')
    parser.add_argument('--work-dir', help='output folder (default: eval/<config name>)')
    parser.add_argument('--predict-only', action='store_true',
                        help='davis / ytvos: write the masks and compute no score, for sets '
                             'whose ground truth is only the first mask (DAVIS test-dev, own '
                             'videos); YouTube-VOS val is predict-only without it')
    parser.add_argument('--all-frames-root',
                        help='ytvos: the split folder of the 30 fps release '
                             '(valid_all_frames); every frame is propagated and the listed '
                             '(6 fps) frames are written')
    parser.add_argument('--sequences', type=lambda text: [n for n in text.split(',') if n],
                        help='davis / ytvos: score only these sequences (comma-separated '
                             'names, e.g. blackswan,dog) instead of the whole list')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config keys, e.g. model.propagation.radius=8')
    parser.add_argument('--amp', nargs='?', const='auto', choices=AMP_CHOICES, default=None,
                        help='mixed precision of the backbone and the affinity products: bf16 '
                             'on GPUs that support it and on CPUs with bf16 matrix units (AMX), '
                             'fp16 on other GPUs, fp32 (with a warning) on other CPUs; or force '
                             'bf16 / fp16 / fp32 (default: the config\'s model.amp, fp32)')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm'], default='none',
                        help='pytorch: started by torchrun (tools/dist_test.sh), which sets '
                             'RANK, LOCAL_RANK and WORLD_SIZE; slurm: started by srun')
    return parser.parse_args()


def build_config(args) -> Config:
    if not osp.isfile(args.config):
        raise FileNotFoundError(f'config {args.config} does not exist')
    cfg = Config.fromfile(args.config)
    if cfg.get('task') != args.task:
        raise ConfigError(f'config {args.config} evaluates task "{cfg.get("task")}", not '
                          f'"{args.task}"')
    check_cfg_options(cfg, args.cfg_options)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    check_config_components(cfg, args.config)
    if args.data_root:
        if not osp.isdir(args.data_root):
            raise FileNotFoundError(f'--data-root {args.data_root} is not a directory')
        cfg.test_dataloader.dataset.data_root = args.data_root
    if args.sequences is not None:
        if args.task not in SEQUENCE_KEYS:
            raise ConfigError(f'--sequences is for {" and ".join(SEQUENCE_KEYS)}, not '
                              f'{args.task}')
        if not args.sequences:
            raise ConfigError('--sequences: give at least one sequence name, e.g. '
                              '--sequences blackswan,dog')
        cfg.test_dataloader.dataset[SEQUENCE_KEYS[args.task]] = args.sequences
    if args.predict_only:
        if args.task not in PREDICT_ONLY_TASKS:
            raise ConfigError(f'--predict-only is for {" and ".join(PREDICT_ONLY_TASKS)}, not '
                              f'{args.task}')
        cfg.test_dataloader.dataset.predict_only = True
    if args.all_frames_root:
        if args.task != 'ytvos':
            raise ConfigError('--all-frames-root is for ytvos (the 30 fps valid_all_frames)')
        if not osp.isdir(args.all_frames_root):
            raise FileNotFoundError(f'--all-frames-root {args.all_frames_root} is not a '
                                    'directory')
        cfg.test_dataloader.dataset.all_frames_root = args.all_frames_root
    cfg.work_dir = args.work_dir or osp.join(
        'eval', osp.splitext(osp.basename(args.config))[0])
    cfg.test_evaluator.out_dir = osp.join(cfg.work_dir, args.task)
    if args.amp is not None:
        if cfg.model.get('type') != 'LabelPropagator':
            raise ConfigError(f'--amp: the model of {args.config} is a {cfg.model.get("type")}, '
                              'not a LabelPropagator; set amp in its propagation settings')
        cfg.model.amp = args.amp
    cfg.launcher = 'none'  # sharding only needs the process group, not DDP
    cfg.load_from = None
    return cfg


def score_line(task: str, metrics: dict) -> str:
    """The headline numbers of a run, e.g. ``davis: J&F-Mean 0.5260, J-Mean ..., F-Mean ...``."""
    prefix = f'{task}/'
    shown = {k[len(prefix):]: v for k, v in metrics.items()
             if k.startswith(prefix) and isinstance(v, (int, float))}
    if not shown:
        return (f'{task}: no score computed (predict-only: the set has no ground truth beyond '
                'the first masks)')
    headline = [k for k in HEADLINE.get(task, ()) if k in shown] or list(shown)[:4]
    return f'{task}: ' + ', '.join(f'{k} {shown[k]:.4f}' for k in headline)


def preflight(cfg: Config, checkpoint: str) -> None:
    """Read the data's layout and the checkpoint before the runner is built, so that an
    error in either is the first thing on the console, not a line after its set-up log."""
    with DefaultScope.overwrite_default_scope(cfg.get('default_scope', 'corrflow')):
        DATASETS.build(copy.deepcopy(cfg.test_dataloader.dataset))
        if checkpoint.lower() != 'none':
            load_model_weights(MODELS.build(copy.deepcopy(cfg.model)), checkpoint)


def test(args) -> None:
    ok = False
    try:
        cfg = build_config(args)
        threads = choose_threads(cfg.test_dataloader.get('num_workers', 0))
        preflight(cfg, args.checkpoint)
        setup_test_distributed(args.launcher)
        runner = CorrflowRunner.from_cfg(cfg)
        runner.logger.info(threads)
        if args.checkpoint.lower() != 'none':
            info = load_model_weights(runner.model, args.checkpoint)
            if info['unused']:
                runner.logger.info(f'checkpoint entries not used by the propagator: '
                                   f'{len(info["unused"])} (e.g. {info["unused"][0]})')
        model = runner.model.module if hasattr(runner.model, 'module') else runner.model
        if hasattr(model, 'precision'):
            runner.logger.info(f'precision: {model.precision.describe()}')
        metrics = runner.test()
        if get_rank() == 0:
            out_dir = cfg.test_evaluator.out_dir
            os.makedirs(out_dir, exist_ok=True)
            cfg.dump(osp.join(out_dir, 'test_config.py'))
            print(json.dumps(metrics, indent=2))
            print(score_line(args.task, metrics))
            print(f'results in {out_dir} (the settings that produced them: '
                  f'{osp.join(out_dir, "test_config.py")})')
        ok = True
    finally:
        runner = None
        teardown_distributed(barrier=ok)


def main() -> int:
    args = parse_args()
    allow_mmengine_checkpoints()
    return run_with_one_line_errors(lambda: test(args))


if __name__ == '__main__':
    sys.exit(main())
