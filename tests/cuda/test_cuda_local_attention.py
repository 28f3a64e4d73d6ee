"""Restricted and top-k attention on a CUDA GPU, against the CPU fp32 result of the same inputs.

fp32 on the GPU must give the CPU's numbers (up to summation order); under CUDA autocast the
affinity and aggregation products run in bf16/fp16 (results rounded to that dtype, then
widened), the softmax, outputs and gradients stay fp32.

Errors are relative Frobenius norms ``|a - b| / |b|``. The bounds were set from the same code
under CPU autocast of the same dtype, whose products round exactly as cuBLAS's do (fp32
accumulation, result rounded to the low dtype); the figures measured there are in the
comments. bf16 keeps 8 bits of mantissa, fp16 11: fp16 errors are about 8x smaller.
"""
import pytest
import torch
import torch.nn.functional as F

from corrflow.models.layers.local_attention import restricted_attention, wide_gemm_output
from corrflow.models.layers.topk_memory import topk_restricted_attention

pytestmark = [
    pytest.mark.cuda,
    pytest.mark.skipif(not torch.cuda.is_available(),
                       reason='needs a CUDA GPU (torch.cuda.is_available() is False)'),
]

CUDA = torch.device('cuda')
#: fp16 overflows above this value: an fp16 product whose result exceeds it becomes inf.
FP16_MAX = torch.finfo(torch.float16).max  # 65504

#: restricted attention, features of std 0.3 (as tests/models/test_local_attention.py):
#: bf16 measured 1.8e-3 forward / 5.4e-3 gradients (the CPU test's bounds), fp16 2.3e-4 / 6.8e-4.
SOFTMAX_BOUNDS = {torch.bfloat16: (1e-2, 3e-2), torch.float16: (1.5e-3, 4e-3)}
#: top-k attention (inference only): near-tied keys may swap in and out of the top k, which
#: dominates. Protocol B forward (L2-normalised, temperature 0.07, top-10): bf16 measured
#: <= 6.8e-3 (the CPU test's bound 5e-2), fp16 <= 3.1e-3; at std 1: bf16 <= 6.5e-3,
#: fp16 <= 8.5e-4.
TOPK_BOUNDS = {torch.bfloat16: 5e-2, torch.float16: 1e-2}

LOW_DTYPES = [
    pytest.param(torch.bfloat16, id='bf16'),
    pytest.param(torch.float16, id='fp16'),
]


def _skip_unsupported(dtype: torch.dtype) -> None:
    # the check resolve_precision makes for --amp bf16
    if dtype == torch.bfloat16 and not torch.cuda.is_bf16_supported():
        pytest.skip(f'GPU {torch.cuda.get_device_name()} does not support bf16')


def _rel(a, b) -> float:
    a, b = a.detach().double().cpu(), b.detach().double().cpu()
    return float((a - b).norm() / b.norm())


def _case(seed, B, C, L, H, W, T, scale=1.0):
    """CPU leaf tensors: query (B, C, H, W), T keys, T values (label distributions)."""
    g = torch.Generator().manual_seed(seed)
    q = (scale * torch.randn(B, C, H, W, generator=g)).requires_grad_()
    ks = [(scale * torch.randn(B, C, H, W, generator=g)).requires_grad_() for _ in range(T)]
    vs = [torch.softmax(torch.randn(B, L, H, W, generator=g), 1).requires_grad_()
          for _ in range(T)]
    return q, ks, vs


def _to_cuda(tensors):
    return [t.detach().to(CUDA).requires_grad_(t.requires_grad) for t in tensors]


def _split(tensors, T):
    """[q, *ks, *vs] -> (q, ks, vs)."""
    return tensors[0], tensors[1:1 + T], tensors[1 + T:]


def _run(fn, q, ks, vs, grad, dtype=None):
    """Output of ``fn`` and its gradients w.r.t. (q, *ks, *vs); CUDA autocast if dtype is set."""
    with torch.autocast('cuda', dtype=dtype or torch.float32, enabled=dtype is not None):
        out = fn(q, ks, vs)
    grads = torch.autograd.grad((out * grad.to(out.device)).sum(), [q, *ks, *vs])
    return out, grads


def _check_fp32_finite(out, grads):
    assert out.dtype == torch.float32 and all(g.dtype == torch.float32 for g in grads)
    assert torch.isfinite(out).all() and all(torch.isfinite(g).all() for g in grads)


# --------------------------------------------------------------------------- fp32 parity

@pytest.mark.parametrize('seed', range(4))
def test_restricted_attention_fp32_on_cuda_matches_cpu(seed):
    g = torch.Generator().manual_seed(300 + seed)
    H, W = (int(x) for x in torch.randint(1, 15, (2,), generator=g))
    R = int(torch.randint(0, 5, (), generator=g))
    S = int(torch.randint(1, 9, (), generator=g))
    q, ks, vs = _case(seed, 2, 16, 4, H, W, 1 + seed % 2)
    grad = torch.randn(2, 4, H, W, generator=g)

    def fn(q, ks, vs):  # a small chunk budget: several chunks of tiles
        return restricted_attention(q, ks, vs, R, tile_size=S, max_chunk_elements=97 + seed)

    ref, ref_grads = _run(fn, q, ks, vs, grad)
    out, grads = _run(fn, *_split(_to_cuda([q, *ks, *vs]), len(ks)), grad)
    assert out.is_cuda
    _check_fp32_finite(out, grads)
    torch.testing.assert_close(out.cpu(), ref, rtol=1e-5, atol=1e-6)
    for a, b in zip(grads, ref_grads):
        torch.testing.assert_close(a.cpu(), b, rtol=1e-4, atol=1e-5)
    with torch.no_grad():  # the inference path (buffers reused across chunks)
        no_grad = fn(*_split(_to_cuda([q, *ks, *vs]), len(ks)))
    torch.testing.assert_close(no_grad.cpu(), ref.detach(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize('seed', range(4))
def test_topk_attention_fp32_on_cuda_matches_cpu(seed):
    # For these cases the k-th and (k+1)-th affinities of every query are >= 2.4e-3 apart
    # (checked in float64), far beyond fp32 rounding: CPU and GPU keep the same keys.
    q, ks, vs = _case(seed, 2, 16, 4, 11 + seed, 9, 3)

    def fn(q, ks, vs):
        return topk_restricted_attention(q, ks, vs, 2, topk=5, temperature=0.07, tile_size=4,
                                         max_chunk_elements=500)

    with torch.no_grad():
        ref = fn(q, ks, vs)
        out = fn(*_split(_to_cuda([q, *ks, *vs]), len(ks)))
    assert out.is_cuda and out.dtype == torch.float32 and torch.isfinite(out).all()
    torch.testing.assert_close(out.cpu(), ref, rtol=1e-5, atol=1e-6)


# --------------------------------------------------------------------------- autocast

@pytest.mark.parametrize('dtype', LOW_DTYPES)
@pytest.mark.parametrize('seed', range(2))
def test_restricted_attention_under_cuda_autocast_matches_cpu_fp32(dtype, seed):
    _skip_unsupported(dtype)
    q, ks, vs = _case(seed, 2, 32, 8, 20, 18, 2, scale=0.3)
    grad = torch.randn(2, 8, 20, 18, generator=torch.Generator().manual_seed(seed))

    def fn(q, ks, vs):
        return restricted_attention(q, ks, vs, 3, tile_size=4, max_chunk_elements=5000)

    ref, ref_grads = _run(fn, q, ks, vs, grad)
    out, grads = _run(fn, *_split(_to_cuda([q, *ks, *vs]), 2), grad, dtype)
    _check_fp32_finite(out, grads)  # the products alone are in the low dtype
    forward_bound, gradient_bound = SOFTMAX_BOUNDS[dtype]
    assert 0 < _rel(out, ref) < forward_bound  # > 0: the products did run in the low dtype
    for a, b in zip(grads, ref_grads):
        assert _rel(a, b) < gradient_bound


@pytest.mark.parametrize('dtype', LOW_DTYPES)
def test_features_from_autocast_convolutions_on_cuda(dtype):
    # under autocast a convolution hands the attention low-precision features; labels are fp32
    _skip_unsupported(dtype)
    q, ks, vs = _case(5, 2, 32, 8, 20, 18, 2, scale=0.3)
    with torch.no_grad():
        ref = restricted_attention(q, ks, vs, 3)
        q_c, ks_c, vs_c = _split(_to_cuda([q, *ks, *vs]), 2)
        with torch.autocast('cuda', dtype=dtype):
            out = restricted_attention(q_c.to(dtype), [k.to(dtype) for k in ks_c], vs_c, 3)
    assert out.dtype == torch.float32 and torch.isfinite(out).all()
    assert _rel(out, ref) < SOFTMAX_BOUNDS[dtype][0]


def _check_topk_under_autocast(q, ks, vs, dtype, **options):
    """Top-k attention under CUDA autocast against CPU fp32 on the same inputs."""
    q_c, ks_c, vs_c = _split(_to_cuda([q, *ks, *vs]), len(ks))
    with torch.no_grad():
        ref = topk_restricted_attention(q, ks, vs, 3, topk=10, **options)
        with torch.autocast('cuda', dtype=dtype):
            out = topk_restricted_attention(q_c, ks_c, vs_c, 3, topk=10, **options)
    assert out.dtype == torch.float32 and torch.isfinite(out).all()
    assert 0 < _rel(out, ref) < TOPK_BOUNDS[dtype]


@pytest.mark.parametrize('dtype', LOW_DTYPES)
def test_topk_attention_protocol_b_under_cuda_autocast(dtype):
    # L2-normalised features, temperature 0.07, top-10 (protocol B), forward as in propagation
    _skip_unsupported(dtype)
    q, ks, vs = _case(7, 1, 16, 4, 20, 18, 2)
    q = F.normalize(q.detach(), dim=1)
    ks = [F.normalize(k.detach(), dim=1) for k in ks]
    _check_topk_under_autocast(q, ks, [v.detach() for v in vs], dtype, temperature=0.07)


@pytest.mark.parametrize('dtype', LOW_DTYPES)
def test_topk_attention_at_unit_variance_under_cuda_autocast(dtype):
    _skip_unsupported(dtype)
    q, ks, vs = _case(1, 2, 32, 8, 20, 18, 2, scale=1.0)
    _check_topk_under_autocast(q, ks, vs, dtype, tile_size=4)


# --------------------------------------------------------------------------- large features
# Protocol A and training use raw dot products (no normalisation, no temperature). The
# model-zoo weights give max |f|^2 of about 775 on DAVIS 480p frames (test_cuda_propagation
# checks it stays far below FP16_MAX): these cases are 50x and 116x beyond that.

def _large_case(norm: float, seed: int = 0):
    """Features of norm ``norm`` everywhere, keys close to the queries: the largest affinity of
    each query is about norm**2 (its own position)."""
    g = torch.Generator().manual_seed(seed)
    q = torch.randn(1, 64, 12, 12, generator=g)
    q = norm * q / q.norm(dim=1, keepdim=True)
    k = q + 0.01 * norm * torch.randn(q.shape, generator=g) / 8
    v = torch.softmax(torch.randn(1, 4, 12, 12, generator=g), 1)
    return [t.to(CUDA).requires_grad_() for t in (q, k, v)]


@pytest.mark.parametrize('dtype', LOW_DTYPES)
def test_large_features_within_fp16_range_stay_finite(dtype):
    # affinities up to ~200^2 = 40000 < 65504: representable in fp16 (ulp 32 there)
    _skip_unsupported(dtype)
    q, k, v = _large_case(200.0)
    grad = torch.randn(1, 4, 12, 12, device=CUDA)
    out, grads = _run(lambda q, ks, vs: restricted_attention(q, ks, vs, 3), q, [k], [v], grad,
                      dtype)
    _check_fp32_finite(out, grads)
    # the weights of every query sum to one: all-ones values come back as ones
    with torch.no_grad(), torch.autocast('cuda', dtype=dtype):
        ones = restricted_attention(q, k, torch.ones_like(v), 3)
        top = topk_restricted_attention(q, k, torch.ones_like(v), 3, topk=10)
    torch.testing.assert_close(ones, torch.ones_like(ones), rtol=0, atol=1e-3)
    torch.testing.assert_close(top, torch.ones_like(top), rtol=0, atol=1e-3)


@pytest.mark.parametrize('dtype', [
    pytest.param(torch.bfloat16, id='bf16'),
    pytest.param(torch.float16, id='fp16'),
])
def test_affinities_beyond_fp16_range(dtype):
    # affinities up to ~300^2 = 90000 > 65504: fine in bf16 (the range of fp32); in fp16 only
    # because the affinity GEMM hands over its fp32 accumulator (out_dtype) instead of
    # rounding to fp16 first (local_attention._product)
    _skip_unsupported(dtype)
    if dtype == torch.float16 and not wide_gemm_output('cuda'):
        pytest.xfail('torch.bmm(out_dtype=torch.float32) is not available on this GPU/torch: '
                     'fp16 affinities above 65504 overflow')
    q, k, v = _large_case(300.0)
    grad = torch.randn(1, 4, 12, 12, device=CUDA)
    out, grads = _run(lambda q, ks, vs: restricted_attention(q, ks, vs, 3), q, [k], [v], grad,
                      dtype)
    _check_fp32_finite(out, grads)
    with torch.no_grad(), torch.autocast('cuda', dtype=dtype):
        top = topk_restricted_attention(q, k, v, 3, topk=10)
    assert top.dtype == torch.float32 and torch.isfinite(top).all()
