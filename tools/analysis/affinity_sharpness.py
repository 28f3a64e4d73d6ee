"""How sharp a propagation protocol's window softmax is on real frames.

Usage::

    python tools/analysis/affinity_sharpness.py VIDEO [VIDEO ...] [--config CFG]
        [--checkpoint CKPT] [--max-frames 20] [--radius R] [--cfg-options k=v ...]
        [--out FILE.json]

Each VIDEO is a folder of frames or a video file. For every pair of
consecutive frames (t-1, t) among the first ``--max-frames``, each cell of
frame t is compared with the ``(2R+1)^2`` cells of frame t-1 around it, as the
config's protocol compares them: the same input size, the same features (unit
length where the protocol normalises), the same temperature, out-of-image
cells left out. The tool reports, per video and over all of them, the median
over cells of

- ``perplexity``: exp of the softmax's entropy, the number of keys a cell
  effectively averages over (1 = one key, the window size = uniform);
- ``top1``: the largest weight;
- ``logit_range``: the largest minus the smallest affinity before the softmax.

A protocol that copies hard labels from the previous frame (protocol A) blurs
the labels by this much at every step. ``CKPT`` ``none`` (default) keeps the
encoder's initial weights. Errors are one ``error: ...`` line and exit code 1.
"""
from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import numpy as np
import torch
from mmengine.config import DictAction
from mmengine.config.utils import ConfigParsingError
from torch import Tensor

from corrflow.apis.inference import DEFAULT_CONFIG, init_model, read_video
from corrflow.datasets.video_io import DataError
from corrflow.models.layers.local_attention import local_affinity
from corrflow.models.layers.propagation import padded_size
from corrflow.utils.checkpoint import CheckpointError
from corrflow.utils.launch import ConfigError, run_with_one_line_errors

USER_ERRORS = (DataError, CheckpointError, ConfigError, ConfigParsingError, OSError)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line arguments (``sys.argv[1:]`` by default)."""
    parser = argparse.ArgumentParser(
        description="Measure how sharp a protocol's window softmax is between consecutive frames")
    parser.add_argument('videos', nargs='+', help='folders of frames or video files')
    parser.add_argument('--config', default=str(DEFAULT_CONFIG),
                        help='test config (default: protocol A, configs/test/corrflow_davis.py)')
    parser.add_argument('--checkpoint', default='none',
                        help='weights, or "none" for the initial ones (default)')
    parser.add_argument('--max-frames', type=int, default=20,
                        help='frames read from the start of each video (default 20)')
    parser.add_argument('--radius', type=int, default=None,
                        help="window radius in cells (default: the protocol's)")
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, default=None,
                        help='config overrides, e.g. model.propagation.temperature=0.1')
    parser.add_argument('--out', default=None, help='also write the figures to this JSON file')
    return parser.parse_args(argv)


def sharpness(logits: Tensor, temperature: float) -> dict[str, Tensor]:
    """Per-cell perplexity, top-1 weight and logit range of a (K, h, w) window softmax."""
    prob = torch.softmax(logits / temperature, dim=0)
    log_prob = torch.log_softmax(logits / temperature, dim=0)
    entropy = -(prob * log_prob.nan_to_num(neginf=0.0)).sum(0)
    finite = logits.isfinite()
    high = logits.masked_fill(~finite, float('-inf')).amax(0)
    low = logits.masked_fill(~finite, float('inf')).amin(0)
    return dict(perplexity=entropy.exp(), top1=prob.amax(0), logit_range=high - low)


def video_features(model, frames: np.ndarray) -> list[Tensor]:
    """(T, H, W, 3) uint8 -> per frame (1, C, h, w) features as the protocol compares them."""
    proc = model.processing_size(frames.shape[1:3])
    padded = padded_size(proc, model.size_divisor)
    video = torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2)
    with torch.no_grad():
        return [model.frame_features(frame, proc, padded).float() for frame in video]


def measure(model, frames: np.ndarray, radius: int, temperature: float) -> dict[str, float]:
    """Median figures over all cells of all consecutive pairs of one video."""
    feats = video_features(model, frames)
    values: dict[str, list[Tensor]] = dict(perplexity=[], top1=[], logit_range=[])
    for prev, cur in zip(feats, feats[1:]):
        figures = sharpness(local_affinity(cur, prev, radius)[0], temperature)
        for key, value in figures.items():
            values[key].append(value.flatten())
    return {key: float(torch.cat(v).median()) for key, v in values.items()}


def run(args: argparse.Namespace) -> dict:
    """Measure every video, print a table and return the record."""
    if args.max_frames < 2:
        raise ConfigError(f'--max-frames must be at least 2, got {args.max_frames}')
    cfg_options = dict(args.cfg_options or {})
    checkpoint = None if args.checkpoint.lower() == 'none' else args.checkpoint
    model = init_model(args.config, checkpoint, cfg_options=cfg_options)
    protocol = model.protocol
    radius = args.radius if args.radius is not None else getattr(protocol, 'radius', None)
    if radius is None or radius < 0:
        raise ConfigError(f'{type(protocol).__name__} compares whole frames; give a window '
                          'radius with --radius')
    temperature = float(getattr(protocol, 'temperature', 1.0))
    videos = []
    for source in args.videos:
        frames, _ = read_video(source, max_frames=args.max_frames)
        if len(frames) < 2:
            raise DataError(f'video {source} has {len(frames)} frame; at least 2 are needed')
        videos.append(dict(video=str(source), frames=len(frames),
                           **measure(model, frames, radius, temperature)))
    window = (2 * radius + 1) ** 2
    print(f'config {args.config}, checkpoint {args.checkpoint}, radius {radius} '
          f'({window} keys), temperature {temperature:g}, feature norm '
          f'{model.describe().get("feature_norm") or "none"}')
    print(f'{"video":<40s} {"pairs":>5s} {"perplexity":>10s} {"top1":>7s} {"logit range":>11s}')
    for row in videos:
        print(f'{Path(row["video"]).name:<40s} {row["frames"] - 1:>5d} '
              f'{row["perplexity"]:>10.2f} {row["top1"]:>7.3f} {row["logit_range"]:>11.3f}')
    overall = {key: float(np.median([row[key] for row in videos]))
               for key in ('perplexity', 'top1', 'logit_range')}
    print(f'{"median over videos":<40s} {"":>5s} {overall["perplexity"]:>10.2f} '
          f'{overall["top1"]:>7.3f} {overall["logit_range"]:>11.3f}   '
          f'(uniform: perplexity {window}, top1 {1 / window:.4f}; log {math.log(window):.2f})')
    record = dict(config=args.config, checkpoint=args.checkpoint, cfg_options=cfg_options,
                  radius=radius, window=window, temperature=temperature,
                  propagation=model.describe(), videos=videos, median_over_videos=overall)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(record, indent=1, default=str))
    return record


def main(argv: list[str] | None = None) -> int:
    """Run the tool; returns the exit code."""
    args = parse_args(argv)
    return run_with_one_line_errors(lambda: run(args), USER_ERRORS)


if __name__ == '__main__':
    sys.exit(main())
