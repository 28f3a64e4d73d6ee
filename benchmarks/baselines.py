"""Straightforward implementations used only as baselines of the benchmarks.

They reproduce how the reference codebases compute things, so that speed and
memory can be compared side by side and equality can be checked.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def unfold_restricted_attention(query: Tensor, key: Tensor, value: Tensor, radius: int) -> Tensor:
    """Restricted attention with ``F.unfold`` (every window copied out).

    Args:
        query, key (Tensor): (B, C, H, W).
        value (Tensor): (B, L, H, W).
        radius (int): window radius R.

    Returns:
        Tensor: (B, L, H, W).
    """
    B, C, H, W = query.shape
    k = 2 * radius + 1
    D = k * k
    key_win = F.unfold(key, k, padding=radius).view(B, C, D, H, W)  # (B, C, D, H, W)
    aff = (query.unsqueeze(2) * key_win).sum(1)  # (B, D, H, W)
    inside = F.unfold(query.new_ones(1, 1, H, W), k, padding=radius).view(1, D, H, W) > 0
    weights = aff.masked_fill(~inside, float('-inf')).softmax(1)  # (B, D, H, W)
    val_win = F.unfold(value, k, padding=radius).view(B, value.shape[1], D, H, W)
    return (weights.unsqueeze(1) * val_win).sum(2)  # (B, L, H, W)


def _mask_outside_window(aff: Tensor, h: int, w: int, radius: int) -> None:
    """Set to -inf, in place, the affinities of key cells outside each query's square window.

    ``aff`` is viewed as (B, h, w, T, h, w) (query cell, context frame, key
    cell); the two 1-D conditions |dy| > R and |dx| > R are applied one after
    the other so that no (HW, HW) mask is materialised.
    """
    B = aff.shape[0]
    view = aff.view(B, h, w, -1, h, w)
    ys = torch.arange(h, device=aff.device)
    xs = torch.arange(w, device=aff.device)
    far_y = (ys[:, None] - ys[None, :]).abs() > radius  # (h query, h key)
    far_x = (xs[:, None] - xs[None, :]).abs() > radius  # (w query, w key)
    view.masked_fill_(far_y[:, None, None, :, None], float('-inf'))
    view.masked_fill_(far_x[None, :, None, None, :], float('-inf'))


def _flatten_context(maps: list[Tensor]) -> Tensor:
    """T maps (B, X, h, w) -> (B, X, T*h*w), frame-major."""
    return torch.cat([m.flatten(2) for m in maps], dim=2)


def dense_restricted_attention(query: Tensor, key: Tensor, value: Tensor, radius: int,
                               temperature: float = 1.0) -> Tensor:
    """Windowed softmax attention through the full (HW, HW) affinity matrix.

    How the reference codebases propagate from the previous frame: every query
    cell against every key cell, cells outside the (2R+1)^2 window set to
    -inf, softmax over all HW keys, then the (HW, HW) x (HW, L) aggregation.
    Memory: two (B, HW, HW) float matrices (affinities, probabilities).

    Args:
        query, key (Tensor): (B, C, h, w).
        value (Tensor): (B, L, h, w).
        radius (int): window radius R.
        temperature (float): affinities are divided by it.

    Returns:
        Tensor: (B, L, h, w).
    """
    B, C, h, w = query.shape
    q = (query / temperature).flatten(2).transpose(1, 2)  # (B, HW, C)
    aff = torch.bmm(q, key.flatten(2))  # (B, HW, HW)
    _mask_outside_window(aff, h, w, radius)
    prob = aff.softmax(-1)
    del aff
    out = torch.bmm(prob, value.flatten(2).transpose(1, 2))  # (B, HW, L)
    return out.transpose(1, 2).reshape(B, value.shape[1], h, w)


def dense_topk_propagation(query: Tensor, keys: list[Tensor], values: list[Tensor], radius: int,
                           topk: int, temperature: float) -> Tensor:
    """Top-k memory propagation through the full (HW, T*HW) affinity matrix.

    How the reference codebases (CRW, VFS, ...) run protocol B: the query
    frame against every cell of the T context frames in one matrix, cells
    outside each query's (2R+1)^2 window set to -inf, the ``topk`` largest per
    query soft-maxed, and the context labels of those cells summed with these
    weights. Memory: one (B, HW, T*HW) float matrix.

    Args:
        query (Tensor): (B, C, h, w), L2-normalised by the caller.
        keys (list[Tensor]): T maps (B, C, h, w).
        values (list[Tensor]): T maps (B, L, h, w).
        radius (int): window radius R.
        topk (int): affinities kept per query.
        temperature (float): affinities are divided by it.

    Returns:
        Tensor: (B, L, h, w).
    """
    B, C, h, w = query.shape
    L = values[0].shape[1]
    q = (query / temperature).flatten(2).transpose(1, 2)  # (B, HW, C)
    aff = torch.bmm(q, _flatten_context(keys))  # (B, HW, T*HW)
    _mask_outside_window(aff, h, w, radius)
    top, idx = aff.topk(min(topk, aff.shape[-1]), dim=-1)  # (B, HW, K)
    del aff
    weights = top.softmax(-1)
    ctx = _flatten_context(values).transpose(1, 2)  # (B, T*HW, L)
    gathered = torch.stack([ctx[b][idx[b]] for b in range(B)])  # (B, HW, K, L)
    out = (weights.unsqueeze(-1) * gathered).sum(2)  # (B, HW, L)
    return out.transpose(1, 2).reshape(B, L, h, w)


def tiled_topk_memory_attention(query: Tensor, keys: list[Tensor], values: list[Tensor],
                                radius: int, topk: int, temperature: float = 1.0,
                                restricted: list[bool] | None = None, circle: bool = False,
                                keep_ties: bool = False, tile_size: int = 8,
                                max_chunk_elements: int = 1 << 25) -> Tensor:
    """Protocol B's top-k attention as corrflow computed it before
    :mod:`corrflow.models.layers.topk_memory`: the reference of the propagation benchmark.

    Windowed frames: per chunk of ``tile_size``-square query tiles, the key regions of all
    T frames are gathered (``index_select``), the (tiles, Q, T * P) affinities computed
    with a -inf mask added, and ``torch.topk`` run over all of a query's candidates at
    once. Whole frames: (rows, H*W) affinities and ``torch.topk``. The parts' top k are
    concatenated and ranked again; with ``keep_ties`` the keys tied with the k-th among
    those are kept. Ties are broken as ``torch.topk`` breaks them.
    """
    from corrflow.models.layers import local_attention as la
    from corrflow.utils.precision import autocast_off

    restricted = [True] * len(keys) if restricted is None else list(restricted)
    B, C, H, W = query.shape
    L = values[0].shape[1]
    low, acc = la._dtypes([query, *keys])
    parts = []
    windowed = [i for i, r in enumerate(restricted) if r]
    with autocast_off(query.device.type), torch.no_grad():
        if windowed:
            parts.append(_tiled_topk(query, [keys[i] for i in windowed],
                                     [values[i] for i in windowed], radius, topk, temperature,
                                     tile_size, max_chunk_elements, circle, low, acc))
        for i in (i for i, r in enumerate(restricted) if not r):
            q = (query.to(acc) / temperature).to(low).flatten(2).transpose(1, 2)  # (B, HW, C)
            k_map = keys[i].to(low).flatten(2)
            v = values[i].to(acc).flatten(2).transpose(1, 2)
            k = min(topk, H * W)
            rows = max(1, max_chunk_elements // (B * H * W))
            affs, labels = [], []
            for r0 in range(0, H * W, rows):
                aff = la._product(q[:, r0:r0 + rows], k_map, acc)
                top_aff, top_idx = aff.topk(k, dim=-1)
                labels.append(torch.gather(v.unsqueeze(1).expand(B, top_idx.shape[1], H * W, L),
                                           2, top_idx.unsqueeze(-1).expand(*top_idx.shape, L)))
                affs.append(top_aff)
            parts.append((torch.cat(affs, 1), torch.cat(labels, 1)))
    aff = torch.cat([a for a, _ in parts], dim=-1)  # (B, H*W, K')
    labels = torch.cat([v for _, v in parts], dim=2)  # (B, H*W, K', L)
    k = min(topk, aff.shape[-1])
    if keep_ties:
        kth = aff.topk(k, dim=-1).values[..., -1:]
        weights = aff.masked_fill(aff < kth, float('-inf')).softmax(-1)
        out = (weights.unsqueeze(-1) * labels).sum(2)
    else:
        top_aff, top_idx = aff.topk(k, dim=-1)
        chosen = torch.gather(labels, 2, top_idx.unsqueeze(-1).expand(*top_idx.shape, L))
        out = (top_aff.softmax(-1).unsqueeze(-1) * chosen).sum(2)
    return out.transpose(1, 2).reshape(B, L, H, W)


def _tiled_topk(query, keys, values, radius, topk, temperature, tile, max_chunk_elements,
                circle, low, acc):
    """The windowed part of :func:`tiled_topk_memory_attention`: ((B, HW, k) affinities,
    (B, HW, k, L) labels)."""
    import math

    from corrflow.models.layers import local_attention as la

    B, C, H, W = query.shape
    L = values[0].shape[1]
    T, S, R = len(keys), tile, radius
    P = (S + 2 * R) ** 2
    ny, nx = math.ceil(H / S), math.ceil(W / S)
    pad_h, pad_w = ny * S - H, nx * S - W
    q = query.to(acc) / temperature if temperature != 1.0 else query
    q_cl = F.pad(q.to(low), (0, pad_w, 0, pad_h)).permute(0, 2, 3, 1)
    pad = (R, pad_w + R, R, pad_h + R)
    k_cl = la._channels_last_padded(keys, pad, low)
    v_cl = la._channels_last_padded(values, pad, acc)
    chunk = la.tiles_per_chunk(T * P, S, max(1, max_chunk_elements // B))
    q_all = q_cl.reshape(B, ny, S, nx, S, C).permute(0, 1, 3, 2, 4, 5)
    q_all = q_all.reshape(B, ny * nx, S * S, C)
    workspace = la._Workspace()
    outputs = []
    for t0 in range(0, ny * nx, chunk):
        t1 = min(ny * nx, t0 + chunk)
        n = t1 - t0
        q_t = q_all[:, t0:t1].reshape(B * n, S * S, C)
        index, bias = la._chunk_geometry(H, W, S, R, T, t0, t1, query.device, circle)
        k_reg = la._regions(k_cl, index, n, workspace, 'key')
        v_reg = la._regions(v_cl, index, n, workspace, 'value')
        aff = la._masked_affinity(q_t, k_reg, bias, B, acc, workspace)  # (B*n, Q, T*P)
        k = min(topk, aff.shape[-1])
        top_aff, top_idx = aff.topk(k, dim=-1)
        gathered = torch.gather(v_reg.unsqueeze(1).expand(B * n, S * S, v_reg.shape[1], L), 2,
                                top_idx.unsqueeze(-1).expand(B * n, S * S, k, L))
        outputs.append(torch.cat([top_aff, gathered.reshape(B * n, S * S, k * L)], dim=-1)
                       .view(B, n, S * S, -1))
    out = torch.cat(outputs, dim=1)  # (B, tiles, Q, k(1+L))
    D = out.shape[-1]
    out = out.view(B, ny, nx, S, S, D).permute(0, 1, 3, 2, 4, 5).reshape(B, ny * S, nx * S, D)
    out = out[:, :H, :W].reshape(B, H * W, D)
    k = D // (1 + L)
    return out[..., :k], out[..., k:].reshape(B, H * W, k, L)
