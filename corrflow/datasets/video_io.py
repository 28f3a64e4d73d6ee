"""Reading frames from image files and video files, and label ids from PNGs, with clear errors.

Videos are decoded with OpenCV; files that OpenCV cannot open or decode (its
bundled FFmpeg lacks some codecs and containers) are decoded with PyAV instead.
"""
from __future__ import annotations

import json
import math
import re
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import av
import cv2
import numpy as np
from PIL import Image
from corrflow.errors import DataError  # noqa: F401 (re-exported)

__all__ = ['VIDEO_EXTENSIONS', 'IMAGE_EXTENSIONS', 'VideoInfo', 'read_image', 'probe_video',
           'count_video_frames', 'read_video_frames', 'natural_sort_key', 'DataError',
           'FRAMES_MARKER', 'extracted_frame_rate', 'recorded_frame_rate', 'PngSizeError',
           'read_png_ids']

VIDEO_EXTENSIONS = ('.mp4', '.avi', '.webm', '.mkv', '.mov', '.m4v')
IMAGE_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.bmp', '.webp')


class PngSizeError(DataError):
    """A PNG whose header declares another size than the one expected."""

    def __init__(self, path: str, size: tuple[int, int], expected: tuple[int, int]) -> None:
        self.path, self.size, self.expected = path, size, expected
        super().__init__(f'{path}: the PNG is {size[1]}x{size[0]}, expected '
                         f'{expected[1]}x{expected[0]}')


def _declared_png_size(path: str) -> tuple[int, int] | None:
    """(H, W) from a PNG's IHDR header (the first 24 bytes); None if it is not a PNG."""
    with open(path, 'rb') as f:
        head = f.read(24)
    if len(head) < 24 or head[:8] != b'\x89PNG\r\n\x1a\n' or head[12:16] != b'IHDR':
        return None
    width, height = struct.unpack('>II', head[16:24])
    return height, width


def read_png_ids(path: str, size: tuple[int, int] | None = None) -> np.ndarray | None:
    """Palette indices (or grey levels) of an 8-bit single-channel PNG, None for other PNGs.

    The size the header declares is checked first: a PNG whose size differs
    from ``size`` is refused before any pixel is decompressed. Pillow decodes
    the rest, with its decompression-bomb limit.

    Args:
        path (str): the PNG file.
        size (tuple[int, int], optional): the expected (H, W).

    Returns:
        np.ndarray | None: (H, W) uint8, or None for a PNG that is not 8-bit
        palette, grey or 1-bit.

    Raises:
        PngSizeError: the header declares another size than ``size``.
        DataError: the file is not a readable image.
    """
    declared = _declared_png_size(path) if size is not None else None
    if declared is not None and declared != tuple(size):
        raise PngSizeError(path, declared, tuple(size))
    try:
        with Image.open(path) as image:
            declared = (image.height, image.width)
            if size is not None and declared != tuple(size):
                raise PngSizeError(path, declared, tuple(size))
            if image.mode not in ('P', 'L', '1'):
                return None
            ids = np.asarray(image)
    except (OSError, Image.DecompressionBombError, SyntaxError) as err:
        raise DataError(f'{path}: not a readable image ({err})') from None
    return ids.astype(np.uint8) if ids.dtype == bool else ids


def natural_sort_key(name: str) -> tuple:
    """Sort key that orders digit runs by value (``'f2' < 'f10'``), for frame file names."""
    return tuple((0, int(part), '') if part.isdigit() else (1, 0, part)
                 for part in re.split(r'(\d+)', name) if part)


#: Marker file of a frame folder completed by ``tools/data/extract_frames.py``:
#: JSON with the frame count, the extraction settings, the source's frame rate
#: (``source_fps``) and the rate of the written frames (``fps``, null if unknown).
FRAMES_MARKER = '.done'


def extracted_frame_rate(source_fps: float, fps: float | None,
                         every: int | None) -> float | None:
    """Frame rate of the frames ``tools/data/extract_frames.py`` keeps of a video.

    At ``fps`` it keeps the frames nearest to the times k/fps (all frames when
    the source is not faster); with ``every`` it keeps one frame in ``every``.

    Args:
        source_fps (float): the video's rate (0 or NaN when it states none).
        fps (float | None): the target rate, when ``every`` is None.
        every (int | None): keep every ``every``-th frame instead.

    Returns:
        float | None: frames per second, None when the source states no rate.
    """
    if not (math.isfinite(source_fps) and source_fps > 0):
        return None
    if every is not None:
        return source_fps / every
    return min(float(fps), source_fps)


def recorded_frame_rate(folder: str | Path) -> float | None:
    """Frame rate recorded in a frame folder's :data:`FRAMES_MARKER`, or None.

    A marker without the ``fps`` field (written by an earlier version of the
    tool) gives the rate its settings and ``source_fps`` imply. No marker, an
    unreadable one, or one without a known rate gives None.
    """
    try:
        info = json.loads((Path(folder) / FRAMES_MARKER).read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(info, dict):
        return None
    fps = info.get('fps')
    if 'fps' not in info:
        settings = info.get('settings') if isinstance(info.get('settings'), dict) else {}
        try:
            fps = extracted_frame_rate(float(info.get('source_fps') or 0.0), settings.get('fps'),
                                       settings.get('every'))
        except (TypeError, ValueError):
            return None
    if isinstance(fps, bool) or not isinstance(fps, (int, float)):
        return None
    return float(fps) if math.isfinite(fps) and fps > 0 else None


@dataclass(frozen=True)
class VideoInfo:
    """Basic properties of a video file."""
    num_frames: int
    fps: float
    height: int
    width: int


def read_image(path: str | Path) -> np.ndarray:
    """Read an image file as (H, W, 3) uint8 RGB.

    Raises:
        DataError: the file is missing or cannot be decoded.
    """
    path = str(path)
    data = np.fromfile(path, dtype=np.uint8) if Path(path).is_file() else None
    if data is None:
        raise DataError(f'frame {path} does not exist')
    img = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
    if img is None:
        raise DataError(f'frame {path} could not be decoded as an image (corrupt or not an '
                        'image); re-extract it or remove it from the list')
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


_UNOPENABLE = ('could not be opened or decoded by OpenCV or PyAV (unsupported codec or corrupt '
               'file); convert it to mp4/H.264 or extract its frames')
# Errors PyAV raises on unreadable input (its FFmpegError subclasses derive from these too).
_AV_ERRORS = (av.error.FFmpegError, OSError, ValueError)
# Videos OpenCV decoded no frame of but PyAV did (e.g. AV1 without a software decoder in
# OpenCV's FFmpeg): later reads in this process go straight to PyAV.
_PYAV_ONLY: set[str] = set()


def _probe_opencv(path: str) -> VideoInfo | None:
    """Container properties read by OpenCV, or None if it cannot decode a frame."""
    cap = cv2.VideoCapture(path)
    try:
        if not cap.isOpened():
            return None
        num = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
        fps = float(cap.get(cv2.CAP_PROP_FPS)) or 0.0
        ok, frame = cap.read()
        if not ok:
            return None
        h, w = frame.shape[:2]
        if num <= 0:
            num = 1
            while cap.grab():
                num += 1
    finally:
        cap.release()
    return VideoInfo(num_frames=num, fps=fps, height=h, width=w)


def _probe_pyav(path: str) -> VideoInfo | None:
    """Container properties read by PyAV, or None if it cannot decode a frame."""
    try:
        with av.open(path) as container:
            if not container.streams.video:
                return None
            stream = container.streams.video[0]
            rate = stream.average_rate or stream.guessed_rate or stream.base_rate
            fps = float(rate) if rate else 0.0
            num = int(stream.frames or 0)
            frames = container.decode(stream)
            first = next(frames, None)
            if first is None:
                return None
            h, w = first.height, first.width
            if num <= 0:
                num = 1 + sum(1 for _ in frames)
    except _AV_ERRORS:
        return None
    return VideoInfo(num_frames=num, fps=fps, height=h, width=w)


def probe_video(path: str | Path) -> VideoInfo:
    """Frame count, fps and size of a video file (OpenCV, else PyAV).

    The first frame is decoded to make sure the file is usable. The frame count
    comes from the container and can exceed the number of decodable frames by a
    few; use :func:`count_video_frames` where the exact count matters.
    ``fps`` is 0.0 when the container does not state it.

    Raises:
        DataError: the file is missing or neither OpenCV nor PyAV can decode it.
    """
    path = str(path)
    if not Path(path).is_file():
        raise DataError(f'video {path} does not exist')
    info = _probe_opencv(path) or _probe_pyav(path)
    if info is None:
        raise DataError(f'video {path} {_UNOPENABLE}')
    return info


def count_video_frames(path: str | Path) -> int:
    """Exact number of decodable frames of a video, by decoding all of it.

    Costs a full decode (about 1 ms per 480p frame); OpenCV is tried first,
    PyAV if OpenCV decodes no frame.

    Raises:
        DataError: the file is missing or has no decodable frame.
    """
    path = str(path)
    if not Path(path).is_file():
        raise DataError(f'video {path} does not exist')
    num = 0
    cap = cv2.VideoCapture(path)
    try:
        if cap.isOpened():
            while cap.grab():
                num += 1
    finally:
        cap.release()
    if num == 0:
        try:
            with av.open(path) as container:
                if container.streams.video:
                    stream = container.streams.video[0]
                    stream.thread_type = 'AUTO'
                    num = sum(1 for _ in container.decode(stream))
        except _AV_ERRORS:
            num = 0
    if num == 0:
        raise DataError(f'video {path} {_UNOPENABLE}')
    return num


def _read_frames_opencv(path: str, wanted: list[int]) -> dict[int, np.ndarray] | None:
    """Sorted frame indices decoded by OpenCV (seeking once); None if it cannot open."""
    cap = cv2.VideoCapture(path)
    frames: dict[int, np.ndarray] = {}
    try:
        if not cap.isOpened():
            return None
        pos = 0
        if wanted[0] > 0:
            cap.set(cv2.CAP_PROP_POS_FRAMES, wanted[0])
            pos = int(cap.get(cv2.CAP_PROP_POS_FRAMES))
            if pos != wanted[0]:  # the container cannot seek exactly: decode from the start
                cap.set(cv2.CAP_PROP_POS_FRAMES, 0)
                pos = 0
        last = wanted[-1]
        todo = set(wanted)
        while pos <= last:
            if pos in todo:
                ok, frame = cap.read()
                if not ok:
                    break
                frames[pos] = cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
            elif not cap.grab():
                break
            pos += 1
    finally:
        cap.release()
    return frames


def _read_frames_pyav(path: str, wanted: list[int]) -> dict[int, np.ndarray] | None:
    """Sorted frame indices decoded by PyAV from the start; None if it cannot open."""
    frames: dict[int, np.ndarray] = {}
    todo = set(wanted)
    try:
        with av.open(path) as container:
            if not container.streams.video:
                return None
            stream = container.streams.video[0]
            stream.thread_type = 'AUTO'
            for pos, frame in enumerate(container.decode(stream)):
                if pos in todo:
                    frames[pos] = frame.to_ndarray(format='rgb24')
                if pos >= wanted[-1]:
                    break
    except _AV_ERRORS:
        if not frames:
            return None
    return frames


def read_video_frames(path: str | Path, indices: Sequence[int]) -> list[np.ndarray]:
    """Decode the given frame indices of a video as (H, W, 3) uint8 RGB arrays.

    OpenCV reads frames sequentially from the first requested index (seeking
    once), which is exact for every codec it can decode. If OpenCV cannot open
    the file or misses a requested frame, PyAV decodes the video from its start
    up to the last requested frame (exact, slower for late frames of long
    videos).

    Raises:
        DataError: the file cannot be opened or a requested frame is missing.
    """
    path = str(path)
    if not indices:
        return []
    if not Path(path).is_file():
        raise DataError(f'video {path} does not exist')
    wanted = sorted(set(int(i) for i in indices))
    frames = None if path in _PYAV_ONLY else _read_frames_opencv(path, wanted)
    if frames is None or len(frames) < len(wanted):
        fallback = _read_frames_pyav(path, wanted)
        if fallback is not None and (frames is None or len(fallback) > len(frames)):
            if not frames and fallback:
                _PYAV_ONLY.add(path)
            frames = fallback
    if frames is None:
        raise DataError(f'video {path} {_UNOPENABLE}')
    missing = [i for i in wanted if i not in frames]
    if missing:
        raise DataError(f'video {path}: frame {missing[0]} could not be decoded (the video '
                        f'ends or is corrupt there; {len(frames)} of {len(wanted)} requested '
                        'frames were read)')
    return [frames[int(i)] for i in indices]
