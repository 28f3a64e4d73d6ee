"""Spa-then-Temp: every loss and the mask against a brute-force dense reference (values and
gradients), the student's outputs, the Lab input, the model's terms."""
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
import torchvision

from corrflow.models.losses import pool_window_affinity, window_softmax
from corrflow.registry import MODELS
from corrflow.errors import ConfigError


def feats(*shape, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(*shape, generator=g, dtype=torch.float32).requires_grad_(True)


def dense_window_softmax(q, k, radius, scale):
    """(B, hw, hw) softmax over the keys within the Chebyshev radius, from the full product."""
    B, C, h, w = q.shape
    logits = torch.einsum('bcq,bck->bqk', q.flatten(2), k.flatten(2)) * scale
    ys, xs = torch.meshgrid(torch.arange(h), torch.arange(w), indexing='ij')
    ys, xs = ys.flatten(), xs.flatten()
    near = ((ys[:, None] - ys[None]).abs() <= radius) & ((xs[:, None] - xs[None]).abs() <= radius)
    return logits.masked_fill(~near, float('-inf')).softmax(-1)


def dense_to_window(dense, h, w, radius):
    """(B, hw, hw) -> the (B, (2R+1)^2, h, w) window layout (0 outside the image)."""
    B = dense.shape[0]
    n = 2 * radius + 1
    out = dense.new_zeros(B, n * n, h, w)
    for y in range(h):
        for x in range(w):
            for i, dy in enumerate(range(-radius, radius + 1)):
                for j, dx in enumerate(range(-radius, radius + 1)):
                    if 0 <= y + dy < h and 0 <= x + dx < w:
                        out[:, i * n + j, y, x] = dense[:, y * w + x, (y + dy) * w + x + dx]
    return out


def test_window_softmax_matches_the_dense_masked_softmax():
    q, k = feats(2, 5, 6, 7), feats(2, 5, 6, 7, seed=1)
    got = window_softmax(q, k, 2, 0.5)
    want = dense_to_window(dense_window_softmax(q, k, 2, 0.5), 6, 7, 2)
    torch.testing.assert_close(got, want)


# ----------------------------------------------------------------------------- reconstruction
def test_reconstruction_loss_values_and_gradients():
    loss = MODELS.build(dict(type='WindowedReconstructionLoss', stride=4, radius=2))
    q, k = feats(2, 6, 5, 6), feats(2, 6, 5, 6, seed=1)
    g = torch.Generator().manual_seed(2)
    ref, tar = (torch.rand(2, 1, 20, 24, generator=g) * 2 - 1 for _ in range(2))

    def dense():
        A = dense_window_softmax(q, k, 2, 1 / math.sqrt(6))
        values = ref[:, :, ::4, ::4].flatten(2).transpose(1, 2)  # (B, hw, 1)
        copy = (A @ values).transpose(1, 2).reshape(2, 1, 5, 6)
        up = F.interpolate(copy, size=(20, 24), mode='bilinear', align_corners=False)
        return F.smooth_l1_loss(20 * up, 20 * tar)

    got = loss(q, k, ref, tar)
    gq, gk = torch.autograd.grad(got, (q, k))
    want = dense()
    wq, wk = torch.autograd.grad(want, (q, k))
    torch.testing.assert_close(got, want)
    torch.testing.assert_close(gq, wq, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(gk, wk, rtol=1e-4, atol=1e-5)


# ----------------------------------------------------------------------------- mask
def brute_scores(q, k, radius):
    B, C, h, w = q.shape
    out = torch.zeros(B, h, w)
    for b in range(B):
        for y in range(h):
            for x in range(w):
                logits = []
                for dy in range(-radius, radius + 1):
                    for dx in range(-radius, radius + 1):
                        inside = 0 <= y + dy < h and 0 <= x + dx < w
                        logits.append(float(q[b, :, y, x] @ k[b, :, y + dy, x + dx])
                                      if inside else 0.0)
                p = torch.tensor(logits, dtype=torch.float64).softmax(0)
                out[b, y, x] = float(-(p + 1e-12).log().sum())
    return out


def test_uncertainty_mask_both_variants_against_loops():
    q, k = feats(2, 4, 5, 6), feats(2, 4, 5, 6, seed=1)
    q, k = q.detach(), k.detach()
    score = brute_scores(q, k, 2)
    faithful = MODELS.build(dict(type='UncertaintyMask', radius=2, keep=0.7))
    torch.testing.assert_close(faithful.scores(q, k), score, rtol=1e-4, atol=1e-4)
    mask = faithful(q, k)
    row = int(6 * 0.7) - 1  # the original sorts each row and thresholds with row `row`
    for b in range(2):
        ranked = torch.sort(score[b], dim=-1, descending=True).values
        for y in range(5):
            for x in range(6):
                assert bool(mask[b, y, x]) == bool(score[b, y, x] > ranked[row, x])
    corrected = MODELS.build(dict(type='UncertaintyMask', radius=2, keep=0.7, variant='corrected'))
    mask = corrected(q, k)
    kept = int(30 * 0.7)
    for b in range(2):
        assert int(mask[b].sum()) == kept
        assert score[b][mask[b]].min() >= score[b][~mask[b]].max()  # the highest scores


# ----------------------------------------------------------------------------- local distillation
def dense_local(fq, fk, cq, ck, mask, fine_r, coarse_r, corrected):
    """The original's way: the dense stride-4 affinity average-pooled over keys, then queries."""
    B, _, H, W = fq.shape
    h, w = cq.shape[-2:]
    A4 = dense_window_softmax(fq, fk, fine_r, 1 / math.sqrt(fq.shape[1])).detach()
    t = F.avg_pool2d(A4.reshape(B, H * W, H, W), 2).flatten(2)  # (B, q4, k8)
    t = F.avg_pool2d(t.transpose(1, 2).reshape(B, h * w, H, W), 2).flatten(2)  # (B, k8, q8)
    target = t.transpose(1, 2) * (4 if corrected else 1)  # (B, q8, k8)
    A8 = dense_window_softmax(cq, ck, coarse_r, 1 / math.sqrt(cq.shape[1]))
    weight = mask.flatten(1).float()[:, :, None].expand_as(A8)
    return (weight * (A8 - target) ** 2).sum() / weight.sum()


@pytest.mark.parametrize('variant', ['faithful', 'corrected'])
def test_local_distillation_values_and_gradients(variant):
    fq, fk = feats(2, 6, 8, 10), feats(2, 6, 8, 10, seed=1)
    cq, ck = feats(2, 5, 4, 5, seed=2), feats(2, 5, 4, 5, seed=3)
    mask = torch.rand(2, 4, 5, generator=torch.Generator().manual_seed(4)) > 0.4
    loss = MODELS.build(dict(type='LocalAffinityDistillLoss', fine_radius=4, coarse_radius=2,
                             variant=variant, loss_weight=1.0))
    got = loss(fq, fk, cq, ck, mask)
    want = dense_local(fq, fk, cq, ck, mask, 4, 2, variant == 'corrected')
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-7)
    g_got = torch.autograd.grad(got, (cq, ck))
    g_want = torch.autograd.grad(want, (cq, ck))
    for a, b in zip(g_got, g_want):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-7)
    assert not torch.autograd.grad(loss(fq, fk, cq, ck, mask), fq, allow_unused=True)[0]
    # the original's target rows sum to 1/4 inside the image, the corrected ones to 1
    target = loss.target(fq, fk)
    assert float(target.sum(1)[:, 1:-1, 1:-1].mean()) == pytest.approx(
        1.0 if variant == 'corrected' else 0.25, abs=0.1)


def test_pooling_keeps_every_fine_pair_inside_the_coarse_window():
    fine = window_softmax(feats(1, 3, 8, 8), feats(1, 3, 8, 8, seed=1), 4, 1.0)
    pooled = pool_window_affinity(fine, 4, 2, 'sum')
    dense = torch.zeros(1, 64, 64)
    for d in range(81):
        dy, dx = divmod(d, 9)
        for y in range(8):
            for x in range(8):
                ky, kx = y + dy - 4, x + dx - 4
                if 0 <= ky < 8 and 0 <= kx < 8:
                    dense[0, y * 8 + x, ky * 8 + kx] = fine[0, d, y, x]
    t = F.avg_pool2d(dense.reshape(1, 64, 8, 8), 2).flatten(2)
    t = F.avg_pool2d(t.transpose(1, 2).reshape(1, 16, 8, 8), 2).flatten(2).transpose(1, 2) * 4
    torch.testing.assert_close(pooled, dense_to_window(t, 4, 4, 2).detach())
    with pytest.raises(ConfigError, match='twice'):
        pool_window_affinity(fine, 4, 3)


# ----------------------------------------------------------------------------- global distillation
@pytest.mark.parametrize('variant', ['faithful', 'corrected'])
def test_global_distillation_values_and_gradients(variant):
    sq, sk = feats(2, 6, 2, 3), feats(2, 6, 2, 3, seed=1)
    tq, tk = feats(2, 4, 2, 3, seed=2).detach(), feats(2, 4, 2, 3, seed=3).detach()
    loss = MODELS.build(dict(type='GlobalAffinityDistillLoss', variant=variant, loss_weight=1.0))
    got = loss(sq, sk, tq, tk)
    total = 0.0
    for b in range(2):
        for i in range(6):
            s = torch.stack([sq[b].flatten(1)[:, i] @ sk[b].flatten(1)[:, j] / math.sqrt(6)
                             for j in range(6)]).softmax(0)
            a, c = tq[b].flatten(1), tk[b].flatten(1)
            if variant == 'corrected':
                a, c = F.normalize(a, dim=0), F.normalize(c, dim=0)
            t = torch.stack([a[:, i] @ c[:, j] / 0.07 for j in range(6)]).softmax(0)
            total = total + ((s - t) ** 2).sum()
    want = total / (2 * 6 * 6)
    torch.testing.assert_close(got, want)
    for a, b in zip(torch.autograd.grad(got, (sq, sk)), torch.autograd.grad(want, (sq, sk))):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-7)
    with pytest.raises(ConfigError, match='teacher gives a \\(4, 4\\) grid'):
        loss(sq, sk, torch.zeros(2, 4, 4, 4), torch.zeros(2, 4, 4, 4))


# ----------------------------------------------------------------------------- model
def small_model(tmp_path, **kwargs):
    net = torchvision.models.resnet18(weights=None)
    torch.save(net.state_dict(), tmp_path / 'teacher.pth')
    cfg = dict(type='SpaThenTemp',
               backbone=dict(type='TorchvisionResNet', depth=18, strides=(1, 2, 2, 4),
                             out_stage=4, stem_pool='none', out_indices=(2, 3, 4)),
               teacher=dict(type='FrozenTeacher',
                            backbone=dict(type='TorchvisionResNet', depth=18,
                                          strides=(1, 2, 2, 2), out_stage=4),
                            checkpoint=str(tmp_path / 'teacher.pth')),
               local_loss=dict(type='LocalAffinityDistillLoss'),
               uncertainty=dict(type='UncertaintyMask'),
               global_loss=dict(type='GlobalAffinityDistillLoss'))
    cfg.update(kwargs)
    model = MODELS.build(cfg)
    model.init_weights()
    return model


def test_the_model_logs_every_term_and_trains_only_the_student(tmp_path):
    torch.manual_seed(0)
    model = small_model(tmp_path)
    out = model.loss(torch.rand(2, 2, 3, 64, 64))
    assert set(out) == {'loss_rec_s4', 'loss_rec_s8', 'loss_local', 'loss_global',
                        'mask_fraction'}
    sum(v for k, v in out.items() if k.startswith('loss')).backward()
    assert model.backbone.layer4[0].conv1.weight.grad.abs().sum() > 0  # the global term
    assert all(p.grad is None for p in model.teacher.parameters())
    model.train()
    assert not model.teacher.training and model.backbone.training
    # the teacher-free ("temporal only") recipe has no global term
    free = small_model(tmp_path, teacher=None, global_loss=None)
    assert 'loss_global' not in free.loss(torch.rand(1, 2, 3, 64, 64))


def test_the_student_sees_lab_with_one_chroma_channel_dropped(tmp_path):
    from corrflow.models.algorithms.spa_then_temp import normalised_lab
    model = small_model(tmp_path)
    rgb = torch.rand(1, 2, 3, 16, 16)
    lab = normalised_lab(rgb)
    expected = cv2_lab(rgb[0, 0])
    np.testing.assert_allclose(lab[0, 0, 0].numpy(), (expected[..., 0] - 50) / 50, atol=1e-4)
    np.testing.assert_allclose(lab[0, 0, 1].numpy(), expected[..., 1] / 127, atol=1e-4)
    torch.manual_seed(1)
    seen = set()
    for _ in range(20):
        x, channel = model.dropped_input(lab)
        seen.add(channel)
        assert not x[..., channel, :, :].any()
        torch.testing.assert_close(x[..., 0, :, :], 1.5 * lab[..., 0, :, :])
    assert seen == {1, 2}


def cv2_lab(rgb):
    import cv2
    return cv2.cvtColor(rgb.permute(1, 2, 0).numpy().astype(np.float32), cv2.COLOR_RGB2Lab)


def test_a_teacher_of_another_grid_is_one_clear_error(tmp_path):
    model = small_model(tmp_path, teacher=dict(
        type='FrozenTeacher', backbone=dict(type='TorchvisionResNet', depth=18,
                                            strides=(1, 2, 2, 1), out_stage=4),
        checkpoint=str(tmp_path / 'teacher.pth')))
    with pytest.raises(ConfigError, match='the teacher gives a \\(4, 4\\) grid, the student'):
        model.loss(torch.rand(1, 2, 3, 64, 64))
