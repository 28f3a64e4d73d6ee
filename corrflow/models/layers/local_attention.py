"""Restricted (windowed) attention between feature maps.

Every query location ``p`` of a target feature map attends to the key locations
``p + d`` of one or more reference feature maps, for ``d`` in a square window of
radius ``R`` (``(2R+1)**2`` offsets). Key positions outside the image are masked
explicitly (they never receive weight). The output at ``p`` is the
attention-weighted sum of the reference values (label distributions) in the
same window.

The computation is blocked: the query map is cut into ``S x S`` tiles; a tile
and the ``(S+2R) x (S+2R)`` key region around it are multiplied as one small
matrix product, and a static mask keeps for each query exactly its own window.
No ``HW x HW`` matrix is ever formed: memory is ``O(H W T (S+2R)^2)`` and the
work is done by batched GEMMs. Long inputs are processed in chunks of tiles.

Shape shorthand:
    B: batch size.            C: feature channels.       L: label (value) channels.
    H, W: feature-map size.   T: number of reference frames.
    R: window radius.         D = (2R+1)**2 window offsets.
    S: tile side.             N: number of tiles per map.  P = (S+2R)**2 keys per tile and frame.
    Q = S*S queries per tile. K: number of affinities kept by top-k.
"""
from __future__ import annotations

import math
from functools import lru_cache

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = [
    'window_offsets', 'local_affinity', 'restricted_attention', 'topk_restricted_attention',
    'tiles_per_chunk',
]


def window_offsets(radius: int, device: torch.device | str | None = None) -> Tensor:
    """Offsets ``(dy, dx)`` of a ``(2R+1) x (2R+1)`` window in row-major order.

    Returns:
        Tensor: (D, 2) int64.
    """
    r = torch.arange(-radius, radius + 1, device=device)
    dy, dx = torch.meshgrid(r, r, indexing='ij')
    return torch.stack([dy.reshape(-1), dx.reshape(-1)], dim=1)


def local_affinity(query: Tensor, key: Tensor, radius: int) -> Tensor:
    """Dot products of every query location with the keys in its window.

    A direct shift-and-multiply computation, meant for inspection (e.g. the
    attention map of one pixel) rather than for training.

    Args:
        query (Tensor): (B, C, H, W).
        key (Tensor): (B, C, H, W).
        radius (int): window radius R.

    Returns:
        Tensor: (B, D, H, W); offset order as :func:`window_offsets`; positions
        outside the key map are ``-inf``.
    """
    _check_maps(query, key)
    B, C, H, W = query.shape
    R = radius
    key_pad = F.pad(key, (R, R, R, R))  # (B, C, H+2R, W+2R)
    valid = F.pad(key.new_ones(1, 1, H, W, dtype=torch.bool), (R, R, R, R))
    out = query.new_empty(B, (2 * R + 1) ** 2, H, W)
    for i, (dy, dx) in enumerate(window_offsets(R).tolist()):
        window = key_pad[:, :, R + dy:R + dy + H, R + dx:R + dx + W]  # (B, C, H, W)
        aff = (query * window).sum(1)  # (B, H, W)
        inside = valid[0, 0, R + dy:R + dy + H, R + dx:R + dx + W]  # (H, W)
        out[:, i] = aff.masked_fill(~inside, float('-inf'))
    return out


def restricted_attention(query: Tensor, key: Tensor | list[Tensor], value: Tensor | list[Tensor],
                         radius: int, temperature: float = 1.0, tile_size: int = 8,
                         max_chunk_elements: int = 1 << 26) -> Tensor:
    """Softmax attention over the window of one or more reference frames.

    Args:
        query (Tensor): (B, C, H, W) target features.
        key (Tensor | list[Tensor]): (B, C, H, W) reference features, or a list
            of T such maps; the softmax then runs over the windows of all T.
        value (Tensor | list[Tensor]): (B, L, H, W) reference values (one per key).
        radius (int): window radius R.
        temperature (float): affinities are divided by it before the softmax.
        tile_size (int): side S of the query tiles.
        max_chunk_elements (int): upper bound on affinity elements held at once.

    Returns:
        Tensor: (B, L, H, W) attention-weighted values.
    """
    keys, values = _as_lists(query, key, value)

    def reduce(aff: Tensor, val: Tensor) -> Tensor:
        # aff: (n, Q, T*P), val: (n, T*P, L)
        return torch.bmm(torch.softmax(aff, dim=-1), val)  # (n, Q, L)

    return _tiled_attention(query, keys, values, radius, temperature, tile_size,
                            max_chunk_elements, reduce)


def topk_restricted_attention(query: Tensor, key: Tensor | list[Tensor],
                              value: Tensor | list[Tensor], radius: int, topk: int,
                              temperature: float = 1.0, tile_size: int = 8,
                              max_chunk_elements: int = 1 << 26) -> Tensor:
    """Top-k softmax attention over the windows of T reference frames.

    For every query, the ``topk`` largest affinities among all valid keys of all
    reference windows are kept and soft-maxed; the other keys get zero weight.

    Args:
        query (Tensor): (B, C, H, W).
        key (Tensor | list[Tensor]): (B, C, H, W) or a list of T of them.
        value (Tensor | list[Tensor]): (B, L, H, W) or a list of T of them.
        radius (int): window radius R.
        topk (int): number K of affinities kept per query.
        temperature (float): affinities are divided by it before the softmax.
        tile_size (int): side S of the query tiles.
        max_chunk_elements (int): upper bound on affinity elements held at once.

    Returns:
        Tensor: (B, L, H, W).
    """
    keys, values = _as_lists(query, key, value)
    if topk < 1:
        raise ValueError(f'topk must be >= 1, got {topk}')

    def reduce(aff: Tensor, val: Tensor) -> Tensor:
        # aff: (n, Q, T*P), val: (n, T*P, L)
        k = min(topk, aff.shape[-1])
        top_aff, top_idx = aff.topk(k, dim=-1)  # (n, Q, K)
        weights = torch.softmax(top_aff, dim=-1)  # (n, Q, K)
        n, Q, _ = top_idx.shape
        L = val.shape[-1]
        gathered = torch.gather(
            val.unsqueeze(1).expand(n, Q, val.shape[1], L), 2,
            top_idx.unsqueeze(-1).expand(n, Q, k, L))  # (n, Q, K, L)
        return (weights.unsqueeze(-1) * gathered).sum(2)  # (n, Q, L)

    return _tiled_attention(query, keys, values, radius, temperature, tile_size,
                            max_chunk_elements, reduce)


def tiles_per_chunk(num_keys_per_query: int, tile_size: int, max_chunk_elements: int) -> int:
    """Number of tiles whose affinities fit in ``max_chunk_elements``."""
    per_tile = tile_size * tile_size * num_keys_per_query
    return max(1, max_chunk_elements // per_tile)


# ----------------------------------------------------------------------------
# internals
# ----------------------------------------------------------------------------

def _check_maps(query: Tensor, key: Tensor) -> None:
    if query.dim() != 4 or key.dim() != 4:
        raise ValueError(f'expected 4-D (B, C, H, W) maps, got query {tuple(query.shape)} '
                         f'and key {tuple(key.shape)}')
    if query.shape != key.shape:
        raise ValueError(f'query {tuple(query.shape)} and key {tuple(key.shape)} must have '
                         'the same shape')


def _as_lists(query: Tensor, key: Tensor | list[Tensor],
              value: Tensor | list[Tensor]) -> tuple[list[Tensor], list[Tensor]]:
    keys = list(key) if isinstance(key, (list, tuple)) else [key]
    values = list(value) if isinstance(value, (list, tuple)) else [value]
    if not keys or len(keys) != len(values):
        raise ValueError(f'need one value map per key map, got {len(keys)} keys and '
                         f'{len(values)} values')
    for k, v in zip(keys, values):
        _check_maps(query, k)
        if v.dim() != 4 or v.shape[0] != k.shape[0] or v.shape[2:] != k.shape[2:]:
            raise ValueError(f'value {tuple(v.shape)} does not match key {tuple(k.shape)}')
    return keys, values


@lru_cache(maxsize=64)
def _tile_mask_cpu(H: int, W: int, radius: int, tile: int) -> Tensor:
    """Additive mask (0 or -inf) of every tile's queries against its key region.

    Returns:
        Tensor: (N, Q, P) float32 on the CPU, N = ceil(H/S) * ceil(W/S).
    """
    R, S = radius, tile
    ny, nx = math.ceil(H / S), math.ceil(W / S)
    side = S + 2 * R
    # window[i, j]: query i of the tile sees key j of the region.
    qy, qx = torch.meshgrid(torch.arange(S), torch.arange(S), indexing='ij')
    ky, kx = torch.meshgrid(torch.arange(side), torch.arange(side), indexing='ij')
    qy, qx, ky, kx = qy.reshape(-1, 1), qx.reshape(-1, 1), ky.reshape(1, -1), kx.reshape(1, -1)
    window = ((ky - qy) >= 0) & ((ky - qy) <= 2 * R) & ((kx - qx) >= 0) & ((kx - qx) <= 2 * R)
    # key_inside[n, j]: key j of tile n's region lies inside the H x W map.
    ty, tx = torch.meshgrid(torch.arange(ny), torch.arange(nx), indexing='ij')
    abs_ky = ty.reshape(-1, 1) * S - R + ky.reshape(1, -1)  # (N, P)
    abs_kx = tx.reshape(-1, 1) * S - R + kx.reshape(1, -1)
    key_inside = (abs_ky >= 0) & (abs_ky < H) & (abs_kx >= 0) & (abs_kx < W)
    # query_inside[n, i]: query i of tile n lies inside the map; padded queries
    # keep their whole window so that their (discarded) softmax stays finite.
    abs_qy = ty.reshape(-1, 1) * S + qy.reshape(1, -1)  # (N, Q)
    abs_qx = tx.reshape(-1, 1) * S + qx.reshape(1, -1)
    query_inside = (abs_qy < H) & (abs_qx < W)
    allowed = window.unsqueeze(0) & (key_inside.unsqueeze(1) | ~query_inside.unsqueeze(2))
    mask = torch.zeros(allowed.shape, dtype=torch.float32)
    mask.masked_fill_(~allowed, float('-inf'))
    return mask  # (N, Q, P)


def _tile_queries(x: Tensor, tile: int) -> Tensor:
    """(B, C, H, W) -> (B, N, Q, C), zero-padding H and W to multiples of S."""
    B, C, H, W = x.shape
    S = tile
    ny, nx = math.ceil(H / S), math.ceil(W / S)
    x = F.pad(x, (0, nx * S - W, 0, ny * S - H))  # (B, C, ny*S, nx*S)
    x = x.view(B, C, ny, S, nx, S).permute(0, 2, 4, 3, 5, 1)  # (B, ny, nx, S, S, C)
    return x.reshape(B, ny * nx, S * S, C)


def _tile_regions(x: Tensor, tile: int, radius: int) -> Tensor:
    """(B, C, H, W) -> (B, N, C, P): the (S+2R)^2 region around every tile."""
    B, C, H, W = x.shape
    S, R = tile, radius
    ny, nx = math.ceil(H / S), math.ceil(W / S)
    side = S + 2 * R
    x = F.pad(x, (R, nx * S - W + R, R, ny * S - H + R))  # (B, C, ny*S+2R, nx*S+2R)
    regions = x.unfold(2, side, S).unfold(3, side, S)  # (B, C, ny, nx, side, side)
    regions = regions.permute(0, 2, 3, 1, 4, 5)  # (B, ny, nx, C, side, side)
    return regions.reshape(B, ny * nx, C, side * side)


def _untile(x: Tensor, H: int, W: int, tile: int) -> Tensor:
    """(B, N, Q, L) -> (B, L, H, W), cropping the padding."""
    B, N, Q, L = x.shape
    S = tile
    ny, nx = math.ceil(H / S), math.ceil(W / S)
    x = x.view(B, ny, nx, S, S, L).permute(0, 5, 1, 3, 2, 4)  # (B, L, ny, S, nx, S)
    return x.reshape(B, L, ny * S, nx * S)[:, :, :H, :W]


def _tiled_attention(query: Tensor, keys: list[Tensor], values: list[Tensor], radius: int,
                     temperature: float, tile: int, max_chunk_elements: int, reduce) -> Tensor:
    if radius < 0 or tile < 1:
        raise ValueError(f'radius must be >= 0 and tile_size >= 1, got {radius}, {tile}')
    B, C, H, W = query.shape
    T = len(keys)
    S, R = tile, radius
    P = (S + 2 * R) ** 2
    q = _tile_queries(query, S)  # (B, N, Q, C)
    if temperature != 1.0:
        q = q / temperature
    k = torch.cat([_tile_regions(x, S, R) for x in keys], dim=3)  # (B, N, C, T*P)
    v = torch.cat([_tile_regions(x, S, R) for x in values], dim=3)  # (B, N, L, T*P)
    v = v.transpose(2, 3)  # (B, N, T*P, L)
    N = q.shape[1]
    mask = _tile_mask_cpu(H, W, R, S).to(device=query.device, dtype=query.dtype)  # (N, Q, P)
    mask = mask.repeat(1, 1, T) if T > 1 else mask  # (N, Q, T*P)

    step = tiles_per_chunk(T * P, S, max(1, max_chunk_elements // max(B, 1)))
    outputs = []
    for start in range(0, N, step):
        stop = min(N, start + step)
        n = stop - start
        q_c = q[:, start:stop].reshape(B * n, S * S, C)  # (B*n, Q, C)
        k_c = k[:, start:stop].reshape(B * n, C, T * P)  # (B*n, C, T*P)
        v_c = v[:, start:stop].reshape(B * n, T * P, -1)  # (B*n, T*P, L)
        aff = torch.bmm(q_c, k_c).view(B, n, S * S, T * P)  # (B, n, Q, T*P)
        aff = (aff + mask[start:stop]).view(B * n, S * S, T * P)
        out = reduce(aff, v_c)  # (B*n, Q, L)
        outputs.append(out.view(B, n, S * S, -1))
    out = outputs[0] if len(outputs) == 1 else torch.cat(outputs, dim=1)  # (B, N, Q, L)
    return _untile(out, H, W, S)
