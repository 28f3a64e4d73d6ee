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
