"""Re-estimate a checkpoint's batch-norm statistics on clean training clips.

Usage::

    python tools/analysis/recalibrate_bn.py CONFIG CKPT OUT [--data-root DIR]
        [--num-batches 40] [--batch-size N] [--seed 0] [--cfg-options k=v ...]

CONFIG is the training config the weights were trained with: its model says
which encoder passes a clean frame takes (``clean_encoder_passes``), its
training dataset gives the clips (``--data-root`` as for ``tools/train.py``).
CKPT is a training checkpoint or a release file (``tools/publish_model.py``).
The encoder runs over ``--num-batches`` batches of training clips as the test
sees them (no colour dropout, no jitter, no dropped channel) and each
batch-norm layer's running mean and variance become the mean over those
passes of the per-pass mean and unbiased variance (see
``corrflow.engine.PreciseBNHook``, which does the same at the end of
training). Only those statistics change.

OUT gets the structure and dtypes of CKPT (a release file stays a float16
release file) and ``OUT.json`` records the source, the settings and, per layer,
how far the statistics moved. OUT may not be CKPT. Errors are one
``error: ...`` line and exit code 1.
"""
from __future__ import annotations

import argparse
import copy
import json
import os
import sys
import time
from functools import partial
from pathlib import Path

import torch
from mmengine.config import Config, DictAction
from mmengine.config.utils import ConfigParsingError
from mmengine.registry import FUNCTIONS, init_default_scope

from corrflow.datasets.video_io import DataError
from corrflow.engine.bn_recalibration import (calibration_batches, check_calibratable,
                                              recalibrate_bn)
from corrflow.models.layers.batch_norm import batch_norm_layers
from corrflow.utils.checkpoint import (CheckpointError, extract_state_dict, file_sha256,
                                       load_checkpoint_file, save_atomically)
from corrflow.utils.launch import (ConfigError, check_cfg_options, check_config_components,
                                   run_with_one_line_errors, set_dataset_root)

USER_ERRORS = (DataError, CheckpointError, ConfigError, ConfigParsingError, OSError)
_STATISTICS = ('running_mean', 'running_var', 'num_batches_tracked')


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line arguments (``sys.argv[1:]`` by default)."""
    parser = argparse.ArgumentParser(
        description='Re-estimate the batch-norm statistics of a checkpoint on clean clips')
    parser.add_argument('config', help='the training config of the weights')
    parser.add_argument('checkpoint', help='training checkpoint or release file')
    parser.add_argument('out', help='file to write (same layout and dtypes as the checkpoint)')
    parser.add_argument('--data-root', help='data_root of the training dataset(s)')
    parser.add_argument('--num-batches', type=int, default=40,
                        help='batches to estimate from (default 40)')
    parser.add_argument('--batch-size', type=int, default=None,
                        help="clips per batch (default: the training dataloader's)")
    parser.add_argument('--seed', type=int, default=0,
                        help='draws the clips and their crops (default 0)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config settings, key=value')
    return parser.parse_args(argv)


def build(args: argparse.Namespace):
    """(config, model, dataset, collate_fn) of the training config."""
    if not Path(args.config).is_file():
        raise ConfigError(f'config {args.config} does not exist')
    cfg = Config.fromfile(args.config)
    check_cfg_options(cfg, args.cfg_options)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    check_config_components(cfg, args.config)
    loader_cfg = cfg.get('train_dataloader')
    if not loader_cfg or 'dataset' not in loader_cfg:
        raise ConfigError(f'{args.config} has no train_dataloader: give the training config '
                          'the weights were trained with (its clips are the estimate\'s input)')
    if args.data_root and set_dataset_root(loader_cfg.dataset, args.data_root) == 0:
        raise ConfigError(f'--data-root: no training dataset of {args.config} takes a data_root')
    init_default_scope(cfg.get('default_scope', 'corrflow'))
    from corrflow.registry import DATASETS, MODELS

    model = check_calibratable(MODELS.build(cfg.model))
    dataset = DATASETS.build(copy.deepcopy(loader_cfg.dataset))
    collate = dict(loader_cfg.get('collate_fn') or dict(type='pseudo_collate'))
    collate_type = collate.pop('type')
    collate_fn = partial(FUNCTIONS.get(collate_type) if isinstance(collate_type, str)
                         else collate_type, **collate)
    return cfg, model, dataset, collate_fn


def load_into(model: torch.nn.Module, state: dict, path: str) -> list[str]:
    """Load ``state`` into ``model``; returns the encoder children the file does not hold.

    Every entry must be the model's, with its shape. Encoder weights may be
    missing only as whole children (e.g. ``backbone.layer4``, dropped from a
    release because propagation never uses it): their statistics are
    estimated from random weights and not written.
    """
    own = model.state_dict()
    foreign = [k for k in state if k not in own]
    wrong = [f'{k} {tuple(state[k].shape)} vs {tuple(own[k].shape)}' for k in state
             if k in own and state[k].shape != own[k].shape]
    if foreign or wrong:
        example = foreign[0] if foreign else wrong[0]
        raise CheckpointError(f'checkpoint {path} does not fit the model of the config: '
                              f'{len(foreign)} entries it does not have, {len(wrong)} of another '
                              f'shape (e.g. {example}); give the config it was trained with')
    encoder = {f'{prefix}.{k}' for prefix, module in _encoder_prefixes(model)
               for k in module.state_dict()}
    missing = sorted(encoder - set(state))
    if missing and len(missing) == len(encoder):
        raise CheckpointError(f'checkpoint {path} holds none of the encoder weights of the '
                              f'config (e.g. {missing[0]}); give the config it was trained with')
    children = sorted({'.'.join(k.split('.')[:2]) for k in missing})
    partial_children = [c for c in children
                        if any(k.startswith(c + '.') for k in state)]
    if partial_children:
        raise CheckpointError(f'checkpoint {path} holds only part of {partial_children[0]}: '
                              'its statistics cannot be estimated')
    model.load_state_dict({k: v.to(own[k].dtype) for k, v in state.items()}, strict=False)
    return children


def _encoder_prefixes(model: torch.nn.Module) -> list[tuple[str, torch.nn.Module]]:
    """(state-dict prefix, module) of the model's children holding the estimated layers."""
    layers = set(batch_norm_layers(model.bn_statistics_module()))
    return [(name, child) for name, child in model.named_children()
            if any(m in layers for m in child.modules())]


def run(args: argparse.Namespace) -> dict:
    """Estimate, write OUT and OUT.json; returns the record."""
    if Path(args.out).exists() and Path(args.checkpoint).exists() and \
            Path(args.out).resolve() == Path(args.checkpoint).resolve():
        raise ConfigError('OUT is the checkpoint itself; write the recalibrated weights to '
                          'another file')
    ckpt = load_checkpoint_file(args.checkpoint)
    state = extract_state_dict(ckpt)
    cfg, model, dataset, collate_fn = build(args)
    not_in_file = load_into(model, state, args.checkpoint)
    batch_size = args.batch_size or cfg.train_dataloader.get('batch_size', 1)
    before = {k: v.detach().clone() for k, v in model.state_dict().items()
              if k.rsplit('.', 1)[-1] in _STATISTICS}
    start = time.perf_counter()
    used = recalibrate_bn(model, calibration_batches(dataset, collate_fn, batch_size,
                                                     args.num_batches, args.seed))
    seconds = time.perf_counter() - start
    after = model.state_dict()

    prefix = 'module.' if any(k.startswith('module.') for k in ckpt.get('state_dict', ckpt)) \
        else ''
    out_state = dict(ckpt.get('state_dict', ckpt))
    moved = {}
    for key in before:
        file_key = prefix + key
        if file_key not in out_state:  # a child the file does not hold
            continue
        out_state[file_key] = after[key].to(out_state[file_key].dtype).clone()
        if key.endswith('running_var'):
            layer = key[:-len('.running_var')]
            mean_key = f'{layer}.running_mean'
            moved[layer] = dict(
                mean_shift=float(((after[mean_key] - before[mean_key]).abs()
                                  / before[key].clamp_min(1e-5).sqrt()).mean()),
                var_ratio=float((after[key] / before[key].clamp_min(1e-12)).mean()))
    out = dict(ckpt, state_dict=out_state) if 'state_dict' in ckpt else out_state
    save_atomically(out, args.out)
    check = extract_state_dict(load_checkpoint_file(args.out))
    if set(check) != set(extract_state_dict(out)):
        raise CheckpointError(f'{args.out} was written but reads back with other entries')

    record = dict(
        weights=os.path.basename(args.out), sha256=file_sha256(args.out),
        recalibrated_from=os.path.basename(args.checkpoint),
        source_sha256=file_sha256(args.checkpoint), config=args.config,
        data_root=args.data_root, cfg_options=dict(args.cfg_options or {}),
        num_batches=used, batch_size=batch_size, seed=args.seed,
        estimate='mean over the clean encoder passes of each pass\'s mean and unbiased '
                 'variance (torch.optim.swa_utils.update_bn)',
        seconds=round(seconds, 1), layers=len(moved), not_in_file=not_in_file,
        moved=moved)
    Path(f'{args.out}.json').write_text(json.dumps(record, indent=2) + '\n')
    first = next(iter(moved.items()), None)
    print(f'wrote {args.out}: {len(moved)} batch-norm layers re-estimated on {used} batches of '
          f'{batch_size} clean clips (seed {args.seed}) in {seconds:.1f} s'
          + (f'; first layer {first[0]}: mean moved by {first[1]["mean_shift"]:.3f} std, '
             f'variance x{first[1]["var_ratio"]:.3f}' if first else ''))
    if not_in_file:
        print(f'not in the file, so not written: {", ".join(not_in_file)}')
    print(f'record: {args.out}.json')
    return record


def main(argv: list[str] | None = None) -> int:
    """Run the tool; returns the exit code."""
    args = parse_args(argv)
    return run_with_one_line_errors(lambda: run(args), USER_ERRORS)


if __name__ == '__main__':
    sys.exit(main())
