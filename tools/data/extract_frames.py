"""Extract the frames of a folder of videos, resampled and resized, in parallel and resumably.

Usage::

    python tools/data/extract_frames.py SRC_DIR DST_DIR [--fps 6 | --every N] \
        [--short-side 256] [--workers N] [--ext jpg] [--quality 90]

Every video under SRC_DIR (recursively; extensions of
``corrflow.datasets.video_io.VIDEO_EXTENSIONS``) becomes
``DST_DIR/<relative path without extension>/%05d.<ext>``, numbered from 0.
Two videos that differ only in their extension (``a.mp4``, ``a.avi``) keep it
in the folder name (``a_mp4/``, ``a_avi/``).

- ``--fps F`` (default 6) keeps the frames nearest to the times k/F: frame
  ``round(k * source_fps / F)`` for k = 0, 1, ... (every frame when the source
  is not faster than F or states no frame rate); ``--every N`` keeps frames
  0, N, 2N, ... instead.
- ``--short-side S`` resizes so that the shorter side is S pixels, keeping the
  aspect ratio (area interpolation when shrinking); 0 keeps the size.
- A finished video gets a ``.done`` marker (JSON: frame count, settings, the
  source's frame rate and ``fps``, the rate of the written frames, at which
  ``VideoFolder`` samples the folder); a video whose folder has one for the
  same settings and frame count is skipped, any other folder (a partial run,
  other settings) is cleared and redone. Only frame files (digits +
  extension) and the marker are removed.
- Videos run in a process pool (``forkserver`` workers, one OpenCV thread
  each). Files that cannot be decoded are skipped and listed at the end.

Prints one line per video and a summary; exit code 0 if at least one video was
extracted or already done, 1 (``error: ...``) if none was.
"""
from __future__ import annotations

import argparse
import json
import math
import multiprocessing
import os
import re
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Callable, Iterator

import av
import cv2
import numpy as np

from corrflow.datasets.video_io import (FRAMES_MARKER, VIDEO_EXTENSIONS, DataError,
                                        extracted_frame_rate, probe_video)

MARKER = FRAMES_MARKER
FRAME_FILE = re.compile(r'\d+\.(jpg|jpeg|png)')


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line arguments (``sys.argv[1:]`` by default)."""
    parser = argparse.ArgumentParser(
        description='Extract frames of videos at a target rate and size (resumable)')
    parser.add_argument('src_dir', help='folder searched recursively for videos')
    parser.add_argument('dst_dir', help='output root: DST_DIR/<relative video path>/%%05d.<ext>')
    rate = parser.add_mutually_exclusive_group()
    rate.add_argument('--fps', type=float, default=None,
                      help='target frame rate (default 6; the paper samples at about 6 fps)')
    rate.add_argument('--every', type=int, default=None, help='keep every N-th frame instead')
    parser.add_argument('--short-side', type=int, default=256,
                        help='resize so the shorter side has this many pixels (0: keep)')
    parser.add_argument('--workers', type=int, default=None,
                        help='parallel videos (default: number of CPUs)')
    parser.add_argument('--ext', choices=['jpg', 'jpeg', 'png'], default='jpg',
                        help='image format of the frames')
    parser.add_argument('--quality', type=int, default=90, help='JPEG quality (1-100)')
    args = parser.parse_args(argv)
    if args.every is None and args.fps is None:
        args.fps = 6.0
    if args.fps is not None and not args.fps > 0:
        parser.error(f'--fps must be > 0, got {args.fps}')
    if args.every is not None and args.every < 1:
        parser.error(f'--every must be >= 1, got {args.every}')
    if args.short_side < 0:
        parser.error(f'--short-side must be >= 0, got {args.short_side}')
    if not 1 <= args.quality <= 100:
        parser.error(f'--quality must be in 1..100, got {args.quality}')
    if args.workers is not None and args.workers < 1:
        parser.error(f'--workers must be >= 1, got {args.workers}')
    return args


def find_videos(src_dir: Path) -> list[Path]:
    """Video files under ``src_dir`` (recursively), in sorted order."""
    found = [Path(root) / name for root, _, names in os.walk(src_dir) for name in names
             if Path(name).suffix.lower() in VIDEO_EXTENSIONS]
    return sorted(found)


def output_names(videos: list[Path], src_dir: Path) -> list[str]:
    """Output folder (relative, POSIX) of each video: its path without extension.

    Videos that would share a folder keep their extension: ``a.mp4`` -> ``a_mp4``.
    """
    stems = [v.relative_to(src_dir).with_suffix('').as_posix() for v in videos]
    counts: dict[str, int] = {}
    for stem in stems:
        counts[stem] = counts.get(stem, 0) + 1
    return [stem if counts[stem] == 1 else f'{stem}_{video.suffix.lower().lstrip(".")}'
            for stem, video in zip(stems, videos)]


def kept_indices_rule(source_fps: float, fps: float | None,
                      every: int | None) -> Callable[[int], bool]:
    """A predicate ``keep(i)`` over frame indices, called for i = 0, 1, 2, ... in order."""
    if every is not None:
        return lambda i: i % every == 0
    if not source_fps > 0 or fps >= source_fps:
        return lambda i: True
    ratio = source_fps / fps
    state = {'k': 0}

    def keep(i: int) -> bool:
        if i == math.floor(state['k'] * ratio + 0.5):
            state['k'] += 1
            return True
        return False

    return keep


def output_size(height: int, width: int, short_side: int) -> tuple[int, int]:
    """(height, width) after scaling the shorter side to ``short_side`` (0: unchanged)."""
    short = min(height, width)
    if short_side == 0 or short == short_side:
        return height, width
    scale = short_side / short
    return max(1, round(height * scale)), max(1, round(width * scale))


def iter_bgr_frames(path: str) -> Iterator[np.ndarray]:
    """Decode a video in order as BGR uint8 arrays (OpenCV, else PyAV if it yields nothing)."""
    cap = cv2.VideoCapture(path)
    produced = 0
    try:
        if cap.isOpened():
            while True:
                ok, frame = cap.read()
                if not ok:
                    break
                produced += 1
                yield frame
    finally:
        cap.release()
    if produced:
        return
    try:
        with av.open(path) as container:
            if not container.streams.video:
                return
            stream = container.streams.video[0]
            stream.thread_type = 'AUTO'
            for frame in container.decode(stream):
                yield frame.to_ndarray(format='bgr24')
    except (av.error.FFmpegError, OSError, ValueError):
        return


def _clear(folder: Path) -> int:
    """Remove frame files and the marker from a folder; returns how many frames were there."""
    removed = 0
    for entry in folder.iterdir():
        if entry.is_file() and FRAME_FILE.fullmatch(entry.name):
            entry.unlink()
            removed += 1
    marker = folder / MARKER
    if marker.exists():
        marker.unlink()
    return removed


def _is_done(folder: Path, settings: dict, ext: str) -> int | None:
    """Frame count of a completed folder with these settings, else None."""
    try:
        info = json.loads((folder / MARKER).read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(info, dict) or info.get('settings') != settings:
        return None
    frames = sum(1 for p in folder.iterdir() if p.is_file() and p.suffix == f'.{ext}'
                 and FRAME_FILE.fullmatch(p.name))
    return frames if frames == info.get('frames') else None


def extract_video(job: dict) -> dict:
    """Extract one video (runs in a worker). Never raises: failures are returned.

    Args:
        job (dict): ``video`` (path), ``name`` (relative output folder),
            ``out`` (output folder), ``settings`` (fps, every, short_side, ext, quality).

    Returns:
        dict: ``name``, ``video``, ``status`` ('done', 'skipped' or 'failed'),
        ``frames``, ``message``.
    """
    settings = job['settings']
    video, out = job['video'], Path(job['out'])
    result = dict(name=job['name'], video=video, frames=0)
    try:
        if out.is_dir():
            done = _is_done(out, settings, settings['ext'])
            if done is not None:
                return dict(result, status='skipped', frames=done,
                            message=f'already extracted ({done} frames)')
        start = time.perf_counter()
        info = probe_video(video)
        redo = _clear(out) if out.is_dir() else 0
        out.mkdir(parents=True, exist_ok=True)
        keep = kept_indices_rule(info.fps, settings['fps'], settings['every'])
        params = ([cv2.IMWRITE_JPEG_QUALITY, settings['quality']] if settings['ext'] != 'png'
                  else [cv2.IMWRITE_PNG_COMPRESSION, 3])
        written, size = 0, None
        for i, frame in enumerate(iter_bgr_frames(video)):
            if not keep(i):
                continue
            if size is None:
                size = output_size(frame.shape[0], frame.shape[1], settings['short_side'])
            if frame.shape[:2] != size:
                interp = cv2.INTER_AREA if size[0] < frame.shape[0] else cv2.INTER_LINEAR
                frame = cv2.resize(frame, (size[1], size[0]), interpolation=interp)
            path = out / f'{written:05d}.{settings["ext"]}'
            if not cv2.imwrite(str(path), frame, params):
                raise OSError(f'cannot write {path}')
            written += 1
        if written == 0:
            raise DataError(f'video {video}: no frame could be decoded')
        marker = dict(frames=written, source=job['name'], source_fps=info.fps,
                      fps=extracted_frame_rate(info.fps, settings['fps'], settings['every']),
                      size=[size[1], size[0]], settings=settings)
        tmp = out / f'{MARKER}.tmp'
        tmp.write_text(json.dumps(marker, indent=1))
        os.replace(tmp, out / MARKER)
        if settings['every'] is not None:
            rate = f'every {settings["every"]}'
        elif info.fps > settings['fps']:
            rate = f'{info.fps:g} -> {settings["fps"]:g} fps'
        else:
            rate = f'{info.fps:g} fps, all frames' if info.fps > 0 else 'fps unknown, all frames'
        message = (f'{written} frames ({rate}, {info.width}x{info.height} -> {size[1]}x{size[0]}'
                   f') in {time.perf_counter() - start:.1f} s')
        if redo:
            message += f'; redone ({redo} frames of an unfinished or different run removed)'
        return dict(result, status='done', frames=written, message=message)
    except (DataError, OSError) as err:
        if out.is_dir() and not any(out.iterdir()):
            out.rmdir()  # leave no empty folder behind for an undecodable video
        return dict(result, status='failed', message=' '.join(str(err).split()))


def _init_worker() -> None:
    cv2.setNumThreads(1)


def _pool_context() -> multiprocessing.context.BaseContext:
    """Workers forked from a fresh server process (forking a process that already runs
    OpenCV threads can deadlock)."""
    ctx = multiprocessing.get_context('forkserver')
    ctx.set_forkserver_preload(['__main__'])
    return ctx


def run_jobs(jobs: list[dict], workers: int) -> Iterator[dict]:
    """Yield each job's result as it finishes."""
    if workers <= 1:
        for job in jobs:
            yield extract_video(job)
        return
    with ProcessPoolExecutor(max_workers=workers, mp_context=_pool_context(),
                             initializer=_init_worker) as pool:
        futures = [pool.submit(extract_video, job) for job in jobs]
        for future in as_completed(futures):
            yield future.result()


def main(argv: list[str] | None = None) -> int:
    """Extract all videos; returns the exit code."""
    args = parse_args(argv)
    src, dst = Path(args.src_dir), Path(args.dst_dir)
    if not src.is_dir():
        print(f'error: SRC_DIR {src} does not exist or is not a folder', file=sys.stderr)
        return 1
    videos = find_videos(src)
    if not videos:
        print(f'error: no videos ({", ".join(VIDEO_EXTENSIONS)}) under {src}', file=sys.stderr)
        return 1
    ext = args.ext
    settings = dict(fps=args.fps, every=args.every, short_side=args.short_side, ext=ext,
                    quality=None if ext == 'png' else args.quality)
    jobs = [dict(video=str(v), name=name, out=str(dst / name), settings=settings)
            for v, name in zip(videos, output_names(videos, src))]
    workers = min(args.workers or os.cpu_count() or 1, len(jobs))
    rate = f'every {args.every}th frame' if args.every else f'{args.fps:g} fps'
    size = f'short side {args.short_side}' if args.short_side else 'original size'
    print(f'{len(jobs)} videos under {src} -> {dst} ({rate}, {size}, .{ext}, {workers} workers)',
          flush=True)
    results = []
    for i, result in enumerate(run_jobs(jobs, workers), start=1):
        results.append(result)
        status = 'FAILED: ' if result['status'] == 'failed' else \
            ('skipped, ' if result['status'] == 'skipped' else '')
        print(f'[{i}/{len(jobs)}] {result["name"]}: {status}{result["message"]}', flush=True)
    done = [r for r in results if r['status'] == 'done']
    skipped = [r for r in results if r['status'] == 'skipped']
    failed = sorted((r for r in results if r['status'] == 'failed'), key=lambda r: r['name'])
    frames = sum(r['frames'] for r in done)
    print(f'extracted {len(done)}, skipped {len(skipped)} (already done), failed {len(failed)} '
          f'of {len(results)} videos; {frames} frames written to {dst}')
    if failed:
        print(f'warning: {len(failed)} videos could not be decoded and were skipped:',
              file=sys.stderr)
        for r in failed:
            print(f'  {r["video"]}: {r["message"]}', file=sys.stderr)
    if not done and not skipped:
        print(f'error: none of the {len(results)} videos under {src} could be decoded',
              file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
