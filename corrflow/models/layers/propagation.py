"""Geometry of label propagation: seeds on the feature grid and read-out at pixels.

A feature map of stride ``s`` has cell ``i`` centred on pixel ``s * i`` of the
image it was computed from (true for the CorrFlow ResNet and for torchvision
ResNets: every strided conv is centred on its input cell). The functions here
keep that alignment exactly, so propagated masks are not shifted.

Shape shorthand:
    L: label channels, J: keypoints, H, W: image size, h, w: feature-grid size,
    s: feature stride.
"""
from __future__ import annotations

import itertools
import math

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ['labels_to_onehot', 'strided_seed', 'area_seed', 'centred_cell_average',
           'resample_to_image', 'minmax_normalise', 'grid_to_image_coords',
           'gaussian_heatmaps', 'soft_argmax_topk', 'padded_size', 'nearest_indices',
           'nearest_resize', 'bilinear_resize', 'positive_minmax', 'truncated_id_seed']


def labels_to_onehot(labels: Tensor, num_labels: int) -> Tensor:
    """(H, W) integer labels -> (1, L, H, W) float one-hot.

    Pixels whose label is outside ``[0, L)`` (e.g. 255 = ignore) get a zero vector.
    """
    valid = (labels >= 0) & (labels < num_labels)
    onehot = F.one_hot(torch.where(valid, labels, 0).long(), num_labels)  # (H, W, L)
    onehot = onehot * valid.unsqueeze(-1)
    return onehot.permute(2, 0, 1).unsqueeze(0).float()


def strided_seed(maps: Tensor, stride: int, grid: tuple[int, int]) -> Tensor:
    """Take the pixel each feature cell is centred on: (1, L, H, W) -> (1, L, h, w)."""
    small = maps[:, :, ::stride, ::stride]
    return _fit(small, grid)


def centred_cell_average(x: Tensor, stride: int) -> Tensor:
    """Average of the pixels around each cell centre ``s * i``: (B, L, H, W) -> (B, L, H', W').

    The window spans ``[s*i - s/2, s*i + s/2]``; for even ``s`` its two end
    pixels count half, so the window is centred exactly on pixel ``s * i``.
    ``H' = ceil(H / s)``; borders are edge-replicated.
    """
    if stride == 1:
        return x
    B, L, H, W = x.shape
    half = stride // 2
    taps = torch.ones(2 * half + 1, dtype=x.dtype, device=x.device)
    if stride % 2 == 0:
        taps[0] = taps[-1] = 0.5
    taps = taps / taps.sum()
    padded = F.pad(x.reshape(B * L, 1, H, W), (half, half + stride, half, half + stride),
                   mode='replicate')
    rows = F.conv2d(padded, taps.view(1, 1, -1, 1), stride=(stride, 1))
    cells = F.conv2d(rows, taps.view(1, 1, 1, -1), stride=(1, stride))
    h, w = -(-H // stride), -(-W // stride)
    return cells[:, :, :h, :w].reshape(B, L, h, w)


def area_seed(maps: Tensor, stride: int, grid: tuple[int, int]) -> Tensor:
    """Average the pixels around each cell centre: (1, L, H, W) -> (1, L, h, w)."""
    return _fit(centred_cell_average(maps, stride), grid)


def _fit(x: Tensor, grid: tuple[int, int]) -> Tensor:
    """Crop or edge-pad (B, L, h', w') to (B, L, h, w)."""
    h, w = grid
    x = x[:, :, :h, :w]
    if x.shape[-2:] != (h, w):
        x = F.pad(x, (0, w - x.shape[-1], 0, h - x.shape[-2]), mode='replicate')
    return x


def resample_to_image(x: Tensor, stride: int, proc_size: tuple[int, int],
                      out_size: tuple[int, int]) -> Tensor:
    """Bilinearly read a feature-grid map at every pixel of the original image.

    The frame was resized from ``out_size`` to ``proc_size`` (possibly the
    same) and possibly padded on the bottom/right before feature extraction.
    Output pixel ``y`` maps to processed coordinate ``(y + 0.5) * Hp / H - 0.5``
    and to feature coordinate ``that / s``; values beyond the outer cell
    centres are clamped to the border cells.

    Args:
        x (Tensor): (B, L, h, w).
        stride (int): feature stride s.
        proc_size (tuple[int, int]): (Hp, Wp) size the frame was processed at
            (before padding).
        out_size (tuple[int, int]): (H, W) original size.

    Returns:
        Tensor: (B, L, H, W).
    """
    B, L, h, w = x.shape
    H, W = out_size
    Hp, Wp = proc_size
    ys = ((torch.arange(H, device=x.device, dtype=torch.float64) + 0.5) * (Hp / H) - 0.5) / stride
    xs = ((torch.arange(W, device=x.device, dtype=torch.float64) + 0.5) * (Wp / W) - 0.5) / stride
    ys = ys.clamp(0, h - 1)
    xs = xs.clamp(0, w - 1)
    gy = (2 * ys / max(h - 1, 1) - 1).to(x.dtype)  # (H,)
    gx = (2 * xs / max(w - 1, 1) - 1).to(x.dtype)  # (W,)
    grid = torch.stack(torch.meshgrid(gy, gx, indexing='ij')[::-1], dim=-1)  # (H, W, 2) as x, y
    return F.grid_sample(x, grid.unsqueeze(0).expand(B, H, W, 2), mode='bilinear',
                         padding_mode='border', align_corners=True)


def grid_to_image_coords(xy: Tensor, stride: int, proc_size: tuple[int, int],
                         out_size: tuple[int, int]) -> Tensor:
    """Map (..., 2) feature-grid (x, y) coordinates to original-image pixels.

    Inverse of the mapping used by :func:`resample_to_image`.
    """
    H, W = out_size
    Hp, Wp = proc_size
    x = (xy[..., 0] * stride + 0.5) * (W / Wp) - 0.5
    y = (xy[..., 1] * stride + 0.5) * (H / Hp) - 0.5
    return torch.stack([x, y], dim=-1)


def minmax_normalise(x: Tensor, eps: float = 1e-12) -> Tensor:
    """Rescale every channel of (B, L, h, w) to [0, 1] over its spatial extent.

    Channels that are constant are left as they are.
    """
    lo = x.amin(dim=(-2, -1), keepdim=True)
    hi = x.amax(dim=(-2, -1), keepdim=True)
    span = hi - lo
    return torch.where(span > eps, (x - lo) / span.clamp_min(eps), x)


def gaussian_heatmaps(points: Tensor, size: tuple[int, int], sigma: float) -> Tensor:
    """Gaussian bumps (peak 1) at (J, 2) pixel (x, y) positions -> (1, J, H, W).

    Points that are NaN give an all-zero map.
    """
    H, W = size
    ys = torch.arange(H, dtype=torch.float32, device=points.device).view(1, H, 1)
    xs = torch.arange(W, dtype=torch.float32, device=points.device).view(1, 1, W)
    px = points[:, 0].float().view(-1, 1, 1)
    py = points[:, 1].float().view(-1, 1, 1)
    maps = torch.exp(-((xs - px) ** 2 + (ys - py) ** 2) / (2 * sigma ** 2))  # (J, H, W)
    return torch.nan_to_num(maps, nan=0.0).unsqueeze(0)


def soft_argmax_topk(maps: Tensor, topk: int) -> Tensor:
    """Soft-argmax over the ``topk`` largest cells of each map: the keypoint read-out.

    The weights are the k values (clamped at 0) normalised to sum 1, or equal
    weights where they sum to 0.

    Args:
        maps (Tensor): (J, h, w) heatmaps.
        topk (int): cells used per map (clipped to h * w).

    Returns:
        Tensor: (J, 2) (x, y) grid coordinates.
    """
    J, h, w = maps.shape
    vals, idx = maps.reshape(J, -1).topk(min(topk, h * w), dim=1)  # (J, k)
    weights = vals.clamp_min(0)
    weights = torch.where(weights.sum(1, keepdim=True) > 0, weights, torch.ones_like(weights))
    weights = weights / weights.sum(1, keepdim=True)
    xs = (idx % w).to(maps.dtype)
    ys = torch.div(idx, w, rounding_mode='floor').to(maps.dtype)
    return torch.stack([(weights * xs).sum(1), (weights * ys).sum(1)], dim=1)


def padded_size(size: tuple[int, int], divisor: int) -> tuple[int, int]:
    """Smallest (H, W) >= size that are multiples of ``divisor``."""
    return (math.ceil(size[0] / divisor) * divisor, math.ceil(size[1] / divisor) * divisor)


# ----------------------------------------------------------------------------
# the resampling rules of reference implementations (see protocols.py)
# ----------------------------------------------------------------------------

def nearest_indices(src: int, dst: int, rule: str, device: torch.device | str | None = None
                    ) -> Tensor:
    """Source index of each of ``dst`` output positions of a nearest-neighbour resize.

    ``rule`` ``'opencv'``: ``floor(i * src / dst)`` (``cv2.INTER_NEAREST``, also
    ``F.interpolate(mode='nearest')``); ``'pillow'``: ``floor((i + 0.5) * src /
    dst)`` (PIL's ``NEAREST``, centre-aligned). Both in float64 as those
    libraries compute them (OpenCV multiplies by ``1 / (dst / src)``; Pillow
    starts at half a step and adds the step ``src / dst`` once per position),
    so positions on a boundary round alike.

    Returns:
        Tensor: (dst,) int64 in ``[0, src)``.
    """
    if rule == 'opencv':
        pos = torch.arange(dst, dtype=torch.float64) * (1.0 / (dst / src))
    elif rule == 'pillow':
        step = src / dst
        pos = torch.tensor(list(itertools.accumulate([step * 0.5] + [step] * (dst - 1))),
                           dtype=torch.float64)
    else:
        raise ValueError(f'rule must be "opencv" or "pillow", got {rule!r}')
    return pos.floor().long().clamp_(0, src - 1).to(device)


def nearest_resize(x: Tensor, size: tuple[int, int], rule: str) -> Tensor:
    """(B, L, h, w) -> (B, L, H, W) by nearest neighbour under ``rule`` (see
    :func:`nearest_indices`)."""
    h, w = x.shape[-2:]
    rows = nearest_indices(h, size[0], rule, x.device)
    cols = nearest_indices(w, size[1], rule, x.device)
    return x.index_select(-2, rows).index_select(-1, cols)


def bilinear_resize(x: Tensor, size: tuple[int, int]) -> Tensor:
    """(B, L, h, w) -> (B, L, H, W), half-pixel bilinear without anti-aliasing: output
    pixel ``i`` reads input position ``(i + 0.5) * h / H - 0.5`` clamped to the border
    (``cv2.INTER_LINEAR``, ``F.interpolate(mode='bilinear', align_corners=False)``)."""
    if tuple(x.shape[-2:]) == tuple(size):
        return x
    return F.interpolate(x, size=size, mode='bilinear', align_corners=False)


def positive_minmax(x: Tensor, eps: float = 0.0) -> Tensor:
    """Per-channel min-max of (B, L, H, W) over space, only for channels whose maximum
    is positive: ``(x - min) / (max - min + eps)``; the others are left as they are.

    With ``eps=0`` a positive constant channel stays as it is (a division by zero
    in the references that normalise this way).
    """
    lo = x.amin(dim=(-2, -1), keepdim=True)
    hi = x.amax(dim=(-2, -1), keepdim=True)
    span = hi - lo + eps
    scaled = (x - lo) / torch.where(span > 0, span, torch.ones_like(span))
    return torch.where((hi > 0) & (span > 0), scaled, x)


def truncated_id_seed(ids: Tensor, stride: int, num_labels: int) -> Tensor:
    """Label ids at full resolution -> one-hot on the grid, as CorrFlow's test code.

    The (H, W) id map is bilinearly downscaled by ``1 / stride`` as a float
    image (``F.interpolate(scale_factor=1/s)``: cell ``i`` reads pixel position
    ``s * i + (s - 1) / 2``, i.e. the mean of two pixels for even ``s``), the
    result is truncated to an integer id and one-hot encoded. At a boundary
    between ids ``a < b`` this gives the lower id, or an id in between.

    Args:
        ids (Tensor): (H, W) integer ids in ``[0, L)``, ``H`` and ``W`` multiples of ``s``.
        stride (int): s.
        num_labels (int): L.

    Returns:
        Tensor: (1, L, H/s, W/s) float one-hot.
    """
    small = F.interpolate(ids[None, None].float(), scale_factor=1 / stride, mode='bilinear',
                          align_corners=False, recompute_scale_factor=False)
    return labels_to_onehot(small[0, 0].long(), num_labels)
