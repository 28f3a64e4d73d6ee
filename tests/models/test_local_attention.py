import pytest
import torch

from corrflow.models.layers.local_attention import (local_affinity, restricted_attention,
                                                    window_offsets)
from corrflow.models.layers.topk_memory import topk_memory_attention, topk_restricted_attention


def dense_reference(query, keys, values, radius, temperature=1.0, topk=None):
    """Full HW x HW attention with a window mask: the definition, brute force."""
    B, C, H, W = query.shape
    ys, xs = torch.meshgrid(torch.arange(H), torch.arange(W), indexing='ij')
    ys, xs = ys.reshape(-1), xs.reshape(-1)
    window = ((ys[:, None] - ys[None]).abs() <= radius) & ((xs[:, None] - xs[None]).abs() <= radius)
    affs, vals = [], []
    for k, v in zip(keys, values):
        a = torch.einsum('bcp,bcq->bpq', query.reshape(B, C, -1), k.reshape(B, C, -1)) / temperature
        affs.append(a.masked_fill(~window, float('-inf')))
        vals.append(v.reshape(B, v.shape[1], -1))
    aff, val = torch.cat(affs, 2), torch.cat(vals, 2)
    if topk is not None:
        top, idx = aff.topk(topk, -1)
        aff = torch.full_like(aff, float('-inf')).scatter(-1, idx, top)
    return torch.einsum('bpq,blq->blp', aff.softmax(-1), val).reshape(B, -1, H, W)


def random_case(seed, B, C, L, H, W, T):
    g = torch.Generator().manual_seed(seed)
    q = torch.randn(B, C, H, W, generator=g, dtype=torch.float64, requires_grad=True)
    ks = [torch.randn(B, C, H, W, generator=g, dtype=torch.float64, requires_grad=True)
          for _ in range(T)]
    vs = [torch.rand(B, L, H, W, generator=g, dtype=torch.float64, requires_grad=True)
          for _ in range(T)]
    return q, ks, vs


@pytest.mark.parametrize('seed', range(8))
def test_restricted_attention_matches_dense_values_and_gradients(seed):
    g = torch.Generator().manual_seed(100 + seed)
    H, W = (int(x) for x in torch.randint(1, 15, (2,), generator=g))
    R = int(torch.randint(0, 5, (), generator=g))
    S = int(torch.randint(1, 9, (), generator=g))
    T = 1 + seed % 2
    q, ks, vs = random_case(seed, 2, 3, 4, H, W, T)
    # a tiny chunk budget forces several chunks of tiles
    out = restricted_attention(q, ks, vs, R, tile_size=S, max_chunk_elements=97 + seed)
    ref = dense_reference(q, ks, vs, R)
    torch.testing.assert_close(out, ref, rtol=1e-9, atol=1e-10)
    grad = torch.randn_like(out)
    got = torch.autograd.grad((out * grad).sum(), [q, *ks, *vs])
    want = torch.autograd.grad((ref * grad).sum(), [q, *ks, *vs])
    for a, b in zip(got, want):
        torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-10)


@pytest.mark.parametrize('seed', range(4))
def test_topk_attention_matches_dense(seed):
    q, ks, vs = random_case(seed, 1, 4, 3, 9 + seed, 7, 3)
    with torch.no_grad():
        out = topk_restricted_attention(q, ks, vs, 2, topk=5, temperature=0.07, tile_size=4)
        ref = dense_reference(q, ks, vs, 2, temperature=0.07, topk=5)
    torch.testing.assert_close(out, ref, rtol=1e-9, atol=1e-10)


def test_topk_attention_refuses_to_be_differentiated():
    q, ks, vs = random_case(0, 1, 4, 3, 9, 7, 2)
    with pytest.raises(ValueError, match='inference-only'):
        topk_restricted_attention(q, ks, vs, 2, topk=5)


def test_border_positions_get_no_weight():
    # A value that is 1 only outside nothing: all-ones values must stay exactly 1
    # (the weights of every query sum to one over in-image positions only).
    q = torch.randn(1, 8, 6, 5)
    k = torch.randn(1, 8, 6, 5) * 10
    out = restricted_attention(q, k, torch.ones(1, 1, 6, 5), 3, tile_size=4)
    torch.testing.assert_close(out, torch.ones_like(out))
    # a corner query can only see its (R+1)^2 in-image neighbours
    v = torch.zeros(1, 1, 6, 5)
    v[0, 0, 5, 4] = 1.0  # far corner, outside the window of (0, 0) for R=3
    out = restricted_attention(q, k, v, 3)
    assert out[0, 0, 0, 0] == 0


def test_local_affinity_offsets_and_mask():
    q, k = torch.randn(2, 3, 5, 6), torch.randn(2, 3, 5, 6)
    aff = local_affinity(q, k, 2)
    offsets = window_offsets(2)
    assert aff.shape == (2, 25, 5, 6)
    for i, (dy, dx) in enumerate(offsets.tolist()):
        for y, x in [(0, 0), (2, 3), (4, 5)]:
            yy, xx = y + dy, x + dx
            if 0 <= yy < 5 and 0 <= xx < 6:
                want = (q[:, :, y, x] * k[:, :, yy, xx]).sum(1)
                torch.testing.assert_close(aff[:, i, y, x], want)
            else:
                assert torch.isinf(aff[:, i, y, x]).all()


def test_shape_errors_are_clear():
    with pytest.raises(ValueError, match='same shape'):
        restricted_attention(torch.randn(1, 2, 4, 4), torch.randn(1, 2, 4, 5),
                             torch.randn(1, 1, 4, 5), 1)
    with pytest.raises(ValueError, match='one value map per key'):
        restricted_attention(torch.randn(1, 2, 4, 4), [torch.randn(1, 2, 4, 4)] * 2,
                             [torch.randn(1, 1, 4, 4)], 1)


@pytest.mark.parametrize('size', [1, 4, 9])
def test_maps_smaller_than_window_train_through_upsampling(size):
    """Feature maps smaller than the window (inputs <= 32 px) still back-propagate."""
    from corrflow.models.algorithms.recursive_flow import colour_cross_entropy
    query = torch.randn(2, 8, size, size, requires_grad=True)
    key = torch.randn(2, 8, size, size, requires_grad=True)
    value = torch.softmax(torch.randn(2, 16, size, size), 1)
    out = restricted_attention(query, key, value, 6)
    assert out.is_contiguous()
    loss = colour_cross_entropy(out, torch.randint(0, 16, (2, 4 * size, 4 * size)))
    loss.backward()
    assert torch.isfinite(query.grad).all() and torch.isfinite(key.grad).all()
    assert query.grad.abs().sum() > 0 or size == 1


@pytest.mark.parametrize('seed', range(4))
def test_inference_path_with_reused_buffers_matches_dense(seed):
    """Without autograd, chunks run in reused buffers; results are unchanged."""
    g = torch.Generator().manual_seed(200 + seed)
    H, W = (int(x) for x in torch.randint(1, 15, (2,), generator=g))
    R = int(torch.randint(0, 5, (), generator=g))
    S = int(torch.randint(1, 9, (), generator=g))
    q, ks, vs = random_case(seed, 2, 3, 4, H, W, 1 + seed % 3)
    with torch.no_grad():
        # uneven chunks: the last one is smaller than the buffers
        out = restricted_attention(q, ks, vs, R, tile_size=S, max_chunk_elements=131 + seed)
        top = topk_restricted_attention(q, ks, vs, R, topk=3, temperature=0.07, tile_size=S,
                                        max_chunk_elements=131 + seed)
        ref = dense_reference(q, ks, vs, R)
        ref_top = dense_reference(q, ks, vs, R, temperature=0.07, topk=3)
    assert not out.requires_grad
    torch.testing.assert_close(out, ref, rtol=1e-9, atol=1e-10)
    torch.testing.assert_close(top, ref_top, rtol=1e-9, atol=1e-10)


# ----------------------------------------------------------------------------- mixed precision

def _float_case(seed, B=2, C=32, L=8, H=20, W=18, T=2, scale=0.3):
    g = torch.Generator().manual_seed(seed)
    q = (scale * torch.randn(B, C, H, W, generator=g)).requires_grad_()
    ks = [(scale * torch.randn(B, C, H, W, generator=g)).requires_grad_() for _ in range(T)]
    vs = [torch.softmax(torch.randn(B, L, H, W, generator=g), 1).requires_grad_()
          for _ in range(T)]
    return q, ks, vs


def _rel(a, b):
    return float((a - b).detach().norm() / b.detach().norm())


#: Relative error (Frobenius norm) of bf16 autocast against fp32: bf16 keeps 8 bits of
#: mantissa (relative rounding 2^-9 = 0.2 %); the products round their inputs and
#: results, the softmax and its gradient are fp32. Measured here: 0.2 % forward,
#: about 0.5 % for the gradients.
BF16_FORWARD_BOUND = 1e-2
BF16_GRADIENT_BOUND = 3e-2


@pytest.mark.parametrize('seed', range(3))
def test_restricted_attention_under_cpu_bf16_autocast_matches_fp32(seed):
    q, ks, vs = _float_case(seed)
    grad = torch.randn(2, 8, 20, 18, generator=torch.Generator().manual_seed(seed))
    results = {}
    for enabled in (False, True):
        with torch.autocast('cpu', dtype=torch.bfloat16, enabled=enabled):
            out = restricted_attention(q, ks, vs, 3, tile_size=4, max_chunk_elements=5000)
        # the output and every gradient stay fp32 (the products alone are bf16)
        grads = torch.autograd.grad((out * grad).sum(), [q, *ks, *vs])
        assert out.dtype == torch.float32 and all(g.dtype == torch.float32 for g in grads)
        results[enabled] = out, grads
    (ref, ref_grads), (low, low_grads) = results[False], results[True]
    assert 0 < _rel(low, ref) < BF16_FORWARD_BOUND  # > 0: the products did run in bf16
    for a, b in zip(low_grads, ref_grads):
        assert _rel(a, b) < BF16_GRADIENT_BOUND


def test_restricted_attention_accepts_bf16_features_from_autocast_convolutions():
    # under autocast a conv hands the attention bf16 features, the labels are fp32
    q, ks, vs = _float_case(5)
    with torch.no_grad(), torch.autocast('cpu', dtype=torch.bfloat16):
        low = restricted_attention(q.bfloat16(), [k.bfloat16() for k in ks], vs, 3)
        assert low.dtype == torch.float32
    with torch.no_grad():
        ref = restricted_attention(q, ks, vs, 3)
    assert _rel(low, ref) < BF16_FORWARD_BOUND
    torch.testing.assert_close(low.sum(1), torch.ones_like(low.sum(1)), rtol=0, atol=2e-2)


def test_topk_attention_under_cpu_bf16_autocast():
    # normalised features, temperature 0.07, as protocol B
    q, ks, vs = _float_case(7, B=1, C=16, L=4)
    q = torch.nn.functional.normalize(q.detach(), dim=1)
    ks = [torch.nn.functional.normalize(k.detach(), dim=1) for k in ks]
    vs = [v.detach() for v in vs]
    with torch.no_grad():
        ref = topk_restricted_attention(q, ks, vs, 3, topk=10, temperature=0.07)
    with torch.no_grad(), torch.autocast('cpu', dtype=torch.bfloat16):
        low = topk_restricted_attention(q, ks, vs, 3, topk=10, temperature=0.07)
    assert low.dtype == torch.float32
    # bf16 affinities can swap near-tied keys in and out of the top 10: a few % in all
    assert 0 < _rel(low, ref) < 5e-2


def test_inference_and_autograd_paths_give_the_same_output():
    # one path per piece of maths: with and without autograd (reused buffers), same numbers
    q, ks, vs = _float_case(3, B=1)

    def run():
        return restricted_attention(q, ks, vs, 2, tile_size=4, max_chunk_elements=3000)
    with_grad = run()
    assert with_grad.requires_grad
    with torch.no_grad():
        without = run()
    torch.testing.assert_close(without, with_grad.detach(), rtol=0, atol=0)


def _dense_topk_memory(q, ks, vs, radius, topk, temperature, restricted, circle, ties):
    """Brute force: every query's candidate keys listed explicitly."""
    B, C, H, W = q.shape
    L = vs[0].shape[1]
    out = torch.zeros(B, L, H, W, dtype=q.dtype)
    yy, xx = torch.meshgrid(torch.arange(H), torch.arange(W), indexing='ij')
    for y in range(H):
        for x in range(W):
            affs, labels = [], []
            for k, v, windowed in zip(ks, vs, restricted):
                aff = (q[0, :, y, x, None, None] * k[0]).sum(0) / temperature
                keep = torch.ones(H, W, dtype=torch.bool)
                if windowed:
                    dy, dx = yy - y, xx - x
                    keep = (dy.abs() <= radius) & (dx.abs() <= radius)
                    if circle:
                        keep &= dy ** 2 + dx ** 2 < radius ** 2
                affs.append(aff[keep])
                labels.append(v[0][:, keep].T)
            aff, lab = torch.cat(affs), torch.cat(labels)
            top = aff.topk(min(topk, len(aff)))
            if ties:
                chosen = aff >= top.values[-1]
                out[0, :, y, x] = (aff[chosen].softmax(0)[:, None] * lab[chosen]).sum(0)
            else:
                out[0, :, y, x] = (top.values.softmax(0)[:, None] * lab[top.indices]).sum(0)
    return out


@pytest.mark.parametrize('restricted,circle,ties', [
    ([True, True, True], False, False), ([False, True, True], True, False),
    ([False, True, True], False, True), ([True, False, False], True, False)])
def test_topk_memory_attention_equals_brute_force(restricted, circle, ties):
    g = torch.Generator().manual_seed(0)
    q = torch.randn(1, 8, 11, 13, generator=g, dtype=torch.float64)
    ks = [torch.randn(1, 8, 11, 13, generator=g, dtype=torch.float64) for _ in range(3)]
    vs = [torch.rand(1, 3, 11, 13, generator=g, dtype=torch.float64) for _ in range(3)]
    got = topk_memory_attention(q, ks, vs, 3, 5, 0.5, restricted=restricted, circle=circle,
                                keep_ties=ties, tile_size=4, max_chunk_elements=500)
    want = _dense_topk_memory(q, ks, vs, 3, 5, 0.5, restricted, circle, ties)
    torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-12)


def test_topk_memory_attention_keeps_every_tie_with_the_kth():
    q = torch.ones(1, 1, 1, 2, dtype=torch.float64)
    k = torch.tensor([[[[1.0, 0.0]]]], dtype=torch.float64)  # the two frames tie for the top
    v1 = torch.tensor([[[[1.0, 0.0]]]], dtype=torch.float64)
    v2 = torch.tensor([[[[0.0, 0.0]]]], dtype=torch.float64)
    one = topk_memory_attention(q, [k, k], [v1, v2], 2, 1, restricted=[False, False])
    both = topk_memory_attention(q, [k, k], [v1, v2], 2, 1, restricted=[False, False],
                                 keep_ties=True)
    assert float(both[0, 0, 0, 0]) == 0.5  # both tied keys, equal weights
    assert float(one[0, 0, 0, 0]) == 1.0  # exactly one of them: the earlier slot's


def test_global_attention_is_the_whole_frame_window():
    """radius=None under protocol A: the softmax over every reference cell, as a window that
    covers the frame gives it."""
    from corrflow.models.layers.local_attention import global_attention, restricted_attention
    g = torch.Generator().manual_seed(0)
    q, k = torch.randn(1, 8, 7, 9, generator=g), torch.randn(1, 8, 7, 9, generator=g)
    v = torch.rand(1, 3, 7, 9, generator=g)
    dense = global_attention(q, k, v, temperature=0.5, max_chunk_elements=50)  # chunked
    windowed = restricted_attention(q, k, v, radius=9, temperature=0.5)
    torch.testing.assert_close(dense, windowed, rtol=1e-5, atol=1e-6)
