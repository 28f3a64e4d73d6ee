"""Visualise results and features as image and video files (no windows, no servers).

Usage::

    python tools/analysis/visualize.py davis RESULTS_DIR DAVIS_ROOT --out DIR \
        [--sequences ...] [--format mp4|gif|png] [--fps 10] [--alpha 0.5]
    python tools/analysis/visualize.py features VIDEO_OR_FRAMES --checkpoint CKPT \
        [--config CFG] --out DIR [--max-frames 30]
    python tools/analysis/visualize.py attention VIDEO_OR_FRAMES --checkpoint CKPT \
        --pixel X Y [--frames 0 1 2 ...] [--config CFG] [--radius R] --out DIR
    python tools/analysis/visualize.py keypoints RESULTS_JSON_DIR JHMDB_ROOT --out DIR \
        [--tail 8] [--format mp4|gif|png]

- ``davis``: every sequence of a DAVIS result folder (``<seq>/<frame>.png``,
  indexed PNGs) drawn over its frames ``DAVIS_ROOT/JPEGImages/480p/<seq>/``,
  side by side with the GT (``Annotations/480p``) where it exists.
  Writes ``DIR/<seq>.mp4`` / ``.gif`` or ``DIR/<seq>/%05d.png``.
- ``features``: each frame's embedding coloured by its first three principal
  components (one PCA basis for all frames, so colours are comparable across
  frames): ``DIR/%05d.png`` (frame | PCA map) and ``DIR/features.mp4``.
- ``attention``: follows pixel (X, Y) of the first listed frame (by default
  frames 0-4) through the others by restricted attention. Panel t shows the softmax weights that the
  tracked location of frame t-1 gives to the keys of frame t inside its window
  (the (2R+1)^2 cells around the same position, drawn as a box): exactly the
  weights label propagation uses to copy a label to that location (raw dot
  products for CorrFlow's protocol A; L2-normalised features and the
  config's temperature for protocol B, without the top-k cut). The weight
  maximum (the cross) becomes the query of the next step. Writes
  ``DIR/attention_%02d.png`` per frame, ``DIR/attention_strip.png`` and
  ``DIR/track.json`` (cells, pixels and peak weights).
- ``keypoints``: trails of the keypoints written by the JHMDB metric
  (``WORK_DIR/jhmdb/keypoints/<action>/<video>.json``; pass that folder or
  ``WORK_DIR/jhmdb``) over ``JHMDB_ROOT/Rename_Images/<action>/<video>/``, with
  the GT joints as rings where ``joint_positions`` has them.
  Writes ``DIR/<action>/<video>.mp4`` (or ``.gif`` / a PNG folder).

``features`` and ``attention`` build the model of ``--config`` (default
``configs/test/corrflow_davis.py``) and load ``--checkpoint`` with
``corrflow.utils.load_model_weights``; ``--checkpoint none`` keeps the
initial (random) weights. Frames are embedded exactly as label propagation
embeds them (the config's input size and padding). VIDEO_OR_FRAMES is a video
file or a folder of image frames. Bad input is reported as one ``error: ...``
line with exit code 1.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import cv2
import numpy as np
import torch

from corrflow.datasets.video_io import DataError, read_image
from corrflow.evaluation.png_io import read_png_ids
from corrflow.models.layers.propagation import padded_size, resample_to_image
from corrflow.utils.checkpoint import CheckpointError
from corrflow.utils.launch import run_with_one_line_errors
from corrflow.visualization import (add_caption, chained_attention_maps, draw_keypoint_trails,
                                    draw_keypoints, hstack_images, list_frame_files,
                                    overlay_heatmap, overlay_masks, pca_colour_features,
                                    read_frames, write_gif, write_images, write_video)

DEFAULT_CONFIG = 'configs/test/corrflow_davis.py'
FORMATS = ('mp4', 'gif', 'png')


class VisualizeError(ValueError):
    """Bad input to a subcommand; shown as ``error: <message>``."""


# ----------------------------------------------------------------------------- arguments

def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line arguments (``sys.argv[1:]`` by default)."""
    parser = argparse.ArgumentParser(
        description='Visualise DAVIS results, features, attention and keypoint tracks')
    sub = parser.add_subparsers(dest='command', required=True)

    davis = sub.add_parser('davis', help='overlays of a DAVIS result folder (with the GT)')
    davis.add_argument('results_dir', help='folder of <seq>/<frame>.png indexed PNGs')
    davis.add_argument('davis_root', help='DAVIS root with JPEGImages/480p (and Annotations/480p)')
    davis.add_argument('--sequences', nargs='+', help='sequences (default: all result folders)')
    _output_args(davis)
    davis.add_argument('--alpha', type=float, default=0.5, help='mask opacity')
    davis.add_argument('--scale', type=float, default=1.0,
                       help='resize the panels by this factor (e.g. 0.4 for a small GIF)')
    davis.add_argument('--step', type=int, default=1, help='show every STEP-th frame')
    davis.add_argument('--max-frames', type=int, default=None,
                       help='stop after this many shown frames (default: all)')

    for name, text in (('features', 'PCA-coloured embeddings of each frame'),
                       ('attention', 'restricted attention of one pixel, chained over frames')):
        cmd = sub.add_parser(name, help=text)
        cmd.add_argument('source', help='a video file or a folder of frames')
        cmd.add_argument('--checkpoint', required=True,
                         help='corrflow checkpoint, or "none" for the initial weights')
        cmd.add_argument('--config', default=DEFAULT_CONFIG,
                         help=f'test config defining the model (default {DEFAULT_CONFIG})')
        cmd.add_argument('--out', required=True, help='output folder')
        cmd.add_argument('--fps', type=float, default=10.0, help='frame rate of the mp4')
        cmd.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
        if name == 'features':
            cmd.add_argument('--max-frames', type=int, default=30,
                             help='use the first N frames (default 30)')
        else:
            cmd.add_argument('--pixel', type=float, nargs=2, required=True, metavar=('X', 'Y'),
                             help='query pixel (x, y) of the first listed frame')
            cmd.add_argument('--frames', type=int, nargs='+', default=None,
                             help='frame indices, the query frame first (default: the first 5)')
            cmd.add_argument('--radius', type=int, default=None,
                             help="window radius in cells (default: the config's propagation)")

    keypoints = sub.add_parser('keypoints', help='trails of JHMDB keypoint results')
    keypoints.add_argument('results_dir', help='WORK_DIR/jhmdb/keypoints (or WORK_DIR/jhmdb)')
    keypoints.add_argument('jhmdb_root', help='JHMDB root with Rename_Images/ (joint_positions/)')
    keypoints.add_argument('--videos', nargs='+', help='<action>/<video> names (default: all)')
    keypoints.add_argument('--tail', type=int, default=8, help='trail length in frames')
    _output_args(keypoints)
    return parser.parse_args(argv)


def _output_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument('--out', required=True, help='output folder')
    parser.add_argument('--format', choices=FORMATS, default='mp4',
                        help='mp4 video, gif, or a folder of png frames')
    parser.add_argument('--fps', type=float, default=10.0, help='frame rate of mp4 / gif')


def write_sequence(frames: list[np.ndarray], out_base: Path, fmt: str, fps: float) -> str:
    """Write frames as ``out_base.mp4`` / ``.gif`` or the folder ``out_base/``; returns the path."""
    if fmt == 'png':
        write_images(out_base, frames)
        return f'{out_base}/'
    path = out_base.with_name(f'{out_base.name}.{fmt}')
    (write_video if fmt == 'mp4' else write_gif)(path, frames, fps)
    return str(path)


# ----------------------------------------------------------------------------- davis

def _result_sequences(results_dir: Path, davis_root: Path, wanted: list[str] | None) -> list[str]:
    frames_root = davis_root / 'JPEGImages' / '480p'
    if wanted:
        for seq in wanted:
            if not (results_dir / seq).is_dir():
                raise VisualizeError(f'{results_dir / seq}: result folder missing')
            if not (frames_root / seq).is_dir():
                raise VisualizeError(f'{frames_root / seq}: frames of {seq} missing')
        return list(wanted)
    seqs = sorted(p.name for p in results_dir.iterdir()
                  if p.is_dir() and any(p.glob('*.png')))
    if not seqs:
        raise VisualizeError(f'{results_dir} holds no <seq>/*.png result folders')
    missing = [s for s in seqs if not (frames_root / s).is_dir()]
    if missing:
        print(f'warning: no frames under {frames_root} for {len(missing)} result folders, '
              f'skipped: {", ".join(missing)}', file=sys.stderr)
    seqs = [s for s in seqs if s not in missing]
    if not seqs:
        raise VisualizeError(f'none of the result folders of {results_dir} has frames under '
                             f'{frames_root}')
    return seqs


def _read_ids(path: Path, size: tuple[int, int], seen: dict) -> np.ndarray | None:
    """Ids of an indexed PNG at frame size (nearest resize if needed); None if absent.

    Masks of another size than their frames are resized, with one warning, as
    long as all of them share that size; a folder that mixes sizes is refused.
    """
    if not path.is_file():
        return None
    try:
        ids = read_png_ids(str(path))
    except DataError as err:
        raise VisualizeError(str(err)) from None
    if ids is None:
        raise VisualizeError(f'{path}: not an 8-bit indexed (palette or grayscale) PNG')
    if ids.shape != size:
        other, first = seen.setdefault('other_size', (ids.shape, path))
        if other != ids.shape:
            raise VisualizeError(f'{path} is {ids.shape[1]}x{ids.shape[0]} but {first} is '
                                 f'{other[1]}x{other[0]} (the frames are {size[1]}x{size[0]}): '
                                 'the masks mix sizes; write them all at one size')
        if not seen.get('warned'):
            seen['warned'] = True
            print(f'warning: {path} is {ids.shape[1]}x{ids.shape[0]}, the frame '
                  f'{size[1]}x{size[0]}: masks are resized (nearest)', file=sys.stderr)
        ids = cv2.resize(ids, (size[1], size[0]), interpolation=cv2.INTER_NEAREST)
    return ids


def _rescale(image: np.ndarray, *masks: np.ndarray | None, scale: float = 1.0):
    """A frame resized by ``scale`` (area / linear) and its id maps (nearest)."""
    h, w = image.shape[:2]
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    out = [cv2.resize(image, size, interpolation=interp)]
    out += [None if m is None else cv2.resize(m, size, interpolation=cv2.INTER_NEAREST)
            for m in masks]
    return out


def cmd_davis(args: argparse.Namespace) -> None:
    """Overlays of every result sequence, side by side with the GT."""
    results_dir, root, out = Path(args.results_dir), Path(args.davis_root), Path(args.out)
    if not results_dir.is_dir():
        raise VisualizeError(f'RESULTS_DIR {results_dir} is not a folder')
    if not (root / 'JPEGImages' / '480p').is_dir():
        raise VisualizeError(f'DAVIS_ROOT {root} has no JPEGImages/480p folder')
    if not 0.0 <= args.alpha <= 1.0:
        raise VisualizeError(f'--alpha must be in [0, 1], got {args.alpha}')
    if not 0.0 < args.scale <= 4.0:
        raise VisualizeError(f'--scale must be in (0, 4], got {args.scale}')
    if args.step < 1 or (args.max_frames is not None and args.max_frames < 1):
        raise VisualizeError(f'--step and --max-frames must be >= 1, got {args.step} and '
                             f'{args.max_frames}')
    for seq in _result_sequences(results_dir, root, args.sequences):
        files = list_frame_files(root / 'JPEGImages' / '480p' / seq)
        if not files:
            raise VisualizeError(f'{root / "JPEGImages" / "480p" / seq} holds no frames')
        files = files[::args.step][:args.max_frames]
        gt_dir = root / 'Annotations' / '480p' / seq
        has_gt = gt_dir.is_dir()
        frames, shown, seen = [], 0, {}
        for path in files:
            image = read_image(path)
            pred = _read_ids(results_dir / seq / f'{path.stem}.png', image.shape[:2], seen)
            gt = (_read_ids(gt_dir / f'{path.stem}.png', image.shape[:2], {})
                  if has_gt else None)
            if args.scale != 1.0:  # masks resized with the frame, before drawing the contours
                image, pred, gt = _rescale(image, pred, gt, scale=args.scale)
            shown += pred is not None
            left = add_caption(overlay_masks(image, pred, alpha=args.alpha) if pred is not None
                               else image, f'{seq} {path.stem} result' +
                               ('' if pred is not None else ' (none)'))
            panels = [left]
            if has_gt:
                panels.append(add_caption(overlay_masks(image, gt, alpha=args.alpha)
                                          if gt is not None else image,
                                          'GT' if gt is not None else 'GT (none)'))
            frames.append(hstack_images(panels))
        target = write_sequence(frames, out / seq, args.format, args.fps)
        print(f'{seq}: {len(frames)} frames, {shown} with a result'
              f'{", with GT" if has_gt else ""} -> {target}', flush=True)


# ----------------------------------------------------------------------------- model

def load_model(config: str, checkpoint: str, device: str) -> torch.nn.Module:
    """The label-propagation model of a config, with the checkpoint's weights."""
    from mmengine.registry import init_default_scope

    from corrflow.apis.inference import load_test_config
    from corrflow.registry import MODELS
    from corrflow.utils import load_model_weights

    cfg = load_test_config(config)
    init_default_scope(cfg.get('default_scope', 'corrflow'))
    model = MODELS.build(cfg.model)
    if not all(hasattr(model, a) for a in ('embed', 'processing_size', 'stride', 'protocol')):
        raise VisualizeError(f'config {config} builds a {type(model).__name__}; use a test '
                             'config (a LabelPropagator), e.g. ' + DEFAULT_CONFIG)
    if checkpoint.lower() != 'none':
        load_model_weights(model, checkpoint)
    return model.to(device).eval()


@torch.no_grad()
def embed_frames(model: torch.nn.Module,
                 frames: list[np.ndarray]) -> tuple[torch.Tensor, tuple[int, int]]:
    """Embed frames on the model's device as label propagation does (resize, bottom/right
    replicate padding: ``LabelPropagator._prepare``).

    Returns:
        tuple[Tensor, tuple[int, int]]: (T, C, h, w) features on the CPU (the
        padded frame's grid) and the (Hp, Wp) size the frames were processed at.
    """
    H, W = frames[0].shape[:2]
    for t, frame in enumerate(frames):
        if frame.shape[:2] != (H, W):
            raise VisualizeError(f'frame {t} is {frame.shape[1]}x{frame.shape[0]}, frame 0 is '
                                 f'{W}x{H}: all frames must have one size')
    proc = tuple(model.processing_size((H, W)))
    padded = padded_size(proc, model.size_divisor)
    feats = []
    for frame in frames:
        x = model._prepare(torch.from_numpy(frame).permute(2, 0, 1), proc, padded)
        feats.append(model.embed(x)[0].float().cpu())  # (C, h, w)
    return torch.stack(feats), proc


def cmd_features(args: argparse.Namespace) -> None:
    """PCA colours of each frame's embedding: PNGs and an mp4."""
    if args.max_frames < 1:
        raise VisualizeError(f'--max-frames must be >= 1, got {args.max_frames}')
    frames, names = read_frames(args.source, max_frames=args.max_frames)
    model = load_model(args.config, args.checkpoint, args.device)
    feats, proc = embed_frames(model, frames)
    H, W = frames[0].shape[:2]
    colours = pca_colour_features(feats)  # (T, h, w, 3) uint8, one basis for all frames
    grid = torch.from_numpy(colours).permute(0, 3, 1, 2).float()  # (T, 3, h, w)
    full = resample_to_image(grid, model.stride, proc, (H, W))  # (T, 3, H, W)
    full = full.round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).numpy()
    panels = [hstack_images([add_caption(frame, name), add_caption(pca, 'PCA of embedding')])
              for frame, name, pca in zip(frames, names, full)]
    out = Path(args.out)
    write_images(out, panels)
    write_video(out / 'features.mp4', panels, args.fps)
    print(f'{len(frames)} frames, {feats.shape[1]}-d features on a {feats.shape[2]}x'
          f'{feats.shape[3]} grid (stride {model.stride}) -> {out}/%05d.png, {out}/features.mp4')


# ----------------------------------------------------------------------------- attention

def _marker(image: np.ndarray, xy: tuple[float, float], colour=(255, 255, 255)) -> np.ndarray:
    """Draw a cross (dark outline) at pixel (x, y) of a copy of the image."""
    out = image.copy()
    x, y = int(round(xy[0])), int(round(xy[1]))
    cv2.drawMarker(out, (x, y), (0, 0, 0), cv2.MARKER_CROSS, 15, 4)
    cv2.drawMarker(out, (x, y), colour, cv2.MARKER_CROSS, 15, 2)
    return out


def _window_box(image: np.ndarray, cell: tuple[int, int], radius: int, stride: int,
                proc: tuple[int, int]) -> np.ndarray:
    """Draw the image-space outline of the (2R+1)^2 window around a cell."""
    H, W = image.shape[:2]
    sx, sy = W / proc[1], H / proc[0]
    x0 = ((cell[0] - radius - 0.5) * stride + 0.5) * sx - 0.5
    x1 = ((cell[0] + radius + 0.5) * stride + 0.5) * sx - 0.5
    y0 = ((cell[1] - radius - 0.5) * stride + 0.5) * sy - 0.5
    y1 = ((cell[1] + radius + 0.5) * stride + 0.5) * sy - 0.5
    out = image.copy()
    cv2.rectangle(out, (int(round(x0)), int(round(y0))), (int(round(x1)), int(round(y1))),
                  (255, 255, 255), 1, cv2.LINE_AA)
    return out


def cmd_attention(args: argparse.Namespace) -> None:
    """Chained restricted attention of one pixel: PNGs per frame, a strip and the track."""
    if args.frames is not None and len(args.frames) < 2:
        raise VisualizeError('--frames needs at least two frames (the query frame first)')
    frames, names = read_frames(args.source, indices=args.frames,
                                max_frames=5 if args.frames is None else None)
    if len(frames) < 2:
        raise VisualizeError(f'{args.source} has a single frame; attention needs two or more')
    indices = args.frames or list(range(len(frames)))
    H, W = frames[0].shape[:2]
    x, y = args.pixel
    if not (0 <= x < W and 0 <= y < H):
        raise VisualizeError(f'--pixel {x:g} {y:g} lies outside the {W}x{H} frame')
    model = load_model(args.config, args.checkpoint, args.device)
    protocol = model.protocol
    radius = args.radius if args.radius is not None else int(getattr(protocol, 'radius', 6))
    if radius < 0:
        raise VisualizeError(f'--radius must be >= 0, got {radius}')
    feats, proc = embed_frames(model, frames)
    feats = protocol.prepare_features(feats)
    temperature = float(getattr(protocol, 'temperature', 1.0))
    maps = chained_attention_maps(feats, (x, y), model.stride, radius, (H, W), proc, temperature)

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    first = _window_box(_marker(frames[0], (x, y)), maps[0].query_cell, radius, model.stride,
                        proc)
    panels = [add_caption(first, f'frame {indices[0]}: query ({x:g}, {y:g})')]
    track = [dict(frame=indices[0], name=names[0], pixel=[x, y],
                  cell=list(maps[0].query_cell))]
    uniform = 1.0 / (2 * radius + 1) ** 2  # the weight of every key when nothing matches
    for idx, name, frame, result in zip(indices[1:], names[1:], frames[1:], maps):
        image = overlay_heatmap(frame, result.heatmap, alpha=0.6)
        image = _window_box(image, result.query_cell, radius, model.stride, proc)
        image = _marker(image, result.peak_pixel)
        weight = float(result.weights.max())
        px, py = result.peak_pixel
        panels.append(add_caption(image, f'frame {idx}: peak {weight:.3f} (uniform {uniform:.3f})'
                                         f' at ({px:.0f}, {py:.0f})'))
        track.append(dict(frame=idx, name=name, pixel=[round(v, 2) for v in result.peak_pixel],
                          cell=list(result.peak_cell), query_cell=list(result.query_cell),
                          peak_weight=round(weight, 6)))
    for i, panel in enumerate(panels):
        write_images_named(out / f'attention_{i:02d}.png', panel)
    write_images_named(out / 'attention_strip.png', hstack_images(panels))
    settings = dict(radius=radius, stride=model.stride, temperature=temperature,
                    protocol=protocol.describe(),
                    processed_size=list(proc), checkpoint=args.checkpoint, config=args.config)
    with open(out / 'track.json', 'w') as f:
        json.dump(dict(source=str(args.source), settings=settings, track=track), f, indent=1)
    print(f'{len(maps)} attention maps (R={radius}, stride {model.stride}, T={temperature:g}) '
          f'-> {out}/attention_*.png, {out}/track.json')


def write_images_named(path: Path, image: np.ndarray) -> None:
    """Write one RGB image to an exact path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), cv2.cvtColor(image, cv2.COLOR_RGB2BGR)):
        raise OSError(f'cannot write {path}')


# ----------------------------------------------------------------------------- keypoints

def _keypoint_files(results_dir: Path, videos: list[str] | None) -> list[Path]:
    if (results_dir / 'keypoints').is_dir():
        results_dir = results_dir / 'keypoints'
    if not results_dir.is_dir():
        raise VisualizeError(f'{results_dir} is not a folder of keypoint results')
    files = sorted(results_dir.rglob('*.json'))
    if videos:
        wanted = {v.strip('/') for v in videos}
        files = [f for f in files if f.relative_to(results_dir).with_suffix('').as_posix()
                 in wanted]
        found = {f.relative_to(results_dir).with_suffix('').as_posix() for f in files}
        missing = sorted(wanted - found)
        if missing:
            raise VisualizeError(f'no keypoint result for {", ".join(missing)} in {results_dir}')
    if not files:
        raise VisualizeError(f'no <action>/<video>.json keypoint results under {results_dir}')
    return files


def _load_keypoints(path: Path) -> tuple[str, list | None, np.ndarray]:
    try:
        data = json.loads(path.read_text())
        video, points = data['video'], np.asarray(data['keypoints'], dtype=np.float64)
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise VisualizeError(f'{path}: not a keypoint result file ({err})') from None
    if points.ndim != 3 or points.shape[2] != 2:
        raise VisualizeError(f'{path}: keypoints must be (T, J, 2), got {points.shape}')
    return str(video), data.get('frames'), points


def cmd_keypoints(args: argparse.Namespace) -> None:
    """Keypoint trails (with GT rings) of every result video."""
    from corrflow.datasets.transforms.video_transforms import read_jhmdb_joints

    root, out = Path(args.jhmdb_root), Path(args.out)
    if args.tail < 0:
        raise VisualizeError(f'--tail must be >= 0, got {args.tail}')
    if not (root / 'Rename_Images').is_dir():
        raise VisualizeError(f'JHMDB_ROOT {root} has no Rename_Images folder')
    for path in _keypoint_files(Path(args.results_dir), args.videos):
        video, names, points = _load_keypoints(path)
        folder = root / 'Rename_Images' / video
        if not folder.is_dir():
            raise VisualizeError(f'{path}: frames of {video} not found in {folder}')
        files = list_frame_files(folder)
        if names:
            by_stem = {p.stem: p for p in files}
            missing = [n for n in names if n not in by_stem]
            if missing:
                raise VisualizeError(f'{path}: frame {missing[0]} of {video} not in {folder}')
            files = [by_stem[n] for n in names]
        if len(files) < len(points):
            raise VisualizeError(f'{path}: {len(points)} frames of keypoints, {len(files)} '
                                 f'frames in {folder}')
        frames = [read_image(p) for p in files[:len(points)]]
        drawn = draw_keypoint_trails(frames, points, tail=args.tail)
        mat = root / 'joint_positions' / video / 'joint_positions.mat'
        gt = read_jhmdb_joints(mat) if mat.is_file() else None
        if gt is not None and gt.shape[1] == points.shape[1]:
            drawn = [draw_keypoints(img, gt[t], radius=5, filled=False) if t < len(gt) else img
                     for t, img in enumerate(drawn)]
        target = write_sequence(list(drawn), out / video, args.format, args.fps)
        print(f'{video}: {len(points)} frames, {points.shape[1]} joints'
              f'{", GT rings" if gt is not None else ""} -> {target}', flush=True)


# ----------------------------------------------------------------------------- main

COMMANDS = dict(davis=cmd_davis, features=cmd_features, attention=cmd_attention,
                keypoints=cmd_keypoints)


def main(argv: list[str] | None = None) -> int:
    """Run one subcommand; returns the exit code."""
    args = parse_args(argv)
    return run_with_one_line_errors(lambda: COMMANDS[args.command](args),
                                    (VisualizeError, DataError, CheckpointError, OSError))


if __name__ == '__main__':
    sys.exit(main())
