"""Exact top-k attention over a memory of context maps (protocol B), without ever holding a
query's candidates at once.

Every query keeps the ``k`` largest affinities among the keys of all context maps (the
keys in its window for a windowed map, every position for a whole map), soft-maxes them
and averages the labels of those keys. Which keys win is decided by one fixed order:
larger affinity first; among equal affinities, the earlier context slot, then the key
with the smaller column, then the smaller row. The *candidate id* of a key is
``slot * H * W + x * H + y``, so ties go to the smaller id.

Why it is exact. The candidates of a query are cut into blocks that are runs of
consecutive ids: a column of its window in one map (the keys ``(x, y - R..y + R)``), or
64 consecutive ids of a whole map. If a key is among the top k, its block is among the k
blocks with the largest maxima (ties to the earlier block): otherwise k blocks ranked
before its own would each hold a key ranked before it. So a query ranks only its block
maxima and the keys of k blocks. The top k of a union is the top k of the parts' top k,
so the windowed maps and each whole map are ranked apart and merged.

How it is laid out. The query map is cut into tiles of ``Sy x Sx`` cells; a tile's keys
in one map are the ``(Sy + 2R) x (Sx + 2R)`` region around it. A context map is stored
once, in a :class:`KeyMemory`, as column strips ``(nx, Hk, Sx + 2R, C)``: the region of
any tile is one contiguous block, so each product is one GEMM on a view, key-major
(region x tile queries), with no gather. The window's row limits touch only the
region's first and last ``Sy - 1`` rows; its column limits apply to the column maxima.
A tile's affinities over all maps (``T * (Sy + 2R) * (Sx + 2R) * Sy * Sx`` values) are
the only ones held at once.

Shape shorthand:
    C: feature channels. L: label channels. H, W: map size. T: context maps.
    R: window radius. Sy, Sx: tile rows and columns. Q = Sy * Sx queries per tile.
    k: affinities kept per query.
"""
from __future__ import annotations

import math
import weakref
from functools import lru_cache

import torch
import torch.nn.functional as F
from torch import Tensor

from corrflow.models.layers.local_attention import _dtypes, _product
from corrflow.utils.precision import autocast_off

__all__ = ['KeyMemory', 'MemoryKeys', 'topk_memory_attention', 'topk_restricted_attention',
           'topk_candidates', 'TILE']

#: Query tile (rows, columns) of the windowed products. Columns 16 keep a stored map at
#: ``(16 + 2R) / 16`` times its size (4x at R = 24); rows 4 keep the wasted products of
#: the square region (``(4 + 2R)(16 + 2R) / (2R + 1)^2``, 1.39x at R = 24) low.
TILE = (4, 16)
#: Keys per block of a whole (unwindowed) map.
WHOLE_BLOCK = 64
#: Queries per product of a whole map.
WHOLE_QUERIES = 64


class KeyMemory:
    """Where the keys of a propagation memory live, laid out once for the windowed products.

    Each context map gets a slot in one tensor of column strips (per dtype), written when
    the map is first used, and given back when its :class:`MemoryKeys` handle is
    dropped, so a memory of N maps holds N slots however long the video.

    Args:
        radius (int): window radius R.
        tile (tuple[int, int]): query tile (Sy, Sx).
    """

    def __init__(self, radius: int, tile: tuple[int, int] = TILE) -> None:
        if radius < 0 or len(tile) != 2 or min(tile) < 1:
            raise ValueError(f'radius must be >= 0 and the tile two positive sides, got '
                             f'{radius}, {tile}')
        self.radius = radius
        self.tile = (int(tile[0]), int(tile[1]))
        self._banks: dict[torch.dtype, Tensor] = {}
        self._free: dict[torch.dtype, list[int]] = {}

    def add(self, feat: Tensor) -> MemoryKeys:
        """A handle on the keys of ``feat`` (B, C, H, W)."""
        return MemoryKeys(feat, self)

    def bank(self, dtype: torch.dtype, handles: list[MemoryKeys]) -> tuple[Tensor, list[int]]:
        """The strips (capacity, B, nx, Hk, Sx + 2R, C) in ``dtype`` and each handle's slot."""
        slots = [h.slot(dtype) for h in handles]
        return self._banks[dtype], slots

    def _write(self, feat: Tensor, dtype: torch.dtype) -> int:
        B, C, H, W = feat.shape
        (Sy, Sx), R = self.tile, self.radius
        ny, nx = math.ceil(H / Sy), math.ceil(W / Sx)
        Hk, Wk = ny * Sy + 2 * R, nx * Sx + 2 * R
        shape = (B, nx, Hk, Sx + 2 * R, C)
        bank = self._banks.get(dtype)
        if bank is not None and tuple(bank.shape[1:]) != shape:
            raise ValueError(f'the maps of one memory must share their size: {tuple(feat.shape)}'
                             f' does not fit strips {tuple(bank.shape[1:])}')
        free = self._free.setdefault(dtype, [])
        if not free:
            used = 0 if bank is None else bank.shape[0]
            grown = torch.empty((max(8, 2 * used), *shape), dtype=dtype, device=feat.device)
            if bank is not None:
                grown[:used].copy_(bank)
            self._banks[dtype] = bank = grown
            free.extend(range(grown.shape[0] - 1, used - 1, -1))
        slot = free.pop()
        padded = F.pad(feat.to(dtype), (R, Wk - W - R, R, Hk - H - R))
        cl = padded.permute(0, 2, 3, 1).contiguous()  # (B, Hk, Wk, C)
        bank[slot].copy_(cl.as_strided(shape, (Hk * Wk * C, Sx * C, Wk * C, C, 1)))
        return slot

    def _release(self, slots: dict[torch.dtype, int]) -> None:
        for dtype, slot in slots.items():
            self._free[dtype].append(slot)


class MemoryKeys:
    """One context map's keys in a :class:`KeyMemory` (its slot is freed with the handle).

    Args:
        feat (Tensor): (B, C, H, W) features (unit length for protocol B).
        memory (KeyMemory): where its windowed layout lives.
    """

    def __init__(self, feat: Tensor, memory: KeyMemory) -> None:
        if feat.dim() != 4:
            raise ValueError(f'expected (B, C, H, W) features, got {tuple(feat.shape)}')
        self.feat = feat
        self.memory = memory
        self._slots: dict[torch.dtype, int] = {}
        self._flat: dict[torch.dtype, Tensor] = {}
        weakref.finalize(self, memory._release, self._slots)

    @property
    def shape(self) -> torch.Size:
        return self.feat.shape

    def slot(self, dtype: torch.dtype) -> int:
        """This map's slot in the memory's strips of ``dtype`` (written on first use)."""
        if dtype not in self._slots:
            self._slots[dtype] = self.memory._write(self.feat, dtype)
        return self._slots[dtype]

    def flat(self, dtype: torch.dtype) -> Tensor:
        """(B, Hp, C) keys in column-major order (the ranking's) in ``dtype``, zero rows up
        to a multiple of the whole-map block (cached): the layout of a whole map."""
        if dtype not in self._flat:
            B, C, H, W = self.feat.shape
            hw = H * W
            hp = math.ceil(hw / WHOLE_BLOCK) * WHOLE_BLOCK
            keys = self.feat.to(dtype).transpose(2, 3).flatten(2).transpose(1, 2)  # (B, WH, C)
            self._flat[dtype] = F.pad(keys, (0, 0, 0, hp - hw)).contiguous()
        return self._flat[dtype]


def topk_restricted_attention(query: Tensor, key: Tensor | list, value: Tensor | list[Tensor],
                              radius: int, topk: int, temperature: float = 1.0,
                              tile_size: tuple[int, int] = TILE,
                              max_chunk_elements: int = 1 << 25) -> Tensor:
    """Top-k softmax attention over the square windows of T context maps.

    :func:`topk_memory_attention` with every map windowed, square windows and exactly k
    keys per query.
    """
    keys = list(key) if isinstance(key, (list, tuple)) else [key]
    values = list(value) if isinstance(value, (list, tuple)) else [value]
    return topk_memory_attention(query, keys, values, radius, topk, temperature,
                                 tile_size=tile_size, max_chunk_elements=max_chunk_elements)


def topk_memory_attention(query: Tensor, key: list, value: list[Tensor], radius: int,
                          topk: int, temperature: float = 1.0,
                          restricted: list[bool] | None = None, circle: bool = False,
                          keep_ties: bool = False, tile_size: tuple[int, int] = TILE,
                          max_chunk_elements: int = 1 << 25) -> Tensor:
    """Top-k softmax attention over T context maps, each windowed or whole.

    The keys of a map with ``restricted[t]`` lie in the query's window (square
    ``|dy|, |dx| <= R``, or with ``circle`` the disc ``dy^2 + dx^2 < R^2``); the keys
    of any other map are all its positions. For every query the ``topk`` largest
    affinities over all these keys (ranked as the module docstring says) are
    soft-maxed, and the labels of their keys averaged with those weights. With
    ``keep_ties`` every key whose affinity equals the k-th largest is kept as well
    (a threshold at the k-th value).

    Args:
        query (Tensor): (B, C, H, W), unit length for protocol B.
        key (list[Tensor | MemoryKeys]): T maps (B, C, H, W), or their
            :class:`MemoryKeys` (laid out once; pass them when a map is used by
            several frames).
        value (list[Tensor]): T label maps (B, L, H, W).
        radius (int): window radius R of the windowed maps.
        topk (int): k.
        temperature (float): affinities are divided by it (the query is, before
            the product).
        restricted (list[bool] | None): per map, windowed or whole (default: all
            windowed).
        circle (bool): disc windows instead of squares.
        keep_ties (bool): keep every key tied with the k-th.
        tile_size (tuple[int, int] | int): query tile (Sy, Sx) of the windowed products
            (an int: square); the result does not depend on it.
        max_chunk_elements (int): affinities of a whole map held at once.

    Returns:
        Tensor: (B, L, H, W) in the accumulation dtype (fp32, or fp64 for fp64 inputs).
    """
    weights, ids, labels = _select(query, key, value, radius, topk, temperature, restricted,
                                   circle, keep_ties, tile_size, max_chunk_elements)
    # weights (B, HW, k'), ids (B, HW, k'), labels (B, T*HW, L)
    B, _, H, W = query.shape
    L = labels.shape[-1]
    chosen = torch.stack([labels[b][ids[b]] for b in range(B)])  # (B, HW, k', L)
    out = (weights.unsqueeze(-1) * chosen).sum(2)  # (B, HW, L)
    return out.transpose(1, 2).reshape(B, L, H, W)


def topk_candidates(query: Tensor, key: list, radius: int, topk: int,
                    temperature: float = 1.0, restricted: list[bool] | None = None,
                    circle: bool = False, tile_size: tuple[int, int] = TILE,
                    max_chunk_elements: int = 1 << 25) -> tuple[Tensor, Tensor]:
    """The ``topk`` winning keys of every query: ``(affinities, candidate ids)``.

    Both (B, H*W, k), ordered as the ranking (largest affinity first, ties to the
    smaller id); queries in raster order. The selection that
    :func:`topk_memory_attention` averages over.
    """
    dummy = [torch.zeros(k.shape[0], 1, *k.shape[2:], dtype=query.dtype, device=query.device)
             for k in key]
    aff, ids, _ = _select(query, key, dummy, radius, topk, temperature, restricted, circle,
                          False, tile_size, max_chunk_elements, weights=False)
    return aff, ids


# ----------------------------------------------------------------------------
# selection
# ----------------------------------------------------------------------------

def _select(query: Tensor, key: list, value: list[Tensor], radius: int, topk: int,
            temperature: float, restricted, circle: bool, keep_ties: bool, tile,
            max_chunk_elements: int, weights: bool = True):
    if isinstance(tile, int):
        tile = (tile, tile)
    if torch.is_grad_enabled() and any(
            t.requires_grad for t in [query, *value, *(getattr(k, 'feat', k) for k in key)]):
        raise ValueError('top-k memory attention is inference-only (no gradients through the '
                         'selection): call it under torch.no_grad() or on detached tensors')
    given = [k.memory for k in key if isinstance(k, MemoryKeys)]
    memory = given[0] if given else KeyMemory(radius, tile)
    if any(m is not memory for m in given):
        raise ValueError('the keys of one call must come from one KeyMemory')
    if memory.radius != radius:
        raise ValueError(f'the keys were laid out for radius {memory.radius}, not {radius}')
    keys = [k if isinstance(k, MemoryKeys) else memory.add(k) for k in key]
    if not keys or len(keys) != len(value):
        raise ValueError(f'need one value map per key map, got {len(keys)} keys and '
                         f'{len(value)} values')
    if query.dim() != 4:
        raise ValueError(f'expected a (B, C, H, W) query, got {tuple(query.shape)}')
    for k, v in zip(keys, value):
        if tuple(k.shape) != tuple(query.shape):
            raise ValueError(f'query {tuple(query.shape)} and key {tuple(k.shape)} must have '
                             'the same shape')
        if v.dim() != 4 or v.shape[0] != k.shape[0] or v.shape[2:] != k.shape[2:]:
            raise ValueError(f'value {tuple(v.shape)} does not match key {tuple(k.shape)}')
    if topk < 1:
        raise ValueError(f'topk must be >= 1, got {topk}')
    if radius < 0:
        raise ValueError(f'radius must be >= 0, got {radius}')
    restricted = [True] * len(keys) if restricted is None else list(restricted)
    if len(restricted) != len(keys):
        raise ValueError(f'restricted has {len(restricted)} entries for {len(keys)} frames')
    B, C, H, W = query.shape
    low, acc = _dtypes([query, *(k.feat for k in keys)])
    q = query.to(acc)
    if temperature != 1.0:
        q = q / temperature
    q = q.to(low)
    windowed = [t for t, r in enumerate(restricted) if r]
    whole = [t for t, r in enumerate(restricted) if not r]
    # label rows in the order of the candidate ids: slot, then column, then row
    labels = torch.cat([v.to(acc).transpose(2, 3).flatten(2).transpose(1, 2) for v in value],
                       dim=1)
    affs, idss = [], []
    with autocast_off(query.device.type), torch.no_grad():
        for b in range(B):
            parts = []
            if windowed:
                parts.append(_windowed_part(q[b], [keys[t] for t in windowed], windowed, b,
                                            radius, topk, circle, keep_ties, acc, low))
            for t in whole:
                parts.append(_whole_part(q[b], keys[t], t, b, topk, keep_ties, acc, low,
                                         max_chunk_elements))
            aff, ids = _merge(parts, topk, keep_ties)
            affs.append(aff)
            idss.append(ids)
    aff, ids = torch.stack(affs), torch.stack(idss)  # (B, HW, k')
    if not weights:
        return aff, ids, labels
    return aff.softmax(-1), ids, labels


def _ordered(x: Tensor) -> Tensor:
    """float32 -> int64 with the same order (``-0.0`` ranked as ``+0.0``)."""
    bits = (x + 0.0).view(torch.int32)
    return (bits ^ ((bits >> 31) & 0x7FFFFFFF)).to(torch.int64)


def _rank_exact(values: Tensor, ids: Tensor, k: int) -> Tensor:
    """:func:`_rank` by sorting keys that hold the value and the id."""
    if values.dtype == torch.float32:
        key = (_ordered(values) << 32) | (0xFFFFFFFF - ids)
        return key.topk(k, dim=-1).indices
    by_id = ids.argsort(dim=-1, stable=True)
    by_value = values.gather(-1, by_id).argsort(dim=-1, descending=True, stable=True)
    return by_id.gather(-1, by_value[..., :k])


def _rank(values: Tensor, ids: Tensor, k: int) -> Tensor:
    """Positions of the ``k`` first entries of each row of (N, M) ``values`` under the
    ranking (larger value first, then the smaller id), in that order. ``ids`` broadcasts
    to ``values`` and lies in ``[0, 2**32)``.

    A plain top-(k+1) of the values decides every row without an equal pair among its
    k+1 first; the rows with one are ranked again on keys that hold the id.
    """
    n = values.shape[-1]
    k = min(k, n)
    ids = ids.expand_as(values)
    if k == n:
        return _rank_exact(values, ids, k)
    top, pos = values.topk(k + 1, dim=-1)
    pos = pos[:, :k]
    tied = (top[:, 1:] == top[:, :-1]).any(-1).nonzero().squeeze(1)
    if tied.numel():
        pos[tied] = _rank_exact(values[tied], ids[tied], k)
    return pos


def _merge(parts: list[tuple[Tensor, Tensor]], topk: int, keep_ties: bool
           ) -> tuple[Tensor, Tensor]:
    """Rank the union of the parts' candidates: (HW, k') affinities and ids."""
    if len(parts) == 1:
        return parts[0]
    aff = torch.cat([a for a, _ in parts], dim=-1)
    ids = torch.cat([i for _, i in parts], dim=-1)
    return _final(aff, ids, topk, keep_ties)


def _final(aff: Tensor, ids: Tensor, topk: int, keep_ties: bool) -> tuple[Tensor, Tensor]:
    """The ranked top k of (N, M) candidates; with ``keep_ties`` also every candidate tied
    with the k-th (rows padded with -inf to the widest)."""
    k = min(topk, aff.shape[-1])
    if keep_ties:
        pos = _rank_exact(aff, ids.expand_as(aff), aff.shape[-1])  # the full ranking
        aff, ids = aff.gather(-1, pos), ids.expand_as(pos).gather(-1, pos)
        kth = aff[:, k - 1:k]
        width = max(k, int((aff >= kth).sum(-1).max()))
        aff, ids = aff[:, :width], ids[:, :width]
        return aff.masked_fill(aff < kth, float('-inf')), ids
    pos = _rank(aff, ids, k)
    return aff.gather(-1, pos), ids.expand_as(aff).gather(-1, pos)


def _top_blocks(blocks: Tensor, topk: int, keep_ties: bool) -> Tensor:
    """Positions of the k best blocks of each row (ranked); with ``keep_ties``, of every
    block whose maximum reaches the k-th block maximum (a block outside the k best can
    hold a key tied with the k-th candidate only then)."""
    ids = torch.arange(blocks.shape[-1], device=blocks.device)
    pos = _rank(blocks, ids, topk)
    if keep_ties:
        kth = blocks.gather(-1, pos)[:, -1:]
        pos = _rank_exact(blocks, ids.expand_as(blocks),
                          int((blocks >= kth).sum(-1).max()))
    return pos


@lru_cache(maxsize=16)
def _window_masks(Sy: int, Sx: int, R: int, circle: bool) -> tuple[Tensor, Tensor, Tensor]:
    """Additive masks (0 allowed, -inf not) of a tile's region, key-major.

    Returns ``(top, bottom, columns)``: for the square window, ``top``/``bottom``
    (Sy-1, 1, Q) on the region's first/last Sy-1 rows (``|dy| <= R``) and ``columns``
    (side_x, Q) on the column maxima (``|dx| <= R``); for the disc, ``top`` is the
    whole (side_y, side_x, Q) mask and ``bottom`` is empty.
    """
    side_y, side_x = Sy + 2 * R, Sx + 2 * R
    qy = torch.arange(Sy).repeat_interleave(Sx)  # (Q,)
    qx = torch.arange(Sx).repeat(Sy)
    dy = torch.arange(side_y)[:, None, None] - qy - R  # (side_y, 1, Q)
    dx = torch.arange(side_x)[None, :, None] - qx - R  # (1, side_x, Q)

    def additive(ok: Tensor) -> Tensor:
        return torch.zeros(ok.shape).masked_fill_(~ok, float('-inf'))

    columns = additive(dx[0].abs() <= R)  # (side_x, Q)
    if circle:
        whole = additive((dy.abs() <= R) & (dx.abs() <= R) & (dy * dy + dx * dx < R * R))
        return whole, whole[:0], columns
    rows = additive(dy.abs() <= R)  # (side_y, 1, Q)
    return rows[:Sy - 1].contiguous(), rows[side_y - (Sy - 1):].contiguous(), columns


def _windowed_part(q: Tensor, keys: list[MemoryKeys], slots: list[int], b: int, R: int,
                   topk: int, circle: bool, keep_ties: bool, acc: torch.dtype,
                   low: torch.dtype) -> tuple[Tensor, Tensor]:
    """Top k (or the tie-extended top k) of the windowed maps for every query of item ``b``:
    ((H*W, k') affinities, ids), raster order of the queries.

    Tile by tile: the products of the tile with its region in each map (key-major,
    kept for the tile), the window's row limits applied on the region's first and last
    Sy-1 rows (the disc: everywhere), the maxima of the region's columns with the
    window's column limits applied to them, the k best columns of each query over all
    maps, then the keys of those columns that lie in its window.
    """
    C, H, W = q.shape
    memory = keys[0].memory
    (Sy, Sx), T = memory.tile, len(keys)
    side_y, side_x = Sy + 2 * R, Sx + 2 * R
    Q, P, D = Sy * Sx, side_y * side_x, 2 * R + 1
    ny, nx = math.ceil(H / Sy), math.ceil(W / Sx)
    device = q.device
    bank, bank_slots = memory.bank(low, keys)  # (capacity, B, nx, Hk, side_x, C)
    q_cl = F.pad(q, (0, nx * Sx - W, 0, ny * Sy - H)).permute(1, 2, 0)  # (ny*Sy, nx*Sx, C)
    q_tiles = q_cl.reshape(ny, Sy, nx, Sx, C).permute(0, 2, 4, 1, 3).reshape(ny, nx, C, Q)
    q_tiles = q_tiles.contiguous()  # (ny, nx, C, Q)
    top, bottom, columns = (m.to(device, acc) for m in _window_masks(Sy, Sx, R, circle))
    A = torch.empty(T, side_y, side_x, Q, dtype=acc, device=device)  # a tile's affinities
    M = torch.empty(T, side_x, Q, dtype=acc, device=device)  # their column maxima
    slot = torch.tensor(slots, device=device)
    ii = torch.arange(D, device=device)
    qy = torch.arange(Sy, device=device).repeat_interleave(Sx)  # (Q,)
    within = ((qy[:, None] + ii) * side_x * Q + torch.arange(Q, device=device)[:, None])
    inf = float('-inf')
    affs, idss = [], []
    for ty in range(ny):
        y0 = ty * Sy - R  # map row of region row 0
        y_lo, y_hi = max(0, -y0), min(side_y, H - y0)
        row_aff, row_ids = [], []
        for bx in range(nx):
            x0 = bx * Sx - R  # map column of region column 0
            x_lo, x_hi = max(0, -x0), min(side_x, W - x0)
            qt = q_tiles[ty, bx]  # (C, Q)
            for t, s in enumerate(bank_slots):  # each map's products, reduced while cached
                region = bank[s, b, bx, ty * Sy:ty * Sy + side_y].reshape(P, C)
                At = _gemm(region, qt, acc, A[t].view(P, Q)).view(side_y, side_x, Q)
                if circle:
                    At.add_(top)
                elif Sy > 1:
                    At[:Sy - 1].add_(top)
                    At[side_y - (Sy - 1):].add_(bottom)
                if y_lo > 0:  # keys above or below the map
                    At[:y_lo] = inf
                if y_hi < side_y:
                    At[y_hi:] = inf
                torch.amax(At, dim=0, out=M[t])  # (side_x, Q)
            M.add_(columns)
            if x_lo > 0:  # keys left or right of the map
                M[:, :x_lo] = inf
            if x_hi < side_x:
                M[:, x_hi:] = inf
            blocks = M.permute(2, 0, 1).reshape(Q, T * side_x)
            pos = _top_blocks(blocks, topk, keep_ties)  # (Q, kb)
            kb = pos.shape[-1]
            t_q, j_q = pos // side_x, pos % side_x  # map and region column of each block
            flat = ((t_q * P + j_q) * Q)[..., None] + within[:, None, :]  # (Q, kb, D)
            cand = A.view(-1)[flat]
            # a column outside the query's window or the map holds no candidate (chosen
            # only when fewer than k columns are valid)
            cand.masked_fill_(blocks.gather(-1, pos).unsqueeze(-1) == inf, inf)
            kx = (x0 + j_q).clamp(0, W - 1)  # (Q, kb)
            ky = (y0 + qy[:, None] + ii).clamp(0, H - 1)  # (Q, D)
            ids = ((slot[t_q] * W + kx) * H)[..., None] + ky[:, None, :]
            aff, ids = _final(cand.view(Q, kb * D), ids.view(Q, kb * D), topk, keep_ties)
            row_aff.append(aff)
            row_ids.append(ids)
        affs.append(row_aff)
        idss.append(row_ids)
    return _raster(affs, idss, ny, nx, Sy, Sx, H, W)


def _raster(rows_aff, rows_ids, ny, nx, Sy, Sx, H, W) -> tuple[Tensor, Tensor]:
    """(Q, k') results of every tile, by tile row -> (H*W, k') in raster order."""
    width = max(a.shape[-1] for row in rows_aff for a in row)

    def assemble(rows, fill):
        grid = torch.stack([torch.stack([F.pad(a, (0, width - a.shape[-1]), value=fill)
                                         for a in row]) for row in rows])  # (ny, nx, Q, k')
        grid = grid.view(ny, nx, Sy, Sx, width).permute(0, 2, 1, 3, 4)
        return grid.reshape(ny * Sy, nx * Sx, width)[:H, :W].reshape(H * W, width)

    return assemble(rows_aff, float('-inf')), assemble(rows_ids, 0)


def _whole_part(q: Tensor, keys: MemoryKeys, slot: int, b: int, topk: int, keep_ties: bool,
                acc: torch.dtype, low: torch.dtype, max_chunk_elements: int
                ) -> tuple[Tensor, Tensor]:
    """Top k of one whole map for every query of item ``b``: ((H*W, k') affinities, ids)."""
    C, H, W = q.shape
    hw = H * W
    flat = keys.flat(low)[b]  # (Hp, C)
    hp = flat.shape[0]
    nb = hp // WHOLE_BLOCK
    queries = q.reshape(C, hw)  # (C, HW), raster order
    rows = max(1, min(hw, WHOLE_QUERIES, max_chunk_elements // hp))
    device = q.device
    jj = torch.arange(WHOLE_BLOCK, device=device)
    affs, idss = [], []
    for r0 in range(0, hw, rows):
        qc = queries[:, r0:r0 + rows]  # (C, n)
        n = qc.shape[1]
        A = _gemm(flat, qc, acc)  # (Hp, n)
        if hp > hw:
            A[hw:] = float('-inf')
        blocks = A.view(nb, WHOLE_BLOCK, n).amax(1).t()  # (n, nb)
        pos = _top_blocks(blocks, topk, keep_ties)
        key_pos = pos[..., None] * WHOLE_BLOCK + jj  # (n, kb, 64)
        col = torch.arange(n, device=device)[:, None, None]
        cand = A.view(-1)[(key_pos * n + col).reshape(n, -1)]  # (n, kb*64)
        ids = (slot * hw + key_pos.clamp(max=hw - 1)).reshape(n, -1)
        aff, ids = _final(cand, ids, topk, keep_ties)
        affs.append(aff)
        idss.append(ids)
    width = max(a.shape[-1] for a in affs)
    aff = torch.cat([F.pad(a, (0, width - a.shape[-1]), value=float('-inf')) for a in affs])
    ids = torch.cat([F.pad(i, (0, width - i.shape[-1])) for i in idss])
    return aff, ids


def _gemm(a: Tensor, b: Tensor, acc: torch.dtype, out: Tensor | None = None) -> Tensor:
    """``a @ b`` (2-D) in the inputs' dtype, in ``acc`` (into ``out`` when given).

    Under mixed precision as :func:`~corrflow.models.layers.local_attention._product`:
    on CUDA the fp32 accumulator comes out as it is, elsewhere the result is rounded to
    the inputs' dtype, then widened."""
    if a.dtype == acc:
        return torch.mm(a, b, out=out) if out is not None else torch.mm(a, b)
    wide = _product(a[None], b[None], acc)[0]
    return out.copy_(wide) if out is not None else wide
