"""Reading frames from image files and video files, with clear errors."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import cv2
import numpy as np

__all__ = ['VIDEO_EXTENSIONS', 'IMAGE_EXTENSIONS', 'VideoInfo', 'read_image', 'probe_video',
           'read_video_frames', 'DataError']

VIDEO_EXTENSIONS = ('.mp4', '.avi', '.webm', '.mkv', '.mov', '.m4v')
IMAGE_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.bmp', '.webp')


class DataError(RuntimeError):
    """A data file or list entry is missing, unreadable or malformed."""


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


def probe_video(path: str | Path) -> VideoInfo:
    """Frame count, fps and size of a video file (decoded with OpenCV).

    The frame count comes from the container; callers that need exact counts
    should rely on :func:`read_video_frames`, which reports missing frames.

    Raises:
        DataError: the file is missing or cannot be opened.
    """
    path = str(path)
    if not Path(path).is_file():
        raise DataError(f'video {path} does not exist')
    cap = cv2.VideoCapture(path)
    try:
        if not cap.isOpened():
            raise DataError(f'video {path} could not be opened (unsupported codec or corrupt '
                            'file); convert it to mp4/H.264 or extract its frames')
        num = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
        fps = float(cap.get(cv2.CAP_PROP_FPS)) or 0.0
        h = int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
        w = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH))
        if num <= 0 or h <= 0 or w <= 0:
            ok, frame = cap.read()
            if not ok:
                raise DataError(f'video {path} has no decodable frame')
            num = 1
            while cap.grab():
                num += 1
            h, w = frame.shape[:2]
    finally:
        cap.release()
    return VideoInfo(num_frames=num, fps=fps, height=h, width=w)


def read_video_frames(path: str | Path, indices: Sequence[int]) -> list[np.ndarray]:
    """Decode the given frame indices of a video as (H, W, 3) uint8 RGB arrays.

    Frames are read sequentially from the first requested index (seeking once),
    which is exact for every codec OpenCV can decode.

    Raises:
        DataError: the file cannot be opened or a requested frame is missing.
    """
    path = str(path)
    if not indices:
        return []
    if not Path(path).is_file():
        raise DataError(f'video {path} does not exist')
    wanted = sorted(set(int(i) for i in indices))
    cap = cv2.VideoCapture(path)
    frames: dict[int, np.ndarray] = {}
    try:
        if not cap.isOpened():
            raise DataError(f'video {path} could not be opened (unsupported codec or corrupt '
                            'file); convert it to mp4/H.264 or extract its frames')
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
    missing = [i for i in wanted if i not in frames]
    if missing:
        raise DataError(f'video {path}: frame {missing[0]} could not be decoded (the video '
                        f'ends or is corrupt there; {len(frames)} of {len(wanted)} requested '
                        'frames were read)')
    return [frames[int(i)] for i in indices]
