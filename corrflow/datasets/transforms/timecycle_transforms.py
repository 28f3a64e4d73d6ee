"""TimeCycle's target patch: a rotated window of high motion in the target frame.

Shapes: S the side of the (square) frames, P the side of a window
(``round(scale * S)``, 80 for 240 and scale 1/3), G the windows per side of
the candidate grid (7).

Normalised coordinates (those of ``torch.nn.functional.affine_grid`` and
``grid_sample`` with ``align_corners=True``): pixel column ``j`` and row ``i``
of an image ``N`` pixels wide and high are ``x = 2 j / (N - 1) - 1`` and
``y = 2 i / (N - 1) - 1``; x points right, y down, and -1 / 1 are the centres
of the border pixels.
"""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np
from mmcv.transforms import BaseTransform

from corrflow.registry import TRANSFORMS
from corrflow.errors import ConfigError

__all__ = ['TimeCyclePatch', 'window_offsets', 'window_motion', 'window_centres',
           'patch_affine']


def window_offsets(size: int, window: int, grid: int) -> np.ndarray:
    """First pixels of ``grid`` windows spread evenly over a side, from 0 to ``size - window``.

    Args:
        size (int): side of the frame, S.
        window (int): side of a window, P <= S.
        grid (int): windows per side, G.

    Returns:
        np.ndarray: (G,) int64, ``round(linspace(0, S - P, G))``.
    """
    return np.round(np.linspace(0, size - window, grid)).astype(np.int64)


def window_motion(frame: np.ndarray, references: Sequence[np.ndarray], offsets: np.ndarray,
                  window: int) -> np.ndarray:
    """Motion of every window of a grid: the summed absolute difference to the references.

    Args:
        frame (np.ndarray): (S, S, 3) uint8, the frame whose windows are scored.
        references (Sequence[np.ndarray]): frames (S, S, 3) uint8 to compare
            it with; their differences are added.
        offsets (np.ndarray): (G,) first pixels of the windows on each axis
            (:func:`window_offsets`).
        window (int): side of a window, P.

    Returns:
        np.ndarray: (G, G) int64 scores, ``[row, column]``: the window
        ``frame[offsets[row]:offsets[row] + P, offsets[column]:offsets[column] + P]``.
    """
    frame = frame.astype(np.int32)
    motion = np.zeros(frame.shape[:2], dtype=np.int64)  # (S, S)
    for ref in references:
        motion += np.abs(frame - ref.astype(np.int32)).sum(axis=2)
    integral = np.zeros((motion.shape[0] + 1, motion.shape[1] + 1), dtype=np.int64)
    integral[1:, 1:] = motion.cumsum(0).cumsum(1)  # (S + 1, S + 1)
    top, left = offsets[:, None], offsets[None, :]  # (G, 1), (1, G)
    return (integral[top + window, left + window] - integral[top, left + window]
            - integral[top + window, left] + integral[top, left])  # (G, G)


def window_centres(grid: int, scale: float) -> np.ndarray:
    """Normalised centres of the patches of a grid on each axis.

    An unrotated patch of ``scale`` spans ``centre ± scale``; the centres are
    ``(1 - scale) * linspace(-1, 1, G)``, so the outer patches touch the
    frame's border pixels and no unrotated patch leaves the frame.

    Returns:
        np.ndarray: (G,) float64.
    """
    return (1.0 - scale) * np.linspace(-1.0, 1.0, grid)


def patch_affine(centre_x: float, centre_y: float, angle: float, scale: float) -> np.ndarray:
    """The ``affine_grid`` matrix of a patch turned by ``angle`` about its centre.

    ``theta @ (u, v, 1)`` is the frame point (normalised) that patch point
    ``(u, v)`` (normalised over the patch) samples:
    ``[[s cos a, -s sin a, cx], [s sin a, s cos a, cy]]``.

    Args:
        centre_x (float): normalised x of the patch centre in the frame.
        centre_y (float): normalised y of the patch centre.
        angle (float): a, radians; positive turns the patch's axes clockwise on
            screen (x right, y down).
        scale (float): s, the patch's side over the frame's.

    Returns:
        np.ndarray: (2, 3) float32.
    """
    cos, sin = scale * math.cos(angle), scale * math.sin(angle)
    return np.array([[cos, -sin, centre_x], [sin, cos, centre_y]], dtype=np.float32)


@TRANSFORMS.register_module()
class TimeCyclePatch(BaseTransform):
    """Choose TimeCycle's target patch among the windows of highest motion.

    Input: ``results['frames']``, square (S, S, 3) uint8 RGB frames (cropped
    and flipped already): the base frames, the target frame, then
    ``results['num_motion_frames']`` motion frames (0 when the key is absent).
    The target frame is split into a G x G grid of P x P windows
    (:func:`window_offsets`; P = ``round(scale * S)``), each scored by its
    summed absolute RGB difference to the motion frames (to the frame before
    the target when there is none) (:func:`window_motion`). One of the
    ``num_candidates`` best windows is drawn uniformly (ties in random order),
    then an angle uniform in ``[-max_rotation, max_rotation]`` degrees and,
    with ``max_shift``, a shift of the centre uniform in ``[-max_shift,
    max_shift]`` pixels per axis (the centre then clamped so that the
    unrotated patch stays in the frame). Draws use ``np.random``.

    Output: the motion frames are removed from ``frames`` (and their entries
    from ``frame_indices`` and ``frame_paths``, their indices kept in
    ``motion_frame_indices``), so the target frame is last;
    ``num_motion_frames`` becomes 0. Added: ``patch_theta`` (2, 3) float32,
    ``patch_window`` (x0, y0, x1, y1), the chosen grid window in pixels, and
    ``patch_angle`` in degrees.

    ``patch_theta`` convention (normalised coordinates as in the module
    docstring, ``align_corners=True``)::

        grid = F.affine_grid(theta[None], (1, C, P, P), align_corners=True)
        patch = F.grid_sample(target[None], grid, align_corners=True)  # (1, C, P, P)

    samples patch pixel ``(u, v)`` at the frame point ``theta @ (u, v, 1)``,
    ``theta = [[s cos a, -s sin a, cx], [s sin a, s cos a, cy]]`` with
    ``s = scale`` and (cx, cy) the centre (:func:`patch_affine`). The grid's
    centres are :func:`window_centres` (in ``[-(1 - s), 1 - s]``, so that no
    unrotated patch leaves the frame); at S = 240 they lie within 0.45 pixel
    of the centres of the pixel windows, so with ``a = 0`` the patch samples
    the window ``patch_window`` at points within 0.8 pixel of its pixels. A
    positive ``a`` turns the patch's axes clockwise on screen, so its content
    appears turned counter-clockwise: at ``a = 90°`` the patch is
    ``np.rot90`` of the window. Corners of a turned patch may fall outside
    the frame.

    Args:
        scale (float): patch side over frame side (1/3: 80 of 240 pixels).
        grid (int): candidate windows per side (7).
        num_candidates (int): best windows to draw from (10).
        max_rotation (float): largest rotation, degrees (45).
        max_shift (float): largest random shift of the centre from the
            window's, pixels per axis (0; TimeCycle's original code shifts by
            up to 1/9 of the normalised range, about 13 pixels at 240).
    """

    def __init__(self, scale: float = 1.0 / 3.0, grid: int = 7, num_candidates: int = 10,
                 max_rotation: float = 45.0, max_shift: float = 0.0) -> None:
        if not 0.0 < scale <= 1.0:
            raise ConfigError(f'scale must be in (0, 1], got {scale}')
        if grid < 1 or num_candidates < 1:
            raise ConfigError(f'grid and num_candidates must be >= 1, got {grid} and '
                              f'{num_candidates}')
        if max_rotation < 0 or max_shift < 0:
            raise ConfigError(f'max_rotation and max_shift must be >= 0, got {max_rotation} '
                              f'and {max_shift}')
        self.scale = float(scale)
        self.grid = int(grid)
        self.num_candidates = int(num_candidates)
        self.max_rotation = float(max_rotation)
        self.max_shift = float(max_shift)

    def transform(self, results: dict) -> dict:
        frames = list(results['frames'])
        num_motion = int(results.get('num_motion_frames', 0))
        clip = frames[:len(frames) - num_motion]
        video = results.get('video', 'a video')
        if len(clip) < 2:
            raise ConfigError(f'TimeCyclePatch needs base frames and a target frame, got '
                              f'{len(frames)} frames ({num_motion} motion frames) of {video}')
        references = frames[len(clip):] if num_motion else clip[-2:-1]
        target = clip[-1]
        height, width = target.shape[:2]
        if height != width:
            raise ConfigError(f'TimeCyclePatch needs square frames (the patch turns in '
                              f'normalised coordinates), got {width}x{height} for {video}; crop '
                              'them square first (e.g. RandomCropClip size=(240, 240))')
        window = max(1, round(self.scale * width))
        offsets = window_offsets(width, window, self.grid)  # (G,)
        scores = window_motion(target, references, offsets, window).ravel()  # (G * G,)
        ranked = np.lexsort((np.random.random(scores.size), -scores))  # best first
        chosen = int(ranked[np.random.randint(min(self.num_candidates, scores.size))])
        row, col = divmod(chosen, self.grid)
        centres = window_centres(self.grid, self.scale)  # (G,)
        centre_x, centre_y = float(centres[col]), float(centres[row])
        if self.max_shift > 0:
            shift = np.random.uniform(-self.max_shift, self.max_shift, 2) * 2.0 / (width - 1)
            limit = 1.0 - self.scale
            centre_x = float(np.clip(centre_x + shift[0], -limit, limit))
            centre_y = float(np.clip(centre_y + shift[1], -limit, limit))
        angle = float(np.random.uniform(-self.max_rotation, self.max_rotation))

        results['frames'] = clip
        for key in ('frame_indices', 'frame_paths'):
            if results.get(key) is not None:
                values = list(results[key])
                results[key] = values[:len(clip)]
                if key == 'frame_indices':
                    results['motion_frame_indices'] = values[len(clip):]
        results['num_motion_frames'] = 0
        results['patch_theta'] = patch_affine(centre_x, centre_y, math.radians(angle),
                                              self.scale)
        x0, y0 = int(offsets[col]), int(offsets[row])
        results['patch_window'] = (x0, y0, x0 + window, y0 + window)
        results['patch_angle'] = angle
        return results
