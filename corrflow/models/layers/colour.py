"""Colour conversion and quantisation for the reconstruction target.

RGB -> CIE Lab reproduces OpenCV's float conversion (``cv2.COLOR_RGB2Lab`` on
float32 RGB in [0, 1]: sRGB companding, D65 white point, L in [0, 100], a and b
roughly in [-127, 127]) bit for bit, on any device. The target of the
colourisation proxy task is the index of the nearest of a small set of (a, b)
centroids.

Shape shorthand:
    B: batch, H, W: image size, K: number of centroids, ``...``: any leading dims.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from torch import Tensor

__all__ = [
    'KINETICS_AB_CENTROIDS', 'rgb_to_lab', 'lab_to_rgb', 'load_centroids',
    'save_centroids', 'labels_to_rgb', 'describe_centroids',
]

#: The 16 (a, b) centroids of the original CorrFlow release, computed by
#: k-means on Kinetics frames.
KINETICS_AB_CENTROIDS: tuple[tuple[float, float], ...] = (
    (10.2, -25.5), (9.2, -5.5), (38.1, -55.2), (13.8, 29.9), (-22.9, 4.4), (0.4, -7.3),
    (-5.4, -13.5), (-9.1, 43.4), (2.9, -18.0), (-1.2, 21.7), (-8.0, -0.3), (34.0, 15.1),
    (22.4, -38.8), (5.7, 8.7), (54.3, -73.9), (0.2, 0.0),
)

# sRGB (D65) -> XYZ rows, divided by the white point (0.950456, 1, 1.088754) below.
_WHITE = (0.950456, 1.0, 1.088754)
_RGB2XYZ = (
    (0.412453, 0.357580, 0.180423),
    (0.212671, 0.715160, 0.072169),
    (0.019334, 0.119193, 0.950227),
)
_THRESH = 0.008856

# OpenCV converts float sRGB to Lab by trilinear interpolation in a 33^3 table of
# fixed-point Lab values (base 2**14), with 4 fractional bits per axis. The table
# entries are read back from OpenCV at the grid nodes, where its interpolation is
# exact, so the conversion below reproduces ``cv2.cvtColor`` bit for bit on any
# device.
_LAB_BASE_SHIFT = 14
_LUT_SHIFT = 5
_LUT_DIM = (1 << _LUT_SHIFT) + 1
_FRAC_BITS = 8 - _LUT_SHIFT + 1
_lab_lut_cache: dict = {}


def _rgb2xyz_matrix(device, dtype) -> Tensor:
    m = torch.tensor(_RGB2XYZ, dtype=torch.float64)
    m = m / torch.tensor(_WHITE, dtype=torch.float64).unsqueeze(1)
    return m.to(device=device, dtype=dtype)  # (3, 3)


def _lab_lut(device: torch.device) -> Tensor:
    """(34, 34, 34, 3) int32 fixed-point Lab table, edge-replicated by one node."""
    if device not in _lab_lut_cache:
        import cv2

        g = np.arange(_LUT_DIM, dtype=np.float32) / (_LUT_DIM - 1)
        grid = np.stack(np.meshgrid(g, g, g, indexing='ij'), -1).reshape(1, -1, 3)
        lab = cv2.cvtColor(grid, cv2.COLOR_RGB2Lab)[0].astype(np.float64)  # (33**3, 3)
        base = float(1 << _LAB_BASE_SHIFT)
        fixed = np.stack([lab[:, 0] / 100.0, (lab[:, 1] + 128.0) / 256.0,
                          (lab[:, 2] + 128.0) / 256.0], -1) * base
        lut = torch.from_numpy(np.rint(fixed).astype(np.int32)).view(
            _LUT_DIM, _LUT_DIM, _LUT_DIM, 3)
        idx = torch.arange(_LUT_DIM + 1).clamp_max(_LUT_DIM - 1)
        lut = lut[idx][:, idx][:, :, idx]  # (34, 34, 34, 3)
        _lab_lut_cache[device] = lut.to(device)
    return _lab_lut_cache[device]


def rgb_to_lab(rgb: Tensor, channel_dim: int = -3) -> Tensor:
    """Convert sRGB in [0, 1] to CIE Lab exactly as OpenCV does for float32 images.

    Matches ``cv2.cvtColor(img, cv2.COLOR_RGB2Lab)`` (L in [0, 100], a and b
    roughly in [-127, 127]), including its table interpolation.

    Args:
        rgb (Tensor): (..., 3, H, W) float RGB in [0, 1] (channel axis given by
            ``channel_dim``); values outside [0, 1] are clipped.
        channel_dim (int): axis holding R, G, B.

    Returns:
        Tensor: float32, same shape, channels L, a, b.
    """
    x = rgb.movedim(channel_dim, -1).to(torch.float32).clamp(0.0, 1.0)  # (..., 3)
    fixed = torch.round(x * float(1 << _LAB_BASE_SHIFT)).to(torch.int32)
    cell = fixed >> (_LAB_BASE_SHIFT - _LUT_SHIFT)  # (..., 3) table node below
    frac = (fixed >> (_LAB_BASE_SHIFT - 9)) & ((1 << _FRAC_BITS) - 1)  # (..., 3)
    one = 1 << _FRAC_BITS
    side = _LUT_DIM + 1
    lut = _lab_lut(x.device).view(-1, 3)  # (34**3, 3)
    base = (cell[..., 0] * side + cell[..., 1]) * side + cell[..., 2]  # (...)
    lo, hi = one - frac, frac  # (..., 3) weights of the lower / upper node per axis
    acc = torch.zeros(x.shape, dtype=torch.int32, device=x.device)
    for corner in range(8):
        dr, dg, db = (corner >> 2) & 1, (corner >> 1) & 1, corner & 1
        weight = ((hi if dr else lo)[..., 0] * (hi if dg else lo)[..., 1]
                  * (hi if db else lo)[..., 2])  # (...)
        node = lut[(base + (dr * side + dg) * side + db).reshape(-1)].view(x.shape)
        acc += weight.unsqueeze(-1) * node
    shift = 3 * _FRAC_BITS
    fixed_lab = (acc + (1 << (shift - 1))) >> shift
    unit = fixed_lab.to(torch.float32) / float(1 << _LAB_BASE_SHIFT)
    lab = torch.stack([unit[..., 0] * 100.0, unit[..., 1] * 256.0 - 128.0,
                       unit[..., 2] * 256.0 - 128.0], dim=-1)
    return lab.movedim(-1, channel_dim)


def lab_to_rgb(lab: Tensor, channel_dim: int = -3) -> Tensor:
    """Inverse of :func:`rgb_to_lab` (for visualisation), clamped to [0, 1]."""
    x = lab.movedim(channel_dim, -1)
    L, a, b = x[..., 0], x[..., 1], x[..., 2]
    fy = (L + 16.0) / 116.0
    fx = fy + a / 500.0
    fz = fy - b / 200.0
    f = torch.stack([fx, fy, fz], dim=-1)
    xyz = torch.where(f > 0.206893, f ** 3, (f - 16.0 / 116.0) / 7.787)
    xyz[..., 1] = torch.where(L > 903.3 * _THRESH, xyz[..., 1], L / 903.3)
    linear = xyz @ torch.linalg.inv(_rgb2xyz_matrix(x.device, torch.float64)).to(x.dtype).T
    linear = linear.clamp(0.0, 1.0)
    rgb = torch.where(linear <= 0.0031308, 12.92 * linear,
                      1.055 * linear.pow(1.0 / 2.4) - 0.055)
    return rgb.clamp(0.0, 1.0).movedim(-1, channel_dim)


def labels_to_rgb(labels: Tensor, lightness: Tensor, centroids: Tensor) -> Tensor:
    """Colour a class map (or a class distribution) with its centroids.

    Args:
        labels (Tensor): (..., H, W) class indices, or (..., K, H, W) class
            probabilities (the colour is then their expectation).
        lightness (Tensor): (..., H, W) L channel to combine with.
        centroids (Tensor): (K, 2).

    Returns:
        Tensor: (..., 3, H, W) RGB in [0, 1].
    """
    c = centroids.to(device=lightness.device, dtype=lightness.dtype)
    if labels.dtype in (torch.int64, torch.int32, torch.uint8):
        ab = c[labels].movedim(-1, -3)  # (..., 2, H, W)
    else:
        ab = torch.einsum('...khw,kc->...chw', labels, c)  # (..., 2, H, W)
    return lab_to_rgb(torch.cat([lightness.unsqueeze(-3), ab], dim=-3))


def load_centroids(source: str | Path | Sequence | Tensor | None) -> Tensor:
    """Centroids from the built-in table (``None``), numbers, or a file.

    Files are ``.npy`` (loaded without pickle) or ``.json`` (a list of [a, b]).

    Returns:
        Tensor: (K, 2) float32.
    """
    if source is None:
        values = np.asarray(KINETICS_AB_CENTROIDS, dtype=np.float32)
    elif isinstance(source, Tensor):
        values = source.detach().cpu().numpy().astype(np.float32)
    elif isinstance(source, (str, Path)):
        path = Path(source)
        if not path.is_file():
            raise FileNotFoundError(f'centroid file {path} does not exist; compute one with '
                                    'tools/analysis/compute_centroids.py')
        try:
            if path.suffix == '.npy':
                values = np.load(path, allow_pickle=False)
            elif path.suffix == '.json':
                values = np.asarray(json.loads(path.read_text()), dtype=np.float32)
            else:
                raise ValueError('unknown extension')
        except ValueError as err:
            raise ValueError(f'centroid file {path} could not be read ({err}); expected a '
                             '.npy array or a .json list of [a, b] pairs') from None
    else:
        values = np.asarray(source, dtype=np.float32)
    values = np.asarray(values, dtype=np.float32)
    if values.ndim != 2 or values.shape[1] != 2 or values.shape[0] < 2:
        raise ValueError(f'centroids must have shape (K, 2) with K >= 2, got {values.shape}')
    return torch.from_numpy(values.copy())


def describe_centroids(source: str | Path | Sequence | Tensor | None) -> str:
    """Name of a :func:`load_centroids` source for messages: the file, or where the numbers are."""
    if source is None:
        return f'None, the built-in {len(KINETICS_AB_CENTROIDS)} Kinetics centroids'
    if isinstance(source, (str, Path)):
        return str(source)
    return 'a list of (a, b) numbers'


def save_centroids(path: str | Path, centroids: np.ndarray | Tensor) -> None:
    """Save centroids as ``.npy`` (no pickle) or ``.json``, by the extension."""
    path = Path(path)
    values = np.asarray(centroids, dtype=np.float32)
    if path.suffix == '.npy':
        np.save(path, values, allow_pickle=False)
    elif path.suffix == '.json':
        path.write_text(json.dumps(values.round(4).tolist()))
    else:
        raise ValueError(f'{path}: use a .npy or .json extension')
