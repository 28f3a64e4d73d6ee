"""Recompute the (a, b) colour centroids of the target by k-means on a training set.

    python tools/analysis/compute_centroids.py CONFIG [--data-root DIR] [--clips 500]
        [--pixels-per-frame 2000] [-k 16] [--out centroids.npy] [--seed 0]

Frames are drawn from the config's training dataset (its loading and resizing
transforms), converted to Lab with OpenCV's float conversion, and a random
subset of their (a, b) values is clustered. The result is saved as ``.npy``
(no pickle) or ``.json`` and used with
``--cfg-options`` on the ``QuantiseColour`` transform (``centroids=FILE``); the
model's number of colour classes and the reconstruction images follow the k of
the file.
"""
import argparse
import sys

import cv2
import numpy as np
from mmengine.config import Config
from mmengine.registry import init_default_scope

from corrflow.models.layers.colour import save_centroids
from corrflow.utils.launch import (ConfigError, check_config_components, set_dataset_root,
                                   user_error_message)


def parse_args():
    parser = argparse.ArgumentParser(description='k-means colour centroids of a training set')
    parser.add_argument('config', help='training config whose train_dataloader.dataset is used')
    parser.add_argument('--data-root', help='data_root of the training dataset(s)')
    parser.add_argument('--clips', type=int, default=500, help='clips sampled')
    parser.add_argument('--pixels-per-frame', type=int, default=2000)
    parser.add_argument('-k', type=int, default=16, help='number of centroids')
    parser.add_argument('--out', default='centroids.npy', help='.npy or .json file')
    parser.add_argument('--seed', type=int, default=0)
    return parser.parse_args()


def kmeans(points: np.ndarray, k: int, seed: int, iters: int = 50) -> np.ndarray:
    """Lloyd's k-means with k-means++ initialisation; (N, 2) -> (k, 2)."""
    rng = np.random.default_rng(seed)
    centres = [points[rng.integers(len(points))]]
    for _ in range(1, k):
        d2 = np.min(((points[:, None] - np.asarray(centres)[None]) ** 2).sum(-1), axis=1)
        centres.append(points[rng.choice(len(points), p=d2 / d2.sum())])
    centres = np.asarray(centres, dtype=np.float64)
    for _ in range(iters):
        assign = ((points[:, None] - centres[None]) ** 2).sum(-1).argmin(1)
        new = np.array([points[assign == j].mean(0) if np.any(assign == j) else centres[j]
                        for j in range(k)])
        if np.allclose(new, centres, atol=1e-4):
            break
        centres = new
    return centres.astype(np.float32)


def collect_ab(cfg: Config, clips: int, per_frame: int, seed: int) -> np.ndarray:
    from corrflow.registry import DATASETS

    dataset_cfg = cfg.train_dataloader.dataset
    # keep the loading/resizing transforms, drop the targets and packing
    def strip(node):
        if 'pipeline' in node:
            node['pipeline'] = [t for t in node['pipeline']
                                if t['type'] not in ('QuantiseColour', 'PackClipInputs')]
        for child in node.get('datasets', []) or []:
            strip(child)
    strip(dataset_cfg)
    dataset = DATASETS.build(dataset_cfg)
    if len(dataset) == 0:
        raise ConfigError('the training dataset is empty; give --data-root')
    rng = np.random.default_rng(seed)
    values = []
    for idx in rng.choice(len(dataset), size=min(clips, len(dataset)), replace=False):
        for frame in dataset[int(idx)]['frames']:
            lab = cv2.cvtColor(frame.astype(np.float32) / 255.0, cv2.COLOR_RGB2Lab)
            ab = lab[..., 1:3].reshape(-1, 2)
            values.append(ab[rng.choice(len(ab), size=min(per_frame, len(ab)), replace=False)])
    return np.concatenate(values).astype(np.float64)


def main() -> int:
    args = parse_args()
    try:
        cfg = Config.fromfile(args.config)
        init_default_scope(cfg.get('default_scope', 'corrflow'))
        check_config_components(cfg.train_dataloader.dataset, 'train_dataloader.dataset')
        if args.data_root and set_dataset_root(cfg.train_dataloader.dataset, args.data_root) == 0:
            raise ConfigError('--data-root: the training dataset takes no data_root')
        if not args.out.endswith(('.npy', '.json')):
            raise ConfigError(f'--out {args.out}: use a .npy or .json file name')
        ab = collect_ab(cfg, args.clips, args.pixels_per_frame, args.seed)
        centres = kmeans(ab, args.k, args.seed)
        save_centroids(args.out, centres)
    except Exception as err:
        message = user_error_message(err)
        if message is None:
            raise
        print(f'error: {message}', file=sys.stderr)
        return 1
    print(f'{len(centres)} centroids from {len(ab)} (a, b) samples written to {args.out}')
    for a, b in centres:
        print(f'  ({a:6.1f}, {b:6.1f})')
    return 0


if __name__ == '__main__':
    sys.exit(main())
