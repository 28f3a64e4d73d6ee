"""Propagate first-frame labels through one's own video: masks or keypoints.

Usage::

    python tools/propagate.py VIDEO FIRST_LABELS --checkpoint CKPT [--config CFG] [--out DIR] \
        [--threshold T] [--device cpu] [--amp [auto|bf16|fp16|fp32]] [--fps F] [--no-video]
        [--cfg-options k=v ...]

VIDEO is a video file (mp4, avi, webm, mkv, mov) or a folder of frames (read in
natural order, ``f2`` before ``f10``). FIRST_LABELS labels its first frame:

- an indexed (palette) or grayscale PNG of label ids (0 is background, ids
  below 255); a grayscale 0/255 mask is one object, and ``--threshold T`` turns
  any grayscale (e.g. anti-aliased) mask into one object where the value is >= T;
- a colour PNG: black is background, every other colour an object, numbered
  from 1 in order of first appearance (row-major); the colour -> id mapping is
  printed. At most 64 colours (flat colours, not an anti-aliased drawing);
- a keypoint JSON: ``[[x, y], ...]`` or ``{"keypoints": [[x, y], ...],
  "names": [...]}``, positions in pixels of the first frame.

The mask must have the frame size. CHECKPOINT is a corrflow checkpoint
(training checkpoint or model-zoo weights) or ``none`` to keep the initial
weights; a checkpoint of another architecture is refused, never loaded in part.
The model is that of ``--config`` (default ``configs/test/corrflow_davis.py``:
CorrFlow's protocol A at the native resolution).

Outputs, in ``--out`` (default ``work_dirs/propagate/<video name>/``):

- masks: ``masks/%05d.png``, one indexed PNG per frame (frame 0 included, the
  given labels) at the original frame size, with the DAVIS palette;
- keypoints: ``keypoints.json`` (``keypoints``: per frame, one [x, y] per
  joint; ``names`` when the input has them);
- ``overlay.mp4``: the masks (or keypoint trails) over the frames, full size,
  at the video's frame rate (``--fps``, 10 for a folder of frames);
- ``overlay.gif``: the same, shrunk to at most 480 pixels wide and to at most
  10 frames per second by keeping every k-th frame, so that it stays small;
- ``propagation.json``: the inputs and the propagation settings.

``--no-video`` skips the mp4 and the gif. Bad input (a missing or undecodable
file, a mask of another size, a malformed keypoint file, a checkpoint of
another architecture...) is reported as one ``error: ...`` line on stderr with
exit code 1.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import re
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import torch
from mmengine.config import DictAction
from mmengine.config.utils import ConfigParsingError
from mmengine.utils import ProgressBar

from corrflow.apis.inference import (init_model, load_test_config, propagate,
                                     read_first_labels, read_video)
from corrflow.datasets.video_io import DataError
from corrflow.evaluation.png_io import voc_palette, write_indexed_png
from corrflow.utils.checkpoint import CheckpointError
from corrflow.utils.launch import ConfigError, choose_threads, run_with_one_line_errors
from corrflow.utils.precision import AMP_CHOICES, PrecisionError
from corrflow.visualization import draw_keypoint_trails, overlay_masks, write_gif, write_video

#: Frame rate of the overlays when the video states none (a folder of frames).
DEFAULT_FPS = 10.0
#: The gif is shrunk to at most this width and this rate (frames are skipped).
GIF_MAX_WIDTH = 480
GIF_MAX_FPS = 10.0
#: Keypoint trails show this many past frames.
TRAIL_LENGTH = 8
_MASK_FILE = re.compile(r'\d{5}\.png')


class PropagateError(ValueError):
    """Bad command-line input; shown as ``error: <message>``."""


# Errors caused by the input, shown as one line; anything else is a bug and keeps its traceback.
USER_ERRORS = (PropagateError, DataError, CheckpointError, ConfigError, ConfigParsingError,
               PrecisionError, OSError)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line arguments (``sys.argv[1:]`` by default)."""
    parser = argparse.ArgumentParser(
        description='Propagate first-frame labels (mask or keypoints) through a video')
    parser.add_argument('video', help='a video file or a folder of frames')
    parser.add_argument('first_labels',
                        help='labels of the first frame: indexed / grey / colour PNG, or a '
                             'keypoint JSON')
    parser.add_argument('--checkpoint', required=True,
                        help='corrflow checkpoint, or "none" for the initial weights')
    parser.add_argument('--config', default=None,
                        help='test config defining the propagation (default '
                             'configs/test/corrflow_davis.py)')
    parser.add_argument('--out', default=None,
                        help='output folder (default work_dirs/propagate/<video name>)')
    parser.add_argument('--threshold', type=int, default=None,
                        help='grey mask: one object where the value is >= T (e.g. 128 for an '
                             'anti-aliased 0..255 mask)')
    parser.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu',
                        help='cpu, cuda or cuda:N (default: cuda when available)')
    parser.add_argument('--amp', nargs='?', const='auto', choices=AMP_CHOICES, default=None,
                        help='mixed precision of the backbone and the affinity products: bf16 '
                             'on GPUs that support it and on CPUs with bf16 matrix units (AMX), '
                             'fp16 on other GPUs, fp32 (with a warning) on other CPUs; or force '
                             'bf16 / fp16 / fp32 (default: the config\'s model.amp, fp32)')
    parser.add_argument('--fps', type=float, default=None,
                        help='frame rate of overlay.mp4 (default: the video\'s, 10 for frames)')
    parser.add_argument('--no-video', action='store_true',
                        help='write only the masks / keypoints, no overlay.mp4 / overlay.gif')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config keys, e.g. model.propagation.radius=8')
    return parser.parse_args(argv)


# ----------------------------------------------------------------------------- checks

def check_args(args: argparse.Namespace) -> None:
    """Refuse bad option values and missing inputs before anything is decoded or built."""
    if args.threshold is not None and not 1 <= args.threshold <= 255:
        raise PropagateError(f'--threshold must be in 1..255, got {args.threshold}')
    if args.fps is not None and not (math.isfinite(args.fps) and args.fps > 0):
        raise PropagateError(f'--fps must be > 0, got {args.fps:g}')
    try:
        device = torch.device(args.device)
    except RuntimeError:
        raise PropagateError(f'--device {args.device} is not a device (use cpu, cuda or '
                             'cuda:N)') from None
    if device.type == 'cuda' and not torch.cuda.is_available():
        raise PropagateError(f'--device {args.device}: no CUDA GPU is available; use --device '
                             'cpu')
    if not Path(args.video).exists():
        raise DataError(f'video {args.video} does not exist')
    if not Path(args.first_labels).is_file():
        raise DataError(f'first-frame labels {args.first_labels} do not exist (give a PNG mask '
                        'or a keypoint JSON of the first frame)')
    if args.checkpoint.lower() != 'none' and not Path(args.checkpoint).is_file():
        raise CheckpointError(f'checkpoint {args.checkpoint} does not exist (give a corrflow '
                              'checkpoint, or "none" for the initial weights)')


def default_out_dir(video: str) -> Path:
    path = Path(video)
    name = path.resolve().name if path.is_dir() else path.stem
    return Path('work_dirs') / 'propagate' / (name or 'video')


# ----------------------------------------------------------------------------- outputs

def write_masks(folder: Path, masks: np.ndarray) -> None:
    """``folder/%05d.png`` indexed PNGs (DAVIS palette); older numbered PNGs are removed."""
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.iterdir():
        if old.is_file() and _MASK_FILE.fullmatch(old.name):
            old.unlink()
    palette = voc_palette()
    for t, mask in enumerate(masks):
        write_indexed_png(str(folder / f'{t:05d}.png'), mask, palette)


def write_keypoints(path: Path, keypoints: np.ndarray, names: list[str] | None,
                    info: dict) -> None:
    """``keypoints.json``: per frame a list of [x, y] (pixels) per joint, one frame a line."""
    header = json.dumps(dict(info, names=names, num_joints=int(keypoints.shape[1])), indent=1)
    frames = np.round(keypoints.astype(np.float64), 2).tolist()
    body = ',\n'.join(f'  {json.dumps(points)}' for points in frames)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f'{header[:-2]},\n "keypoints": [\n{body}\n ]\n}}\n')


def gif_frames(frames: list[np.ndarray], fps: float) -> tuple[list[np.ndarray], float, int]:
    """Frames for the gif: every ``step``-th frame, at most GIF_MAX_WIDTH wide.

    Returns:
        tuple[list[np.ndarray], float, int]: the frames, their rate and the step.
    """
    step = max(1, math.ceil(fps / GIF_MAX_FPS - 1e-6))
    kept = frames[::step]
    H, W = kept[0].shape[:2]
    if W > GIF_MAX_WIDTH:
        size = (GIF_MAX_WIDTH, max(1, round(H * GIF_MAX_WIDTH / W)))
        kept = [cv2.resize(f, size, interpolation=cv2.INTER_AREA) for f in kept]
    return kept, fps / step, step


def write_overlays(out: Path, drawn: list[np.ndarray], fps: float) -> list[str]:
    """``overlay.mp4`` (every frame, full size) and ``overlay.gif`` (small); lines to print."""
    mp4, gif = out / 'overlay.mp4', out / 'overlay.gif'
    write_video(mp4, drawn, fps)
    small, gif_fps, step = gif_frames(drawn, fps)
    stored = write_gif(gif, small, gif_fps)
    H, W = small[0].shape[:2]
    every = f', every {step} frames' if step > 1 else ''
    return [f'overlay: {mp4} ({len(drawn)} frames, {fps:g} fps)',
            f'gif:     {gif} ({stored} frames, {W}x{H}, {gif_fps:g} fps{every})']


# ----------------------------------------------------------------------------- main

def run(args: argparse.Namespace) -> None:
    """Propagate and write every output."""
    check_args(args)
    cfg = load_test_config(args.config, args.cfg_options)
    out = Path(args.out) if args.out else default_out_dir(args.video)

    frames, video_fps = read_video(args.video)
    T, H, W = frames.shape[:3]
    if T < 2:
        raise DataError(f'video {args.video} has a single frame; nothing to propagate')
    labels = read_first_labels(args.first_labels, (H, W), args.threshold)
    fps = args.fps or video_fps or DEFAULT_FPS
    rate = f'{video_fps:g} fps' if video_fps else 'no frame rate'
    print(f'video: {args.video}: {T} frames of {W}x{H}, {rate}', flush=True)
    if 'mask' in labels:
        ids = [int(i) for i in np.unique(labels['mask']) if 0 < i < 255]
        print(f'first-frame labels: {args.first_labels}: {len(ids)} object(s), ids '
              f'{", ".join(map(str, ids))}', flush=True)
        if labels['colours']:
            palette = voc_palette()
            for i, colour in labels['colours'].items():
                print(f'  colour {colour} -> id {i} (drawn in {tuple(int(c) for c in palette[i])})')
    else:
        print(f'first-frame labels: {args.first_labels}: {len(labels["keypoints"])} keypoints',
              flush=True)

    model = init_model(cfg, args.checkpoint, args.device, amp=args.amp)
    print(f'model: {type(model.backbone).__name__}, protocol {model.describe()["protocol"]}, '
          f'checkpoint {args.checkpoint}, device {args.device}, precision '
          f'{model.precision.describe()}', flush=True)
    if str(args.device).startswith('cpu'):
        print(choose_threads(), flush=True)
    bar = ProgressBar(T - 1, file=sys.stdout)
    start = time.perf_counter()
    result = propagate(model, frames, labels.get('mask', labels.get('keypoints')),
                       progress=lambda t, total: bar.update())
    seconds = time.perf_counter() - start
    sys.stdout.write('\n')
    print(f'propagated {T - 1} frames in {seconds:.1f} s ({(T - 1) / seconds:.2f} frames/s)',
          flush=True)

    out.mkdir(parents=True, exist_ok=True)
    info = dict(video=str(args.video), first_labels=str(args.first_labels),
                num_frames=T, size=[W, H], fps=video_fps or None)
    lines = []
    if 'masks' in result:
        write_masks(out / 'masks', result['masks'])
        lines.append(f'masks:   {out / "masks"}/%05d.png ({T} indexed PNGs, {W}x{H}, DAVIS '
                     'palette)')
        drawn = None if args.no_video else [overlay_masks(f, m)
                                            for f, m in zip(frames, result['masks'])]
    else:
        write_keypoints(out / 'keypoints.json', result['keypoints'], labels['names'], info)
        lines.append(f'keypoints: {out / "keypoints.json"} ({T} frames x '
                     f'{result["keypoints"].shape[1]} joints)')
        drawn = None if args.no_video else list(
            draw_keypoint_trails(frames, result['keypoints'], tail=TRAIL_LENGTH))
    if drawn is not None:
        lines += write_overlays(out, drawn, fps)
    settings = dict(info, checkpoint=args.checkpoint, config=cfg.filename,
                    cfg_options=args.cfg_options, threshold=args.threshold, device=args.device,
                    seconds=round(seconds, 3), propagation=result['propagation'])
    if labels.get('colours'):
        settings['colours'] = {str(i): list(c) for i, c in labels['colours'].items()}
    (out / 'propagation.json').write_text(json.dumps(settings, indent=1, default=str))
    lines.append(f'settings: {out / "propagation.json"}')
    print('\n'.join(lines))


def main(argv: list[str] | None = None) -> int:
    """Run the tool; returns the exit code."""
    args = parse_args(argv)
    # FFmpeg's own log lines (e.g. "moov atom not found") would come before the one-line
    # error; decoding failures are reported by corrflow's messages instead.
    os.environ.setdefault('OPENCV_FFMPEG_LOGLEVEL', '-8')
    return run_with_one_line_errors(lambda: run(args), USER_ERRORS)


if __name__ == '__main__':
    sys.exit(main())
