"""Looking at embeddings: PCA colouring and restricted-attention maps.

Shape shorthand:
    T: frames.   C: feature channels.   h, w: feature-map size.   s: stride.
    H, W: image size.   Hp, Wp: size the frames were embedded at (before padding).
    R: window radius.   D = (2R+1)**2 window offsets.

Pixel/cell alignment is the one label propagation uses
(:func:`corrflow.models.layers.propagation.resample_to_image`): image pixel
``x`` lies at feature coordinate ``((x + 0.5) * Wp / W - 0.5) / s``, so
without resizing cell ``i`` is centred on pixel ``s * i``.
"""
from __future__ import annotations

from typing import NamedTuple, Sequence

import numpy as np
import torch
from torch import Tensor

from corrflow.models.layers.local_attention import local_affinity, window_offsets
from corrflow.models.layers.propagation import grid_to_image_coords, resample_to_image

__all__ = ['pca_colour_features', 'AttentionMap', 'pixel_to_cell', 'attention_map',
           'attention_maps', 'chained_attention_maps']


def _as_tensor(x: np.ndarray | Tensor) -> Tensor:
    return (x.detach() if isinstance(x, Tensor) else torch.as_tensor(np.asarray(x))).float().cpu()


def pca_colour_features(features: np.ndarray | Tensor, clip_percentile: float = 1.0) -> np.ndarray:
    """Colour feature maps by their first three principal components (R, G, B).

    One PCA basis is fitted on the pixels of all frames together, so a colour
    means the same feature direction in every frame. Components are ordered by
    variance, their signs fixed (largest loading positive) and each scaled to
    [0, 255] between its ``clip_percentile`` and ``100 - clip_percentile``
    percentiles over all frames: the same input always gives the same images.
    Components that do not exist (C < 3) or are constant are mid-grey.

    Args:
        features (np.ndarray | Tensor): (C, h, w) or (T, C, h, w).
        clip_percentile (float): percentile clipped at each end, in [0, 50).

    Returns:
        np.ndarray: (h, w, 3) or (T, h, w, 3) uint8 RGB.
    """
    feats = _as_tensor(features)
    single = feats.dim() == 3
    if single:
        feats = feats.unsqueeze(0)
    if feats.dim() != 4:
        raise ValueError(f'expected (C, h, w) or (T, C, h, w) features, got {tuple(feats.shape)}')
    if not 0.0 <= clip_percentile < 50.0:
        raise ValueError(f'clip_percentile must be in [0, 50), got {clip_percentile}')
    T, C, h, w = feats.shape
    x = feats.permute(0, 2, 3, 1).reshape(-1, C)  # (T*h*w, C), float32 to bound memory
    x = x - x.double().mean(0, keepdim=True).float()
    cov = (x.T @ x).double() / max(1, x.shape[0])  # (C, C)
    eigvals, eigvecs = torch.linalg.eigh(cov)  # ascending
    k = min(3, C)
    basis = eigvecs[:, -k:].flip(1)  # (C, k), largest variance first
    strongest = basis.abs().argmax(0)  # (k,)
    basis = basis * torch.where(basis[strongest, torch.arange(k)] < 0, -1.0, 1.0)
    proj = (x @ basis.float()).double().numpy()  # (T*h*w, k)
    out = np.full((proj.shape[0], 3), 0.5)
    for i in range(k):
        lo, hi = np.percentile(proj[:, i], [clip_percentile, 100.0 - clip_percentile])
        if hi - lo > 1e-12 * max(1.0, abs(hi)) and eigvals[-1 - i] > 0:
            out[:, i] = np.clip((proj[:, i] - lo) / (hi - lo), 0.0, 1.0)
    images = np.rint(out * 255).astype(np.uint8).reshape(T, h, w, 3)
    return images[0] if single else images


class AttentionMap(NamedTuple):
    """The restricted attention of one query location over one reference frame.

    Attributes:
        heatmap (np.ndarray): (H, W) float32, the window weights read out at
            every image pixel (bilinear, zero outside the window).
        weights (np.ndarray): (2R+1, 2R+1) float32 softmax weights of the window
            offsets (dy, dx) (rows dy = -R..R); positions outside the frame are 0.
        query_cell (tuple[int, int]): (x, y) feature cell of the query.
        peak_cell (tuple[int, int]): (x, y) feature cell of the largest weight.
        peak_pixel (tuple[float, float]): (x, y) image pixel of ``peak_cell``.
    """
    heatmap: np.ndarray
    weights: np.ndarray
    query_cell: tuple
    peak_cell: tuple
    peak_pixel: tuple


def _sizes(grid: tuple[int, int], stride: int, image_size: Sequence[int] | None,
           proc_size: Sequence[int] | None) -> tuple[tuple[int, int], tuple[int, int]]:
    """(H, W) of the image and (Hp, Wp) it was embedded at; defaults: grid * stride."""
    image = tuple(image_size) if image_size is not None else (grid[0] * stride, grid[1] * stride)
    proc = tuple(proc_size) if proc_size is not None else image
    return (int(image[0]), int(image[1])), (int(proc[0]), int(proc[1]))


def pixel_to_cell(pixel: Sequence[float], stride: int, grid: tuple[int, int],
                  image_size: Sequence[int] | None = None,
                  proc_size: Sequence[int] | None = None) -> tuple[int, int]:
    """The (x, y) feature cell nearest to an image pixel (x, y), clamped to the grid.

    Args:
        pixel (Sequence[float]): (x, y) in the original image.
        stride (int): feature stride s.
        grid (tuple[int, int]): (h, w) of the feature map.
        image_size (Sequence[int], optional): (H, W) of the image; (h*s, w*s) by default.
        proc_size (Sequence[int], optional): (Hp, Wp) the image was embedded at
            (before padding); ``image_size`` by default.

    Returns:
        tuple[int, int]: (x, y) cell indices.
    """
    (H, W), (Hp, Wp) = _sizes(grid, stride, image_size, proc_size)
    fx = ((float(pixel[0]) + 0.5) * Wp / W - 0.5) / stride
    fy = ((float(pixel[1]) + 0.5) * Hp / H - 0.5) / stride
    return (int(min(max(round(fx), 0), grid[1] - 1)), int(min(max(round(fy), 0), grid[0] - 1)))


def _window_affinities(query: Tensor, key: Tensor, cell: tuple[int, int], radius: int) -> Tensor:
    """(D,) affinities of the query cell over its key window; -inf outside the frame.

    :func:`local_affinity` is evaluated on the window's crop only: the crop is
    the window clipped to the frame, so the result equals the full-map one.
    """
    _, h, w = query.shape
    cx, cy = cell
    y0, y1 = max(cy - radius, 0), min(cy + radius + 1, h)
    x0, x1 = max(cx - radius, 0), min(cx + radius + 1, w)
    aff = local_affinity(query[None, :, y0:y1, x0:x1], key[None, :, y0:y1, x0:x1], radius)
    return aff[0, :, cy - y0, cx - x0]  # (D,)


def _to_map(weights: Tensor, cell: tuple[int, int], radius: int, stride: int,
            grid: tuple[int, int], image: tuple[int, int], proc: tuple[int, int]) -> AttentionMap:
    """Window weights (D,) -> an :class:`AttentionMap`."""
    h, w = grid
    side = 2 * radius + 1
    offsets = window_offsets(radius)  # (D, 2) as (dy, dx)
    ys = offsets[:, 0] + cell[1]
    xs = offsets[:, 1] + cell[0]
    inside = (ys >= 0) & (ys < h) & (xs >= 0) & (xs < w)
    grid_map = torch.zeros(h, w, dtype=torch.float32)
    grid_map[ys[inside], xs[inside]] = weights[inside].float()
    # resample_to_image reads a stride-s grid of a (Hp, Wp) frame at every (H, W) pixel.
    heat = resample_to_image(grid_map[None, None], stride, proc, image)[0, 0]  # (H, W)
    best = int(torch.argmax(weights))
    peak = (int(xs[best]), int(ys[best]))
    px = grid_to_image_coords(torch.tensor([peak], dtype=torch.float64), stride, proc, image)[0]
    return AttentionMap(heatmap=heat.numpy().astype(np.float32),
                        weights=weights.reshape(side, side).float().numpy(),
                        query_cell=(int(cell[0]), int(cell[1])), peak_cell=peak,
                        peak_pixel=(float(px[0]), float(px[1])))


def attention_maps(query_feat: np.ndarray | Tensor, key_feats: np.ndarray | Tensor,
                   pixel: Sequence[float], stride: int, radius: int,
                   image_size: Sequence[int] | None = None, proc_size: Sequence[int] | None = None,
                   temperature: float = 1.0) -> list[AttentionMap]:
    """Attention of one query pixel over the windows of several reference frames jointly.

    The query is the feature cell nearest to ``pixel`` in ``query_feat``; its
    dot products with the keys of the (2R+1)^2 window around the same cell in
    every reference frame (``local_affinity`` semantics: positions outside the
    frame are excluded) are divided by ``temperature`` and soft-maxed over all
    T windows together, as in multi-frame restricted attention: the weights of
    all returned maps sum to 1.

    Args:
        query_feat (np.ndarray | Tensor): (C, h, w) features of the query frame.
        key_feats (np.ndarray | Tensor): (T, C, h, w) reference features.
        pixel (Sequence[float]): (x, y) query pixel of the image.
        stride (int): feature stride s.
        radius (int): window radius R in cells.
        image_size (Sequence[int], optional): (H, W) of the image; (h*s, w*s) by default.
        proc_size (Sequence[int], optional): (Hp, Wp) the frames were embedded
            at (before padding); ``image_size`` by default.
        temperature (float): affinities are divided by it (1: CorrFlow's raw
            dot products).

    Returns:
        list[AttentionMap]: one per reference frame.
    """
    query = _as_tensor(query_feat)
    keys = _as_tensor(key_feats)
    if query.dim() != 3 or keys.dim() != 4 or keys.shape[1:] != query.shape:
        raise ValueError(f'expected query (C, h, w) and keys (T, C, h, w) of the same C, h, w; '
                         f'got {tuple(query.shape)} and {tuple(keys.shape)}')
    if radius < 0 or temperature <= 0:
        raise ValueError(f'need radius >= 0 and temperature > 0, got {radius}, {temperature}')
    grid = (query.shape[1], query.shape[2])
    image, proc = _sizes(grid, stride, image_size, proc_size)
    cell = pixel_to_cell(pixel, stride, grid, image, proc)
    aff = torch.stack([_window_affinities(query, key, cell, radius) for key in keys])  # (T, D)
    weights = torch.softmax(aff.reshape(-1) / temperature, dim=0).reshape(aff.shape)  # (T, D)
    return [_to_map(wt, cell, radius, stride, grid, image, proc) for wt in weights]


def attention_map(query_feat: np.ndarray | Tensor, key_feat: np.ndarray | Tensor,
                  pixel: Sequence[float], stride: int, radius: int,
                  image_size: Sequence[int] | None = None, proc_size: Sequence[int] | None = None,
                  temperature: float = 1.0) -> AttentionMap:
    """Attention of one query pixel over the window of one reference frame.

    Exactly the weights restricted attention gives that location: dot
    products with the (2R+1)^2 keys around the same cell of ``key_feat``,
    positions outside the frame excluded, divided by ``temperature``, softmax.
    See :func:`attention_maps` for the arguments (``key_feat`` is (C, h, w)).

    Returns:
        AttentionMap: weights summing to 1, the heat map at image size and the peak.
    """
    key = _as_tensor(key_feat)
    if key.dim() != 3:
        raise ValueError(f'expected key features (C, h, w), got {tuple(key.shape)}')
    return attention_maps(query_feat, key[None], pixel, stride, radius, image_size, proc_size,
                          temperature)[0]


def chained_attention_maps(features: np.ndarray | Tensor, pixel: Sequence[float], stride: int,
                           radius: int, image_size: Sequence[int] | None = None,
                           proc_size: Sequence[int] | None = None,
                           temperature: float = 1.0) -> list[AttentionMap]:
    """Follow a pixel through frames by the argmax of restricted attention.

    Step t (t = 1..T-1) is the attention of the tracked cell of frame t-1 (its
    feature in frame t-1) over the window of frame t around that cell; the
    cell of the largest weight is where the point is followed to in frame t
    and becomes the next query. It shows where the model would copy a label
    from, frame to frame, as CorrFlow's previous-frame propagation does.

    Args:
        features (np.ndarray | Tensor): (T, C, h, w), T >= 2; frame 0 holds ``pixel``.
        pixel (Sequence[float]): (x, y) start pixel in frame 0.
        stride, radius, image_size, proc_size, temperature: as :func:`attention_maps`.

    Returns:
        list[AttentionMap]: T-1 maps; map t-1 is over frame t.
    """
    feats = _as_tensor(features)
    if feats.dim() != 4 or feats.shape[0] < 2:
        raise ValueError(f'expected (T, C, h, w) features with T >= 2, got {tuple(feats.shape)}')
    maps: list[AttentionMap] = []
    point = tuple(float(v) for v in pixel)
    for t in range(1, feats.shape[0]):
        result = attention_map(feats[t - 1], feats[t], point, stride, radius, image_size,
                               proc_size, temperature)
        maps.append(result)
        point = result.peak_pixel
    return maps
