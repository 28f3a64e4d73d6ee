"""What the colour targets of a training set allow: the losses of predictors that learn nothing.

    python tools/analysis/colour_statistics.py CONFIG [--data-root DIR] [--clips 150]
        [--seed 0] [--cfg-options key=value ...] [--json out.json]

Clips are drawn from the config's training dataset as training draws them
(same pipeline, so crops of the same size and the same colour quantisation;
``--seed`` fixes which clips and crops). From
their quantised colour labels it prints:

- the class prior (how often each colour class occurs) and its entropy
  ``H(c)``: the cross-entropy of a predictor that ignores the reference frame;
- ``H(c_t | c_0 at the same pixel)`` for t = 1, 2, ...: the cross-entropy of
  the best predictor that copies the reference frame's colour from the same
  pixel (no motion), i.e. correspondence by identity.

The short-term reconstruction loss of CorrFlow sums one cross-entropy per
predicted frame (two for 3-frame clips); per frame, a model that has learned
correspondence must go below the identity bound, and one that has learned
nothing sits at ``H(c)``.
"""
from __future__ import annotations

import argparse
import json
import random
import sys

import numpy as np
import torch
from mmengine.config import Config, DictAction
from mmengine.registry import init_default_scope

from corrflow.utils.launch import (ConfigError, check_cfg_options, check_config_components,
                                   run_with_one_line_errors, set_dataset_root)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config', help='training config whose train_dataloader.dataset is used')
    parser.add_argument('--data-root', help='data_root of the training dataset(s)')
    parser.add_argument('--clips', type=int, default=150, help='clips sampled')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config keys, e.g. a QuantiseColour centroids file')
    parser.add_argument('--json', help='also write the figures to this file')
    return parser.parse_args(argv)


def entropy(counts: np.ndarray) -> float:
    """Entropy in nats of a histogram."""
    p = counts[counts > 0] / counts.sum()
    return float(-(p * np.log(p)).sum())


def conditional_entropy(joint: np.ndarray) -> float:
    """``H(Y | X)`` in nats of a joint histogram ``joint[x, y]``."""
    total = joint.sum()
    rows = joint.sum(1, keepdims=True)
    mask = joint > 0
    return float(-(joint[mask] / total * np.log((joint / np.maximum(rows, 1))[mask])).sum())


def statistics(labels: list[np.ndarray], num_classes: int) -> dict:
    """Prior, H(c) and the identity bounds of (T, H, W) integer label volumes."""
    length = min(len(v) for v in labels)
    prior = np.zeros(num_classes)
    joints = np.zeros((length - 1, num_classes, num_classes))
    for volume in labels:
        volume = volume.astype(np.int64)
        prior += np.bincount(volume.ravel(), minlength=num_classes)
        for t in range(1, length):
            np.add.at(joints[t - 1], (volume[0].ravel(), volume[t].ravel()), 1)
    return dict(
        clips=len(labels), num_classes=num_classes,
        prior=(prior / prior.sum()).round(6).tolist(),
        unused_classes=[int(k) for k in np.flatnonzero(prior == 0)],
        entropy=entropy(prior), max_entropy=float(np.log(num_classes)),
        identity_bound=[conditional_entropy(j) for j in joints],
    )


def collect_labels(cfg: Config, clips: int, seed: int) -> tuple[list[np.ndarray], int]:
    from corrflow.registry import DATASETS

    dataset = DATASETS.build(cfg.train_dataloader.dataset)
    if len(dataset) == 0:
        raise ConfigError('the training dataset is empty; give --data-root')
    rng = np.random.default_rng(seed)
    random.seed(seed)  # the pipeline's random crops: the same clips for the same seed
    np.random.seed(seed)
    torch.manual_seed(seed)
    labels, num_classes = [], None
    for idx in rng.choice(len(dataset), size=min(clips, len(dataset)), replace=False):
        sample = dataset[int(idx)]['data_samples']
        if 'colour_labels' not in sample:
            raise ConfigError('the training pipeline produces no colour_labels; it needs a '
                              'QuantiseColour transform')
        labels.append(np.asarray(sample['colour_labels']))
        centroids = sample.get('colour_centroids')
        num_classes = len(centroids) if centroids is not None else 16
    return labels, num_classes


def run(args: argparse.Namespace) -> None:
    if args.clips < 1:
        raise ConfigError(f'--clips must be >= 1, got {args.clips}')
    cfg = Config.fromfile(args.config)
    check_cfg_options(cfg, args.cfg_options)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    init_default_scope(cfg.get('default_scope', 'corrflow'))
    check_config_components(cfg.train_dataloader.dataset, 'train_dataloader.dataset')
    if args.data_root and set_dataset_root(cfg.train_dataloader.dataset, args.data_root) == 0:
        raise ConfigError('--data-root: the training dataset takes no data_root')
    labels, num_classes = collect_labels(cfg, args.clips, args.seed)
    stats = statistics(labels, num_classes)
    stats.update(config=args.config, seed=args.seed, cfg_options=args.cfg_options or {},
                 data_root=args.data_root)
    print(f'{stats["clips"]} clips of {args.config}, {num_classes} colour classes '
          f'(seed {args.seed})')
    print('class prior: ' + ' '.join(f'{p:.3f}' for p in stats['prior']))
    if stats['unused_classes']:
        print(f'classes never seen: {stats["unused_classes"]}')
    print(f'H(c) = {stats["entropy"]:.3f} nats (uniform: {stats["max_entropy"]:.3f}): the loss '
          'per frame of a predictor that ignores the reference')
    for t, bound in enumerate(stats['identity_bound'], 1):
        print(f'H(c_{t} | c_0 at the same pixel) = {bound:.3f} nats: the loss of the best '
              f'copy-in-place predictor for frame {t}')
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(stats, f, indent=2)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    return run_with_one_line_errors(lambda: run(args))


if __name__ == '__main__':
    sys.exit(main())
