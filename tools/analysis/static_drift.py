"""Drift of a propagation protocol on a static video: the same frame repeated.

Usage::

    python tools/analysis/static_drift.py FRAME MASK [--config CFG] [--checkpoint CKPT]
        [--frames 9] [--scale 0.5] [--cfg-options k=v ...] [--out FILE.json]

FRAME is an image and MASK its label PNG (e.g. a DAVIS frame and its
annotation). The frame is repeated ``--frames`` times and the mask propagated
through that video with the config's protocol. Nothing moves, so a drift-free
propagation returns the first mask at every frame; the tool prints, for each
frame, the area of every label and the IoU of the whole foreground with the
first mask. Under the CorrFlow protocol (raw dot products, hard labels) masks
shrink even here: keys with a large feature norm win the softmax, and the
re-one-hot labels never recover what they lose. ``CKPT`` ``none`` (default)
keeps the encoder's initial weights (a random encoder, or a pixel baseline).
Errors are one ``error: ...`` line and exit code 1.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import cv2
import numpy as np
from mmengine.config import DictAction
from mmengine.config.utils import ConfigParsingError

from corrflow.apis.inference import DEFAULT_CONFIG, init_model, propagate, read_first_labels
from corrflow.datasets.video_io import DataError, read_image
from corrflow.utils.checkpoint import CheckpointError
from corrflow.utils.launch import ConfigError, run_with_one_line_errors

USER_ERRORS = (DataError, CheckpointError, ConfigError, ConfigParsingError, OSError)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line arguments (``sys.argv[1:]`` by default)."""
    parser = argparse.ArgumentParser(
        description='Propagate a mask through one frame repeated, and report how it drifts')
    parser.add_argument('frame', help='an image file')
    parser.add_argument('mask', help='its label PNG (indexed, grayscale 0/255 or colour)')
    parser.add_argument('--config', default=str(DEFAULT_CONFIG),
                        help='test config (default: protocol A, configs/test/corrflow_davis.py)')
    parser.add_argument('--checkpoint', default='none',
                        help='weights, or "none" for the initial ones (default)')
    parser.add_argument('--frames', type=int, default=9, help='video length (default 9)')
    parser.add_argument('--scale', type=float, default=1.0,
                        help='resize frame and mask by this factor first (default 1)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, default=None,
                        help='config overrides, e.g. model.input_size=None')
    parser.add_argument('--out', default=None, help='also write the figures to this JSON file')
    return parser.parse_args(argv)


def mask_drift(masks: np.ndarray) -> list[dict]:
    """Per-frame label areas and foreground IoU with frame 0.

    Args:
        masks: (T, H, W) label ids, frame 0 the reference.

    Returns:
        list[dict]: ``frame``, ``areas`` ({id: pixels} for every id > 0 of
        frame 0) and ``iou`` (foreground vs frame 0's foreground; 1.0 when
        both are empty).
    """
    ref = masks[0] > 0
    ids = [int(i) for i in np.unique(masks[0]) if i > 0]
    rows = []
    for t, mask in enumerate(masks):
        fg = mask > 0
        union = np.logical_or(fg, ref).sum()
        iou = float(np.logical_and(fg, ref).sum() / union) if union else 1.0
        rows.append(dict(frame=t, areas={i: int((mask == i).sum()) for i in ids}, iou=iou))
    return rows


def run(args: argparse.Namespace) -> list[dict]:
    """Build the video, propagate, print and return the per-frame figures."""
    if args.frames < 2:
        raise ConfigError(f'--frames must be at least 2, got {args.frames}')
    if not 0 < args.scale <= 4:
        raise ConfigError(f'--scale must be in (0, 4], got {args.scale}')
    frame = read_image(args.frame)
    labels = read_first_labels(args.mask, frame.shape[:2])
    if 'mask' not in labels:
        raise DataError(f'{args.mask}: a label mask is needed here, not keypoints')
    mask = labels['mask']
    if args.scale != 1.0:
        h, w = frame.shape[:2]
        size = (max(1, round(w * args.scale)), max(1, round(h * args.scale)))
        frame = cv2.resize(frame, size, interpolation=cv2.INTER_AREA)
        mask = cv2.resize(mask, size, interpolation=cv2.INTER_NEAREST)
        if not mask.any():
            raise DataError(f'{args.mask}: nothing is labelled after scaling by {args.scale}')
    cfg_options = dict(args.cfg_options or {})
    checkpoint = None if args.checkpoint.lower() == 'none' else args.checkpoint
    model = init_model(args.config, checkpoint, cfg_options=cfg_options)
    result = propagate(model, np.stack([frame] * args.frames), mask)
    rows = mask_drift(result['masks'])
    print(f'{args.frames} copies of {args.frame} ({frame.shape[1]}x{frame.shape[0]}), '
          f'config {args.config}, checkpoint {args.checkpoint}')
    print('frame  ' + '  '.join(f'area[{i}]' for i in rows[0]['areas']) + '  IoU with frame 0')
    for row in rows:
        areas = '  '.join(f'{a:>8d}' for a in row['areas'].values())
        print(f'{row["frame"]:>5d}  {areas}  {row["iou"]:.4f}')
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        record = dict(frame=args.frame, mask=args.mask, config=args.config,
                      checkpoint=args.checkpoint, frames=args.frames, scale=args.scale,
                      cfg_options=cfg_options, propagation=result['propagation'], drift=rows)
        Path(args.out).write_text(json.dumps(record, indent=1, default=str))
    return rows


def main(argv: list[str] | None = None) -> int:
    """Run the tool; returns the exit code."""
    args = parse_args(argv)
    return run_with_one_line_errors(lambda: run(args), USER_ERRORS)


if __name__ == '__main__':
    sys.exit(main())
