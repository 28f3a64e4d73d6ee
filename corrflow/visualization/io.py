"""Writing visualisations (mp4, gif, png) and reading a video or a folder of frames.

Frames are (H, W, 3) uint8 RGB arrays everywhere.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import cv2
import numpy as np
from PIL import Image

from corrflow.datasets.video_io import (IMAGE_EXTENSIONS, VIDEO_EXTENSIONS, DataError,
                                        count_video_frames, natural_sort_key, read_image,
                                        read_video_frames)

__all__ = ['write_video', 'write_gif', 'write_images', 'list_frame_files', 'read_frames']


def _check_frames(frames: Sequence[np.ndarray]) -> list[np.ndarray]:
    frames = [np.asarray(f) for f in frames]
    if not frames:
        raise ValueError('no frames to write')
    shape = frames[0].shape
    for t, frame in enumerate(frames):
        if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
            raise ValueError(f'frame {t}: expected (H, W, 3) uint8 RGB, got {frame.shape} '
                             f'{frame.dtype}')
        if frame.shape != shape:
            raise ValueError(f'frame {t} is {frame.shape[1]}x{frame.shape[0]}, frame 0 is '
                             f'{shape[1]}x{shape[0]}; all frames must have one size')
    return frames


def _parent(path: str | Path) -> None:
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)


def write_video(path: str | Path, frames: Sequence[np.ndarray], fps: float = 10.0) -> int:
    """Write frames as an MPEG-4 video (OpenCV, ``mp4v`` fourcc) and check it decodes.

    MPEG-4 needs even sizes: an odd height or width is padded by repeating
    the last row or column (nothing is cropped).

    Args:
        path (str | Path): output file, normally ``.mp4``; its folder is created.
        frames (Sequence[np.ndarray]): T (H, W, 3) uint8 RGB frames of one size.
        fps (float): frame rate.

    Returns:
        int: the number of frames decoded back from the file (equals T).

    Raises:
        OSError: the writer cannot be opened or the file does not decode
            back to T frames.
    """
    frames = _check_frames(frames)
    if fps <= 0:
        raise ValueError(f'fps must be > 0, got {fps}')
    height, width = frames[0].shape[:2]
    pad_h, pad_w = height % 2, width % 2
    _parent(path)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*'mp4v'), float(fps),
                             (width + pad_w, height + pad_h))
    if not writer.isOpened():
        raise OSError(f'cannot open {path} for writing an mp4v video')
    try:
        for frame in frames:
            if pad_h or pad_w:
                frame = np.pad(frame, ((0, pad_h), (0, pad_w), (0, 0)), mode='edge')
            writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    finally:
        writer.release()
    try:
        decoded = count_video_frames(path)
    except DataError as err:
        raise OSError(f'{path} was written but does not decode: {err}') from None
    if decoded != len(frames):
        raise OSError(f'{path} decodes to {decoded} frames, {len(frames)} were written')
    return decoded


def write_gif(path: str | Path, frames: Sequence[np.ndarray], fps: float = 10.0) -> int:
    """Write frames as an animated GIF that loops forever (PIL).

    Each frame is quantised to its own 256-colour palette (median cut). GIF
    delays are in 1/100 s, so the rate is rounded to that. The GIF writer
    merges identical consecutive frames into one longer frame (the timing
    stays right).

    Args:
        path (str | Path): output file (``.gif``); its folder is created.
        frames (Sequence[np.ndarray]): T (H, W, 3) uint8 RGB frames of one size.
        fps (float): frame rate.

    Returns:
        int: the number of frames stored in the file.
    """
    frames = _check_frames(frames)
    if fps <= 0:
        raise ValueError(f'fps must be > 0, got {fps}')
    images = [Image.fromarray(f).quantize(colors=256, method=Image.Quantize.MEDIANCUT)
              for f in frames]
    duration = max(10, int(round(100.0 / fps)) * 10)  # ms, a multiple of GIF's 10 ms unit
    _parent(path)
    images[0].save(str(path), format='GIF', save_all=True, append_images=images[1:],
                   duration=duration, loop=0, optimize=False)
    with Image.open(str(path)) as gif:
        return int(getattr(gif, 'n_frames', 1))


def write_images(folder: str | Path, frames: Sequence[np.ndarray], ext: str = 'png',
                 start: int = 0) -> list[str]:
    """Write frames as ``folder/%05d.<ext>`` (numbered from ``start``).

    Returns:
        list[str]: the written paths.
    """
    frames = [np.asarray(f) for f in frames]
    os.makedirs(folder, exist_ok=True)
    paths = []
    for t, frame in enumerate(frames, start=start):
        if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
            raise ValueError(f'frame {t}: expected (H, W, 3) uint8 RGB, got {frame.shape} '
                             f'{frame.dtype}')
        path = os.path.join(str(folder), f'{t:05d}.{ext}')
        if not cv2.imwrite(path, cv2.cvtColor(frame, cv2.COLOR_RGB2BGR)):
            raise OSError(f'cannot write {path}')
        paths.append(path)
    return paths


def list_frame_files(folder: str | Path) -> list[Path]:
    """Image files of a folder in natural order (``f2`` before ``f10``)."""
    folder = Path(folder)
    return sorted((p for p in folder.iterdir()
                   if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS),
                  key=lambda p: natural_sort_key(p.name))


def read_frames(source: str | Path, indices: Sequence[int] | None = None,
                max_frames: int | None = None) -> tuple[list[np.ndarray], list[str]]:
    """Frames of a video file or of a folder of images.

    Args:
        source (str | Path): a video file (one of ``VIDEO_EXTENSIONS``) or a
            folder of image files (read in natural order).
        indices (Sequence[int], optional): frame indices to read (in this order).
        max_frames (int, optional): without ``indices``, read at most the
            first ``max_frames`` frames (all by default).

    Returns:
        tuple[list[np.ndarray], list[str]]: (H, W, 3) uint8 RGB frames and
        their names (file stems, or ``%05d`` of the index for videos).

    Raises:
        DataError: the source is missing, holds no frame, a frame cannot be
            decoded or an index is out of range.
    """
    source = Path(source)
    if source.is_dir():
        files = list_frame_files(source)
        if not files:
            raise DataError(f'{source} holds no image files ({", ".join(IMAGE_EXTENSIONS)})')
        wanted = _indices(len(files), indices, max_frames, source)
        return [read_image(files[i]) for i in wanted], [files[i].stem for i in wanted]
    if source.is_file() and source.suffix.lower() in VIDEO_EXTENSIONS:
        total = count_video_frames(source)
        wanted = _indices(total, indices, max_frames, source)
        return read_video_frames(source, wanted), [f'{i:05d}' for i in wanted]
    if source.is_file():
        raise DataError(f'{source} is neither a video ({", ".join(VIDEO_EXTENSIONS)}) nor a '
                        'folder of frames')
    raise DataError(f'{source} does not exist')


def _indices(total: int, indices: Sequence[int] | None, max_frames: int | None,
             source: Path) -> list[int]:
    if indices is None:
        return list(range(total if max_frames is None else min(total, max_frames)))
    bad = [i for i in indices if not 0 <= int(i) < total]
    if bad:
        raise DataError(f'{source} has {total} frames; frame index {bad[0]} is out of range')
    return [int(i) for i in indices]
