"""Drawing propagated keypoints and their recent trajectories.

Shape shorthand: T frames, J joints, H x W images; points are (x, y) pixels,
NaN where a joint is unknown.
"""
from __future__ import annotations

from typing import Sequence

import cv2
import numpy as np

__all__ = ['joint_colours', 'draw_keypoints', 'draw_keypoint_trails']

_SHIFT = 4  # sub-pixel bits of OpenCV's drawing functions
_SCALE = 1 << _SHIFT


def joint_colours(num: int) -> np.ndarray:
    """``num`` well separated bright RGB colours (hues evenly spaced).

    Returns:
        np.ndarray: (num, 3) uint8.
    """
    hsv = np.zeros((1, max(num, 1), 3), dtype=np.uint8)
    hsv[0, :, 0] = (np.arange(max(num, 1)) * 180 // max(num, 1)).astype(np.uint8)
    hsv[0, :, 1] = 230
    hsv[0, :, 2] = 255
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)[0, :num]


def _fixed(point: np.ndarray) -> tuple[int, int]:
    return int(round(float(point[0]) * _SCALE)), int(round(float(point[1]) * _SCALE))


def _colours(num: int, colours: np.ndarray | None) -> np.ndarray:
    colours = joint_colours(num) if colours is None else np.asarray(colours, dtype=np.uint8)
    if colours.shape != (num, 3):
        raise ValueError(f'expected ({num}, 3) joint colours, got {colours.shape}')
    return colours


def draw_keypoints(frame: np.ndarray, points: np.ndarray, colours: np.ndarray | None = None,
                   radius: int = 3, filled: bool = True) -> np.ndarray:
    """Draw (J, 2) points as circles on a copy of an (H, W, 3) uint8 RGB frame.

    Args:
        frame (np.ndarray): (H, W, 3) uint8 RGB.
        points (np.ndarray): (J, 2) (x, y); non-finite points are skipped.
        colours (np.ndarray, optional): (J, 3) uint8 RGB (see :func:`joint_colours`).
        radius (int): circle radius in pixels.
        filled (bool): filled discs with a dark outline, else 1-pixel rings.

    Returns:
        np.ndarray: (H, W, 3) uint8 RGB.
    """
    out = np.ascontiguousarray(frame, dtype=np.uint8).copy()
    points = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    colours = _colours(len(points), colours)
    for point, colour in zip(points, colours):
        if not np.isfinite(point).all():
            continue
        centre = _fixed(point)
        colour = tuple(int(c) for c in colour)
        if filled:
            cv2.circle(out, centre, (radius + 1) * _SCALE, (0, 0, 0), -1, cv2.LINE_AA, _SHIFT)
            cv2.circle(out, centre, radius * _SCALE, colour, -1, cv2.LINE_AA, _SHIFT)
        else:
            cv2.circle(out, centre, radius * _SCALE, colour, 1, cv2.LINE_AA, _SHIFT)
    return out


def draw_keypoint_trails(frames: Sequence[np.ndarray] | np.ndarray, keypoints: np.ndarray,
                         tail: int = 8, colours: np.ndarray | None = None, radius: int = 3,
                         thickness: int = 2) -> np.ndarray:
    """Draw every joint at frame t with its path over the previous ``tail`` frames.

    The trail of joint j at frame t joins its positions at frames
    ``max(0, t - tail) .. t``; older segments are thinner. A non-finite
    position breaks the trail there.

    Args:
        frames (Sequence[np.ndarray] | np.ndarray): T (H, W, 3) uint8 RGB frames.
        keypoints (np.ndarray): (T, J, 2) (x, y) pixels.
        tail (int): number of past frames in a trail (0: points only).
        colours (np.ndarray, optional): (J, 3) uint8 RGB, one per joint.
        radius (int): radius of the current position's disc.
        thickness (int): line width of the newest trail segment.

    Returns:
        np.ndarray: (T, H, W, 3) uint8 RGB.
    """
    points = np.asarray(keypoints, dtype=np.float64)
    if points.ndim != 3 or points.shape[2] != 2 or points.shape[0] != len(frames):
        raise ValueError(f'expected ({len(frames)}, J, 2) keypoints for {len(frames)} frames, '
                         f'got {points.shape}')
    if tail < 0:
        raise ValueError(f'tail must be >= 0, got {tail}')
    colours = _colours(points.shape[1], colours)
    out = []
    for t, frame in enumerate(frames):
        frame = np.asarray(frame)
        if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
            raise ValueError(f'frame {t}: expected (H, W, 3) uint8 RGB, got {frame.shape} '
                             f'{frame.dtype}')
        img = np.ascontiguousarray(frame).copy()
        first = max(0, t - tail)
        for j, colour in enumerate(colours):
            colour = tuple(int(c) for c in colour)
            for s in range(first + 1, t + 1):
                a, b = points[s - 1, j], points[s, j]
                if not (np.isfinite(a).all() and np.isfinite(b).all()):
                    continue
                age = (t - s) / max(tail, 1)  # 0 for the newest segment
                width = max(1, int(round(thickness * (1.0 - age))))
                cv2.line(img, _fixed(a), _fixed(b), colour, width, cv2.LINE_AA, _SHIFT)
        out.append(draw_keypoints(img, points[t], colours, radius))
    if not out:
        return np.zeros((0, 0, 0, 3), dtype=np.uint8)
    return np.stack(out)
