"""Affine patches for TimeCycle: parameters, crops, grid loss and inlier mass.

Conventions (those of the PyTorch affine grids with ``align_corners=True``):
a 2x3 affine ``theta = [A | t]`` maps a point ``p`` of a patch's normalised
coordinates (x right, y down, both in [-1, 1], the corner samples at -1 and 1)
to ``A p + t`` in the normalised coordinates of the map it is cut from. A patch
of ``n x n`` samples at scale ``s`` therefore spans ``s * (N - 1) + 1`` cells of
an ``N``-cell map: 1/3 of a 30x30 feature map gives a 10x10 patch over 9.7
cells, 80 px of a 240 px frame.

Positions of a frame map are enumerated column by column (index ``x * h + y``),
as the original TimeCycle does, so that its released transformation regressor
(whose input channels are those positions) can be used as it is.

Shape shorthand: N batch, C channels, h, w frame-map size, n patch side,
P = h * w frame positions.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ['params_to_theta', 'affine_crop', 'patch_affinity', 'grid_loss', 'inlier_mass',
           'TIMECYCLE_TRANSLATION_FACTOR']

#: The translation scaling of the original feature crops and inlier mask (227/210,
#: carried over from another codebase); its pixel crops and grid loss use 1.
TIMECYCLE_TRANSLATION_FACTOR = 227.0 / 210.0


def params_to_theta(params: Tensor, scale: float = 1.0 / 3.0) -> Tensor:
    """(tx, ty, angle) -> affines ``[[s cos a, -s sin a, tx], [s sin a, s cos a, ty]]``.

    Args:
        params (Tensor): (N, 3), the angle in radians.
        scale (float): fixed scale s of the patch.

    Returns:
        Tensor: (N, 2, 3).
    """
    tx, ty, angle = params.unbind(1)
    cos, sin = torch.cos(angle) * scale, torch.sin(angle) * scale
    return torch.stack([torch.stack([cos, -sin, tx], 1), torch.stack([sin, cos, ty], 1)], 1)


def _scaled_translation(theta: Tensor, factor: float) -> Tensor:
    if factor == 1.0:
        return theta
    return torch.cat([theta[:, :, :2], theta[:, :, 2:] * factor], dim=2)


def affine_crop(maps: Tensor, theta: Tensor, size: int | tuple[int, int],
                translation_factor: float = 1.0) -> Tensor:
    """Sample a patch of ``maps`` under ``theta`` (bilinear, zeros outside).

    Args:
        maps (Tensor): (N, C, H, W) images or feature maps.
        theta (Tensor): (N, 2, 3) patch -> map affines (module doc).
        size (int | tuple[int, int]): patch side n, or (n_h, n_w).
        translation_factor (float): multiplies the translation (1, or
            :data:`TIMECYCLE_TRANSLATION_FACTOR` for the original feature crops).

    Returns:
        Tensor: (N, C, n_h, n_w).
    """
    n_h, n_w = (size, size) if isinstance(size, int) else size
    theta = _scaled_translation(theta.to(maps.dtype), translation_factor)
    grid = F.affine_grid(theta, (maps.shape[0], maps.shape[1], n_h, n_w), align_corners=True)
    return F.grid_sample(maps, grid, mode='bilinear', padding_mode='zeros', align_corners=True)


def patch_affinity(query: Tensor, frame: Tensor, scale: float = math.sqrt(512)) -> Tensor:
    """Softmax affinity of every patch cell over the positions of a frame map.

    Args:
        query (Tensor): (N, C, n, n) unit-length patch features.
        frame (Tensor): (N, C, h, w) unit-length frame features.
        scale (float): dot products are multiplied by it (sqrt(512) in TimeCycle).

    Returns:
        Tensor: (N, P, n, n), channel ``x * h + y`` = frame position (x, y),
        summing to 1 over P for every patch cell.
    """
    N, C, n, _ = query.shape
    keys = frame.transpose(2, 3).reshape(N, C, -1)  # (N, C, P), column by column
    logits = torch.bmm(keys.transpose(1, 2), query.reshape(N, C, n * n)) * scale  # (N, P, n*n)
    return logits.float().softmax(dim=1).reshape(N, -1, n, n)


def _points(size: int, device, dtype) -> Tensor:
    r = torch.linspace(-1, 1, size, device=device, dtype=dtype)
    y, x = torch.meshgrid(r, r, indexing='ij')
    return torch.stack([x.reshape(-1), y.reshape(-1)], 0)  # (2, size*size)


def grid_loss(theta: Tensor, target: Tensor, grid_size: int = 20) -> Tensor:
    """Mean squared distance between a point grid mapped by two affines.

    Args:
        theta (Tensor): (N, 2, 3) predicted.
        target (Tensor): (N, 2, 3) true.
        grid_size (int): the points are a ``grid_size`` squared grid over [-1, 1]^2
            of the patch.

    Returns:
        Tensor: scalar, mean over affines and points of the squared distance.
    """
    points = _points(grid_size, theta.device, theta.dtype)
    diff = theta[:, :, :2] @ points + theta[:, :, 2:] - (
        target[:, :, :2] @ points + target[:, :, 2:])  # (N, 2, G)
    return diff.pow(2).sum(1).mean()


def inlier_mass(affinity: Tensor, theta: Tensor, frame_size: tuple[int, int],
                translation_factor: float = 1.0) -> Tensor:
    """Affinity mass at the positions an affine maps the patch cells to.

    For every patch cell (i, j), the point ``theta`` maps it to in the frame is
    read from the cell's affinity map bilinearly (zeros outside the frame);
    the sum over cells is divided by the total bilinear weight of the points
    inside the frame plus ``1e-5`` per (position, cell) pair. This is the
    original TimeCycle inlier count: a one-hot map per frame position, warped
    by ``theta`` and multiplied with the affinity, computed without forming
    the warped maps.

    Args:
        affinity (Tensor): (N, P, n, n) from :func:`patch_affinity`.
        theta (Tensor): (N, 2, 3) patch -> frame affines.
        frame_size (tuple[int, int]): (h, w) of the frame map, h * w = P.
        translation_factor (float): as in :func:`affine_crop`.

    Returns:
        Tensor: (N,) normalised inlier mass in [0, 1).
    """
    N, P, n, _ = affinity.shape
    h, w = frame_size
    if h * w != P:
        raise ValueError(f'affinity has {P} positions, a {h}x{w} frame has {h * w}')
    theta = _scaled_translation(theta.to(affinity.dtype), translation_factor)
    grid = F.affine_grid(theta, (N, 1, n, n), align_corners=True)  # (N, n, n, 2)
    # (N, P, n, n) -> per cell an (h, w) map; position x * h + y is row y, column x
    maps = affinity.permute(0, 2, 3, 1).reshape(N * n * n, w, h).transpose(1, 2)
    points = grid.reshape(N * n * n, 1, 1, 2)
    mass = F.grid_sample(maps.unsqueeze(1), points, mode='bilinear', padding_mode='zeros',
                         align_corners=True).reshape(N, n * n).sum(1)
    inside = F.grid_sample(torch.ones_like(maps[:1, None]).expand(N * n * n, 1, h, w), points,
                           mode='bilinear', padding_mode='zeros',
                           align_corners=True).reshape(N, n * n).sum(1)
    return mass / (inside + 1e-5 * P * n * n)
