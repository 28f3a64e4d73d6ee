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

from corrflow.utils.precision import autocast_dtype, autocast_off, full_precision

__all__ = [
    'window_offsets', 'local_affinity', 'restricted_attention', 'per_frame_topk_attention',
    'global_attention', 'tiles_per_chunk', 'wide_gemm_output',
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
                         max_chunk_elements: int = 1 << 24) -> Tensor:
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
    # Standard layout out: the tiles are assembled channels-last, and some
    # consumers (e.g. the bilinear-upsampling backward) require contiguous grads.
    return _tiled_attention(query, keys, values, radius, temperature, tile_size,
                            max_chunk_elements).contiguous()


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


@lru_cache(maxsize=32)
def _window_mask_cpu(tile: int, radius: int, circle: bool = False) -> Tensor:
    """(Q, P) bool: query i of a tile lies within radius R of key j of its region.

    Square window: ``|dy| <= R`` and ``|dx| <= R``; ``circle``: ``dy^2 + dx^2 < R^2``
    (the Euclidean rule of CRW's test code).
    """
    S, R = tile, radius
    side = S + 2 * R
    qy, qx = torch.meshgrid(torch.arange(S), torch.arange(S), indexing='ij')
    ky, kx = torch.meshgrid(torch.arange(side), torch.arange(side), indexing='ij')
    dy = ky.reshape(1, -1) - qy.reshape(-1, 1)  # (Q, P), offset + R
    dx = kx.reshape(1, -1) - qx.reshape(-1, 1)
    square = (dy >= 0) & (dy <= 2 * R) & (dx >= 0) & (dx <= 2 * R)
    if circle:
        return square & ((dy - R) ** 2 + (dx - R) ** 2 < R * R)
    return square


def _allowed(ty: Tensor, tx: Tensor, H: int, W: int, tile: int, radius: int,
             circle: bool = False) -> Tensor:
    """Which key of each tile's region each query may attend to.

    Keys outside the H x W map are excluded; queries in the padding beyond the
    map keep their whole window so that their (discarded) softmax stays finite.

    Args:
        ty, tx (Tensor): (n,) tile row and column of each tile.

    Returns:
        Tensor: (n, Q, P) bool.
    """
    S, R = tile, radius
    side = S + 2 * R
    device = ty.device
    window = _window_mask_cpu(S, R, circle).to(device)  # (Q, P)
    k = torch.arange(side, device=device)
    key_y = ty[:, None] * S - R + k  # (n, side)
    key_x = tx[:, None] * S - R + k
    key_inside = (((key_y >= 0) & (key_y < H))[:, :, None]
                  & ((key_x >= 0) & (key_x < W))[:, None, :]).reshape(-1, side * side)  # (n, P)
    q = torch.arange(S, device=device)
    q_inside = (((ty[:, None] * S + q) < H)[:, :, None]
                & ((tx[:, None] * S + q) < W)[:, None, :]).reshape(-1, S * S)  # (n, Q)
    return window[None] & (key_inside[:, None, :] | ~q_inside[:, :, None])  # (n, Q, P)


#: Bytes of chunk masks kept between calls (masks depend on the frame size,
#: tile, radius and chunk, not on the data); beyond it they are rebuilt.
_MASK_CACHE_BYTES = 64 << 20
_mask_cache: dict[tuple, Tensor] = {}


def _chunk_bias(H: int, W: int, tile: int, radius: int, t0: int, t1: int,
                device: torch.device, circle: bool = False) -> Tensor:
    """(n, Q, P) float32 additive mask of tiles ``[t0, t1)``: 0 allowed, -inf not.

    Masks are cached up to :data:`_MASK_CACHE_BYTES` in all; larger geometries
    (e.g. radius 24 over a whole 480p frame, hundreds of MB) are rebuilt per
    chunk, which is cheap next to the chunk's products.
    """
    key = (H, W, tile, radius, t0, t1, str(device), circle)
    bias = _mask_cache.get(key)
    if bias is not None:
        return bias
    nx = math.ceil(W / tile)
    flat = torch.arange(t0, t1, device=device)
    allowed = _allowed(flat // nx, flat % nx, H, W, tile, radius, circle)  # (n, Q, P)
    bias = torch.zeros(allowed.shape, dtype=torch.float32, device=device)
    bias.masked_fill_(~allowed, float('-inf'))
    size = bias.numel() * bias.element_size()
    if size <= _MASK_CACHE_BYTES // 4:
        if sum(b.numel() * b.element_size() for b in _mask_cache.values()) + size \
                > _MASK_CACHE_BYTES:
            _mask_cache.clear()
        _mask_cache[key] = bias
    return bias


def _chunk_geometry(H: int, W: int, tile: int, radius: int, T: int, t0: int, t1: int,
                    device: torch.device, circle: bool = False) -> tuple[Tensor, Tensor]:
    """Gather indices and additive mask of tiles ``[t0, t1)`` (row-major order).

    The T reference maps are stored channels-last and concatenated:
    (T * Hk * Wk, C) rows with ``Hk = ny*S + 2R``, ``Wk = nx*S + 2R``.

    Returns:
        tuple[Tensor, Tensor]: ``index`` (n * T * P,) int64 rows of every
        tile's key regions (frame-major within a tile), built per chunk, and
        ``bias`` (n, Q, P) float32 from :func:`_chunk_bias`; the same mask
        applies to each of the T frames.
    """
    S, R = tile, radius
    ny, nx = math.ceil(H / S), math.ceil(W / S)
    side = S + 2 * R
    Hk, Wk = ny * S + 2 * R, nx * S + 2 * R
    k = torch.arange(side, device=device)
    local = (k[:, None] * Wk + k[None, :]).reshape(-1)  # (P,) offsets inside a region
    flat = torch.arange(t0, t1, device=device)
    ty, tx = flat // nx, flat % nx  # (n,)
    corner = ty * S * Wk + tx * S  # (n,) top-left of each region in the padded map
    frames = torch.arange(T, device=device) * (Hk * Wk)  # (T,)
    index = corner[:, None, None] + frames[None, :, None] + local[None, None, :]  # (n, T, P)
    return index.reshape(-1), _chunk_bias(H, W, S, R, t0, t1, device, circle)


def _add_bias(aff: Tensor, bias: Tensor, B: int, T: int) -> None:
    """In place: ``aff`` (B*n, Q, T*P) += ``bias`` (n, Q, P) for every batch item and frame."""
    n, Q, P = bias.shape
    aff.view(B, n, Q, T, P).add_(bias.to(aff.dtype)[None, :, :, None, :])


@lru_cache(maxsize=8)
def wide_gemm_output(device_type: str) -> bool:
    """Whether ``torch.bmm(..., out_dtype=torch.float32)`` works for fp16/bf16 inputs here.

    On CUDA it hands the GEMM's fp32 accumulator over as it is; CPUs lack the
    operator. Probed once per device type on a 1x2x2 product.
    """
    if device_type != 'cuda' or not torch.cuda.is_available():
        return False
    try:
        probe = torch.ones(1, 2, 2, device='cuda', dtype=torch.float16)
        return torch.bmm(probe, probe, out_dtype=torch.float32).dtype == torch.float32
    except (RuntimeError, TypeError):
        return False


def _product(a: Tensor, b: Tensor, acc_dtype: torch.dtype, out: Tensor | None = None) -> Tensor:
    """``bmm(a, b)`` in the dtype of ``a`` and ``b``, returned in ``acc_dtype``.

    bf16/fp16 GEMMs accumulate in fp32 on CPUs (oneDNN) and GPUs (cuBLAS). On
    CUDA the fp32 accumulator comes out as it is (``out_dtype``), so an fp16
    affinity beyond 65504 stays finite; elsewhere the result is rounded to the
    inputs' dtype by the GEMM, then widened (bf16 has fp32's range: no
    overflow). ``out`` (of ``acc_dtype``) receives the result when given.
    """
    if a.dtype == acc_dtype:
        return torch.bmm(a, b, out=out) if out is not None else torch.bmm(a, b)
    if a.is_cuda and acc_dtype == torch.float32 and wide_gemm_output('cuda'):
        wide = torch.bmm(a, b, out_dtype=torch.float32)
        return out.copy_(wide) if out is not None else wide
    low = torch.bmm(a, b)
    return out.copy_(low) if out is not None else low.to(acc_dtype)


class _Workspace:
    """Flat buffers reused across chunks; sized by the first (largest) request."""

    def __init__(self) -> None:
        self._buffers: dict[str, Tensor] = {}

    def take(self, name: str, shape: tuple[int, ...], like: Tensor,
             dtype: torch.dtype | None = None) -> Tensor:
        dtype = dtype or like.dtype
        numel = math.prod(shape)
        buf = self._buffers.get(name)
        if buf is None or buf.numel() < numel or buf.dtype != dtype:
            buf = like.new_empty(numel, dtype=dtype)
            self._buffers[name] = buf
        return buf[:numel].view(shape)

    def gather(self, name: str, maps: Tensor, index: Tensor) -> Tensor:
        """``maps[:, index]`` (B, len(index), D) written into a reused buffer."""
        B, _, D = maps.shape
        out = self.take(name, (B, index.numel(), D), maps)
        return torch.index_select(maps, 1, index, out=out)


def _regions(maps: Tensor, index: Tensor, n: int, workspace: _Workspace | None,
             name: str) -> Tensor:
    """Key or value regions (B*n, T*P, D) of a chunk, gathered from (B, T*Hk*Wk, D) maps."""
    B, D = maps.shape[0], maps.shape[-1]
    regions = maps[:, index] if workspace is None else workspace.gather(name, maps, index)
    return regions.view(B * n, index.numel() // n, D)


def _masked_affinity(q_tiles: Tensor, k_reg: Tensor, bias: Tensor, B: int,
                     acc_dtype: torch.dtype, workspace: _Workspace | None) -> Tensor:
    """(B*n, Q, T*P) affinities of a chunk, in ``acc_dtype``, with out-of-window keys at -inf."""
    n, Q, P = bias.shape
    TP = k_reg.shape[1]
    out = None if workspace is None else workspace.take('aff', (B * n, Q, TP), q_tiles,
                                                         acc_dtype)
    aff = _product(q_tiles, k_reg.transpose(1, 2), acc_dtype, out)
    _add_bias(aff, bias, B, TP // P)
    return aff


def _softmax_chunk(q_tiles: Tensor, k_cl: Tensor, v_cl: Tensor, index: Tensor, bias: Tensor,
                   acc_dtype: torch.dtype, workspace: _Workspace | None):
    """Softmax attention of one chunk: ``(out, k_reg, v_reg, prob)``.

    The affinity and aggregation products run in the dtype of the maps (the
    autocast dtype under mixed precision); the softmax runs in place, in
    ``acc_dtype``, and so does the output.
    """
    B = k_cl.shape[0]
    n = bias.shape[0]
    k_reg = _regions(k_cl, index, n, workspace, 'key')  # (B*n, T*P, C)
    v_reg = _regions(v_cl, index, n, workspace, 'value')  # (B*n, T*P, L)
    prob = _masked_affinity(q_tiles, k_reg, bias, B, acc_dtype, workspace)  # (B*n, Q, T*P)
    prob.sub_(prob.amax(-1, keepdim=True)).exp_()
    prob.div_(prob.sum(-1, keepdim=True))
    low = prob if v_reg.dtype == acc_dtype else prob.to(v_reg.dtype)
    out = _product(low, v_reg, acc_dtype)  # (B*n, Q, L)
    return out, k_reg, v_reg, prob


class _TiledSoftmaxAttention(torch.autograd.Function):
    """Softmax attention of query tiles over gathered key regions, one chunk of tiles.

    Forward: ``out = softmax(q @ k_reg^T + bias) @ v_reg`` with ``k_reg``/``v_reg``
    gathered from channels-last maps by ``index``. Backward: four batched GEMMs,
    the softmax gradient, and scatter-adds of the region gradients.

    Autocast behaviour (declared, not inherited): forward and backward run with
    autocast disabled on the inputs' device and cast explicitly. The products
    run in the dtype of ``q_tiles``/``k_cl``/``v_cl`` (the caller casts them to
    the autocast dtype, see :func:`_tiled_attention`); affinities, the softmax,
    its gradient, the output and the scatter-added region gradients are in
    ``acc_dtype`` (fp32 under mixed precision). Each input's gradient comes back
    in that input's dtype.
    """

    @staticmethod
    def forward(ctx, q_tiles: Tensor, k_cl: Tensor, v_cl: Tensor, index: Tensor,
                bias: Tensor, acc_dtype: torch.dtype) -> Tensor:
        # q_tiles: (B*n, Q, C); k_cl: (B, T*Hk*Wk, C); v_cl: (B, T*Hk*Wk, L)
        # index: (n*T*P,); bias: (n, Q, P), shared by the T frames
        with autocast_off(q_tiles.device.type):
            out, k_reg, v_reg, prob = _softmax_chunk(q_tiles, k_cl, v_cl, index, bias,
                                                     acc_dtype, None)
        ctx.save_for_backward(q_tiles, k_reg, v_reg, prob, index)
        ctx.map_shapes = (k_cl.shape, v_cl.shape)
        ctx.acc_dtype = acc_dtype
        return out  # (B*n, Q, L)

    @staticmethod
    def backward(ctx, grad_out: Tensor):
        q_tiles, k_reg, v_reg, prob, index = ctx.saved_tensors
        with autocast_off(grad_out.device.type):
            grads = _softmax_chunk_backward(ctx, grad_out, q_tiles, k_reg, v_reg, prob, index)
        return (*grads, None, None, None)


def _softmax_chunk_backward(ctx, grad_out: Tensor, q_tiles: Tensor, k_reg: Tensor,
                            v_reg: Tensor, prob: Tensor, index: Tensor):
    """Gradients of :class:`_TiledSoftmaxAttention` for (q_tiles, k_cl, v_cl)."""
    k_shape, v_shape = ctx.map_shapes
    acc = ctx.acc_dtype
    B = k_shape[0]
    low = k_reg.dtype
    grad_q = grad_k = grad_v = None
    grad_out = grad_out.to(acc).contiguous()
    grad_low = grad_out if low == acc else grad_out.to(low)
    if ctx.needs_input_grad[2]:
        prob_low = prob if v_reg.dtype == acc else prob.to(v_reg.dtype)
        grad_v_reg = _product(prob_low.transpose(1, 2), grad_low.to(v_reg.dtype), acc)
        grad_v = grad_out.new_zeros(v_shape).index_add_(
            1, index, grad_v_reg.view(B, -1, v_shape[-1])).to(v_reg.dtype)
    if ctx.needs_input_grad[0] or ctx.needs_input_grad[1]:
        grad_aff = _product(grad_low.to(v_reg.dtype), v_reg.transpose(1, 2), acc)
        grad_aff -= (grad_aff * prob).sum(-1, keepdim=True)
        grad_aff *= prob  # softmax backward, (B*n, Q, T*P)
        grad_aff_low = grad_aff if low == acc else grad_aff.to(low)
        if ctx.needs_input_grad[0]:
            grad_q = _product(grad_aff_low, k_reg, acc).to(q_tiles.dtype)  # (B*n, Q, C)
        if ctx.needs_input_grad[1]:
            grad_k_reg = _product(grad_aff_low.transpose(1, 2), q_tiles, acc)  # (B*n, T*P, C)
            grad_k = grad_out.new_zeros(k_shape).index_add_(
                1, index, grad_k_reg.view(B, -1, k_shape[-1])).to(low)
    return grad_q, grad_k, grad_v


def _channels_last_padded(maps: list[Tensor], pad: tuple[int, int, int, int],
                          dtype: torch.dtype) -> Tensor:
    """T maps (B, C, H, W) -> (B, T * Hk * Wk, C) in ``dtype``: zero-padded, channels last,
    concatenated."""
    padded = [F.pad(m.to(dtype), pad).permute(0, 2, 3, 1) for m in maps]  # T x (B, Hk, Wk, C)
    B, Hk, Wk, C = padded[0].shape
    return torch.cat(padded, dim=1).reshape(B, len(maps) * Hk * Wk, C)


def _dtypes(tensors: list[Tensor]) -> tuple[torch.dtype, torch.dtype]:
    """``(product dtype, accumulation dtype)`` of an attention call.

    The accumulation dtype is float64 for float64 inputs, else float32. The
    products run in the autocast dtype when autocast is on for the inputs'
    device, else in the accumulation dtype (inputs given in bf16/fp16 outside
    autocast also compute their products in their own dtype).
    """
    acc = torch.float64 if any(t.dtype == torch.float64 for t in tensors) else torch.float32
    if acc == torch.float64:
        return acc, acc
    low = autocast_dtype(tensors[0].device.type)
    if low is None:
        first = tensors[0].dtype
        low = first if first in (torch.bfloat16, torch.float16) else acc
    return low, acc


def _tiled_attention(query: Tensor, keys: list[Tensor], values: list[Tensor], radius: int,
                     temperature: float, tile: int, max_chunk_elements: int) -> Tensor:
    """Blocked windowed softmax attention over chunks of query tiles (row-major), with a
    dedicated backward. A chunk's key regions, masks and affinities exist only while it
    is processed, so peak memory is bounded by ``max_chunk_elements`` (plus the padded
    maps and the output).

    Precision: see :func:`_dtypes`; the output is in the accumulation dtype
    (fp32 under mixed precision).
    """
    if radius < 0 or tile < 1:
        raise ValueError(f'radius must be >= 0 and tile_size >= 1, got {radius}, {tile}')
    B, C, H, W = query.shape
    L = values[0].shape[1]
    T = len(keys)
    S, R = tile, radius
    P = (S + 2 * R) ** 2
    ny, nx = math.ceil(H / S), math.ceil(W / S)
    pad_h, pad_w = ny * S - H, nx * S - W
    low, acc = _dtypes([query, *keys])
    if temperature != 1.0:
        query = query.to(acc) / temperature
    q_cl = F.pad(query.to(low), (0, pad_w, 0, pad_h)).permute(0, 2, 3, 1)  # (B, ny*S, nx*S, C)
    pad = (R, pad_w + R, R, pad_h + R)
    k_cl = _channels_last_padded(keys, pad, low)  # (B, T*Hk*Wk, C)
    v_cl = _channels_last_padded(values, pad, low)  # (B, T*Hk*Wk, L)

    num_tiles = ny * nx
    chunk = tiles_per_chunk(T * P, S, max(1, max_chunk_elements // B))
    q_all = q_cl.reshape(B, ny, S, nx, S, C).permute(0, 1, 3, 2, 4, 5)
    q_all = q_all.reshape(B, num_tiles, S * S, C)  # (B, tiles, Q, C)
    # Without autograd, the chunks' regions and affinities live in buffers that
    # are reused from chunk to chunk: no allocator churn (page faults, heap
    # fragmentation) however many chunks a large frame needs.
    needs_grad = torch.is_grad_enabled() and any(
        t.requires_grad for t in (query, *keys, *values))
    workspace = None if needs_grad else _Workspace()
    outputs = []
    with autocast_off(query.device.type):
        for t0 in range(0, num_tiles, chunk):
            t1 = min(num_tiles, t0 + chunk)
            n = t1 - t0
            q_t = q_all[:, t0:t1].reshape(B * n, S * S, C)  # (B*n, Q, C)
            index, bias = _chunk_geometry(H, W, S, R, T, t0, t1, query.device)
            if needs_grad:
                out = _TiledSoftmaxAttention.apply(q_t, k_cl, v_cl, index, bias, acc)
            else:
                out = _softmax_chunk(q_t, k_cl, v_cl, index, bias, acc, workspace)[0]
            outputs.append(out.view(B, n, S * S, out.shape[-1]))
    out = outputs[0] if len(outputs) == 1 else torch.cat(outputs, dim=1)  # (B, tiles, Q, L)
    out = out.view(B, ny, nx, S, S, L)
    out = out.permute(0, 5, 1, 3, 2, 4).reshape(B, L, ny * S, nx * S)  # (B, L, ny*S, nx*S)
    return out[:, :, :H, :W]


def per_frame_topk_attention(query: Tensor, context: list[tuple[Tensor, Tensor]], topk: int,
                             scale: float, max_chunk_elements: int) -> Tensor:
    """TimeCycle's read-out: for each context frame, the top-k of the softmax over all its
    positions (no window), then the mean over the frames.

    Args:
        query (Tensor): (1, C, h, w) features of the current frame.
        context (list[tuple[Tensor, Tensor]]): (features (1, C, h', w'), labels
            (1, L, h', w')) of each context frame.
        topk (int): positions kept per frame (fewer if a frame has fewer).
        scale (float): the affinities are multiplied by it before the softmax.
        max_chunk_elements (int): affinity entries computed at once (memory bound).

    Returns:
        Tensor: (1, L, h, w) label distribution, in full precision.
    """
    _, C, h, w = query.shape
    q = query.reshape(C, h * w).t()  # (Q, C)
    num_labels = context[0][1].shape[1]
    dtype = full_precision(context[0][1].dtype)  # label maps and softmax in full precision
    out = torch.zeros(h * w, num_labels, dtype=dtype, device=query.device)
    for feat, labels in context:
        keys = feat.reshape(C, -1)  # (C, P)
        values = labels.reshape(num_labels, -1).t().to(dtype)  # (P, L)
        k = min(topk, keys.shape[1])
        rows = max(1, max_chunk_elements // keys.shape[1])
        for i in range(0, h * w, rows):
            prob = (q[i:i + rows] @ keys).to(dtype).mul_(scale).softmax(dim=1)
            top, idx = prob.topk(k, dim=1)  # (rows, k)
            out[i:i + rows] += (top.unsqueeze(-1) * values[idx]).sum(1)
    return (out / len(context)).t().reshape(1, num_labels, h, w)


def global_attention(query: Tensor, key: Tensor, value: Tensor, temperature: float = 1.0,
                     max_chunk_elements: int = 1 << 24) -> Tensor:
    """Softmax attention over every position of the reference frame (no window).

    What :func:`restricted_attention` gives with a window that covers the whole frame, as
    dense products over chunks of queries instead of windows.

    Args:
        query (Tensor): (B, C, H, W) target features.
        key (Tensor): (B, C, H', W') reference features.
        value (Tensor): (B, L, H', W') reference values.
        temperature (float): affinities are divided by it before the softmax.
        max_chunk_elements (int): upper bound on affinity elements held at once.

    Returns:
        Tensor: (B, L, H, W) attention-weighted values, in full precision.
    """
    B, C, H, W = query.shape
    q = query.flatten(2).transpose(1, 2)  # (B, Q, C)
    k = key.flatten(2)  # (B, C, P)
    dtype = full_precision(value.dtype)
    v = value.flatten(2).transpose(1, 2).to(dtype)  # (B, P, L)
    out = torch.empty(B, H * W, v.shape[-1], dtype=dtype, device=query.device)
    rows = max(1, max_chunk_elements // max(1, B * k.shape[-1]))
    for i in range(0, H * W, rows):
        aff = torch.bmm(q[:, i:i + rows], k).to(dtype) / temperature
        out[:, i:i + rows] = torch.bmm(aff.softmax(dim=-1), v)
    return out.transpose(1, 2).reshape(B, v.shape[-1], H, W)
