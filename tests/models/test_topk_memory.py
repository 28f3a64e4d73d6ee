"""Protocol B's exact top-k selection (corrflow.models.layers.topk_memory).

The selection is checked against a brute force that lists every candidate of every query
and sorts them (affinity descending, then candidate id ascending: the documented ranking);
the attention against the implementation it replaced (benchmarks/baselines.py) and, on a
real DAVIS sequence with the model-zoo weights, by the masks it gives.
"""
from pathlib import Path

import numpy as np
import pytest
import torch

from benchmarks.baselines import tiled_topk_memory_attention
from corrflow.models.layers.topk_memory import (KeyMemory, topk_candidates,
                                                topk_memory_attention)
from corrflow.models.trackers.protocols import l2_normalise

REPO_ROOT = Path(__file__).resolve().parents[2]


def brute_force(q, ks, radius, k, temperature, restricted, circle):
    """Every candidate of every query, sorted: ((HW, k) affinities, (HW, k) ids).

    Candidate id = slot * H * W + x * H + y; ties go to the smaller id.
    """
    _, C, H, W = q.shape
    qq = (q / temperature)[0].reshape(C, -1).t()  # (HW, C), raster order
    ys, xs = (g.reshape(-1) for g in torch.meshgrid(torch.arange(H), torch.arange(W),
                                                    indexing='ij'))
    kx, ky = (g.reshape(-1) for g in torch.meshgrid(torch.arange(W), torch.arange(H),
                                                    indexing='ij'))  # column-major keys
    dy, dx = ky[None] - ys[:, None], kx[None] - xs[:, None]
    window = (dy.abs() <= radius) & (dx.abs() <= radius)
    if circle:
        window &= dy * dy + dx * dx < radius * radius
    affs = []
    for key, windowed in zip(ks, restricted):
        aff = qq @ key[0].transpose(1, 2).reshape(C, -1)
        affs.append(aff.masked_fill(~window, float('-inf')) if windowed else aff)
    aff = torch.cat(affs, 1)
    order = aff.argsort(dim=1, descending=True, stable=True)[:, :k]
    return aff.gather(1, order), order


CASES = [  # H, W, T, R, k, restricted, circle, tile
    (13, 29, 3, 4, 5, None, False, (4, 16)),
    (13, 29, 3, 4, 5, None, True, (4, 16)),
    (13, 29, 3, 2, 10, [False, True, True], False, (4, 16)),
    (13, 29, 3, 4, 7, [False, True, True], True, (3, 5)),
    (9, 7, 4, 1, 12, None, False, (8, 8)),  # fewer valid keys than k at the corners
    (5, 6, 2, 0, 3, [True, False], False, (2, 3)),
    (20, 11, 2, 6, 4, [False, False], False, (4, 16)),
]


@pytest.mark.parametrize('H,W,T,R,k,restricted,circle,tile', CASES)
@pytest.mark.parametrize('ties', [False, True], ids=['continuous', 'tied'])
def test_selection_equals_a_sort_of_every_candidate(H, W, T, R, k, restricted, circle, tile,
                                                    ties):
    g = torch.Generator().manual_seed(H * W + T)
    C = 4
    q = torch.randn(1, C, H, W, generator=g)
    ks = [torch.randn(1, C, H, W, generator=g) for _ in range(T)]
    if ties:  # halves in 4 channels: every product exact, many equal affinities
        q, ks = (q * 2).round() / 2, [(key * 2).round() / 2 for key in ks]
    restricted = restricted or [True] * T
    with torch.no_grad():
        aff, ids = topk_candidates(q, ks, R, k, temperature=0.5, restricted=restricted,
                                   circle=circle, tile_size=tile)
    want_aff, want_ids = brute_force(q, ks, R, k, 0.5, restricted, circle)
    valid = torch.isfinite(want_aff)  # positions beyond the valid keys are -inf, any id
    assert torch.equal(torch.isfinite(aff[0]), valid)
    if ties:
        assert torch.equal(aff[0], want_aff)
    else:
        torch.testing.assert_close(aff[0], want_aff, rtol=1e-6, atol=1e-6)
    assert torch.equal(ids[0][valid], want_ids[valid])


@pytest.mark.parametrize('tile', [(4, 16), (1, 1), (3, 5)])
def test_ties_kept_equal_a_threshold_at_the_kth_affinity(tile):
    g = torch.Generator().manual_seed(1)
    C, H, W, T, R, k = 3, 10, 12, 3, 3, 6
    q = (torch.randn(1, C, H, W, generator=g) * 2).round() / 2
    ks = [(torch.randn(1, C, H, W, generator=g) * 2).round() / 2 for _ in range(T)]
    vs = [torch.rand(1, 2, H, W, generator=g, dtype=torch.float64).float() for _ in range(T)]
    restricted = [False, True, True]
    with torch.no_grad():
        got = topk_memory_attention(q, ks, vs, R, k, restricted=restricted, keep_ties=True,
                                    tile_size=tile)
    full, order = brute_force(q, ks, R, H * W * T, 1.0, restricted, False)  # all, sorted
    labels = torch.cat([v[0].transpose(1, 2).reshape(2, -1).t() for v in vs])  # (T*HW, 2)
    kth = full[:, k - 1:k]
    weights = full.masked_fill(full < kth, float('-inf')).softmax(1)
    want = (weights[..., None] * labels[order]).sum(1).t().reshape(1, 2, H, W)
    assert (full == kth).sum(1).max() > 1  # the case has ties at the k-th affinity
    torch.testing.assert_close(got, want, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize('restricted,circle,ties', [
    (None, False, False), ('crw', True, False), (None, True, False), (None, False, True)])
def test_attention_equals_the_previous_implementation_bit_for_bit(restricted, circle, ties):
    """On continuous unit-length features (no exact ties) the winners, their order and every
    floating-point operation on them are those of the tiled top-k it replaced."""
    g = torch.Generator().manual_seed(3)
    C, H, W, T, R = 16, 30, 53, 8, 6
    q = l2_normalise(torch.randn(1, C, H, W, generator=g))
    ks = [l2_normalise(torch.randn(1, C, H, W, generator=g)) for _ in range(T)]
    vs = [torch.rand(1, 3, H, W, generator=g) for _ in range(T)]
    restricted = [False] + [True] * (T - 1) if restricted == 'crw' else None
    with torch.no_grad():
        new = topk_memory_attention(q, ks, vs, R, 10, 0.07, restricted=restricted,
                                    circle=circle, keep_ties=ties)
        old = tiled_topk_memory_attention(q, ks, vs, R, 10, 0.07, restricted=restricted,
                                          circle=circle, keep_ties=ties)
    if ties:  # the tie rule sums all candidates: the order of the sum differs
        torch.testing.assert_close(new, old, rtol=0, atol=1e-6)
    else:
        assert torch.equal(new, old)


def test_the_memory_reuses_the_slots_of_dropped_maps():
    memory = KeyMemory(radius=2, tile=(4, 16))
    g = torch.Generator().manual_seed(0)
    recent = []
    for _ in range(40):  # a long video through a memory of 5 maps
        recent.append(memory.add(torch.randn(1, 4, 9, 11, generator=g)))
        recent = recent[-5:]
        memory.bank(torch.float32, recent)
    bank, slots = memory.bank(torch.float32, recent)
    assert bank.shape[0] == 8  # the first allocation: never grown
    assert len(set(slots)) == 5


def test_bad_inputs_get_one_clear_error():
    q = torch.randn(1, 4, 6, 6)
    v = torch.rand(1, 2, 6, 6)
    with torch.no_grad():
        with pytest.raises(ValueError, match='same shape'):
            topk_memory_attention(q, [torch.randn(1, 4, 6, 7)], [v], 1, 2)
        with pytest.raises(ValueError, match='one value map per key map'):
            topk_memory_attention(q, [q, q], [v], 1, 2)
        with pytest.raises(ValueError, match='topk must be >= 1'):
            topk_memory_attention(q, [q], [v], 1, 0)
        with pytest.raises(ValueError, match='laid out for radius 2'):
            topk_memory_attention(q, [KeyMemory(2).add(q)], [v], 1, 2)
        with pytest.raises(ValueError, match='one KeyMemory'):
            topk_memory_attention(q, [KeyMemory(1).add(q), KeyMemory(1).add(q)], [v, v], 1, 2)
    with pytest.raises(ValueError, match='tile two positive sides'):
        KeyMemory(1, (0, 4))


@pytest.mark.slow
def test_masks_of_a_davis_sequence_are_unchanged(shared_data, monkeypatch):
    """car-shadow (first 12 frames), model-zoo weights, CRW's rules at 240 (B-lite): every
    mask pixel equal to the implementation it replaced."""
    import cv2

    import corrflow.models.trackers.protocols as protocols
    from corrflow.apis import init_model, propagate

    seq = shared_data / 'davis2016-val-subset'
    frames = sorted((seq / 'JPEGImages' / '480p' / 'car-shadow').glob('*.jpg'))[:12]
    video = np.stack([cv2.cvtColor(cv2.imread(str(f)), cv2.COLOR_BGR2RGB) for f in frames])
    first = cv2.imread(str(seq / 'Annotations' / '480p' / 'car-shadow' / '00000.png'),
                       cv2.IMREAD_GRAYSCALE)
    first = (first > 0).astype(np.uint8)
    torch.set_num_threads(min(2, torch.get_num_threads()))
    model = init_model(REPO_ROOT / 'configs/test/corrflow_davis_crw_lite.py',
                       checkpoint=REPO_ROOT / 'checkpoints' / 'corrflow_r18_davis16.pth')
    new = propagate(model, video, first)['masks']

    def previous(query, keys, values, radius, topk, **kwargs):
        kwargs.pop('tile_size')
        return tiled_topk_memory_attention(query, [k.feat for k in keys], values, radius,
                                           topk, **kwargs)

    monkeypatch.setattr(protocols, 'topk_memory_attention', previous)
    old = propagate(model, video, first)['masks']
    assert new.shape == (12, *first.shape)
    assert 0 < new[-1].sum() < new[-1].size  # a real mask, not an empty or full one
    np.testing.assert_array_equal(new, old)
