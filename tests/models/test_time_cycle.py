"""TimeCycle components: affine geometry, losses, regressor, the test protocol, the model."""
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from corrflow.models.layers.affine import (TIMECYCLE_TRANSLATION_FACTOR, affine_crop,
                                           grid_loss, inlier_mass, params_to_theta,
                                           patch_affinity)
from corrflow.registry import MODELS, TASK_UTILS
from corrflow.models.trackers.protocols import run_protocol


def test_params_to_theta():
    theta = params_to_theta(torch.tensor([[0.2, -0.3, math.pi / 2]]), scale=0.5)
    torch.testing.assert_close(theta, torch.tensor([[[0.0, -0.5, 0.2], [0.5, 0.0, -0.3]]]))


def test_affine_crop_known_translation_and_rotation():
    img = torch.arange(5 * 7, dtype=torch.float64).view(1, 1, 5, 7)
    shift = torch.tensor([[[1.0, 0, 2 / 6], [0, 1.0, 0]]], dtype=torch.float64)  # one column right
    out = affine_crop(img, shift, (5, 7))
    torch.testing.assert_close(out[..., :6], img[..., 1:])
    torch.testing.assert_close(out[..., 6], torch.zeros(1, 1, 5, dtype=torch.float64))  # outside
    down = torch.tensor([[[1.0, 0, 0], [0, 1.0, -2 / 4]]], dtype=torch.float64)  # one row up
    torch.testing.assert_close(affine_crop(img, down, (5, 7))[..., 1:, :], img[..., :4, :])
    square = torch.arange(36, dtype=torch.float64).view(1, 1, 6, 6)
    rot = params_to_theta(torch.tensor([[0.0, 0.0, math.pi / 2]], dtype=torch.float64), 1.0)
    want = torch.from_numpy(np.rot90(square[0, 0].numpy()).copy())
    torch.testing.assert_close(affine_crop(square, rot, 6)[0, 0], want)
    # the original's feature crops inflate the translation by 227/210
    half = torch.tensor([[[1.0, 0, 0.5], [0, 1.0, 0]]], dtype=torch.float64)
    torch.testing.assert_close(
        affine_crop(img, half, (5, 7), TIMECYCLE_TRANSLATION_FACTOR),
        affine_crop(img, half * torch.tensor([[[1, 1, TIMECYCLE_TRANSLATION_FACTOR]] * 2]),
                    (5, 7)))


def test_grid_loss_hand_computed():
    eye = torch.tensor([[[1.0, 0, 0], [0, 1.0, 0]]], dtype=torch.float64)
    moved = eye.clone()
    moved[0, 0, 2] = 0.1  # every point 0.1 to the right
    assert float(grid_loss(moved, eye)) == pytest.approx(0.01, abs=1e-12)
    # 90 degrees about the centre: |Rp - p|^2 = 2 |p|^2; the mean of x^2 over
    # linspace(-1, 1, G) is (G + 1) / (3 (G - 1)), so the loss is 4 (G + 1) / (3 (G - 1))
    rot = params_to_theta(torch.tensor([[0.0, 0.0, math.pi / 2]], dtype=torch.float64), 1.0)
    assert float(grid_loss(rot, eye, grid_size=20)) == pytest.approx(4 * 21 / (3 * 19),
                                                                     abs=1e-12)


def test_inlier_mass_hand_computed():
    # a 3x3 patch at scale 1/2 in a 5x5 map lands exactly on cells 1..3 of each axis
    h = w = 5
    n = 3
    theta = torch.tensor([[[0.5, 0, 0], [0, 0.5, 0]]], dtype=torch.float64)
    affinity = torch.zeros(1, h * w, n, n, dtype=torch.float64)
    for i in range(n):  # row
        for j in range(n):  # column
            x, y = j + 1, i + 1
            affinity[0, x * h + y, i, j] = 0.5  # positions are enumerated column by column
    want = 0.5 * 9 / (9 + 1e-5 * h * w * n * n)
    assert float(inlier_mass(affinity, theta, (h, w))) == pytest.approx(want, abs=1e-12)
    # the same against the original construction: one-hot maps warped by theta
    g = torch.Generator().manual_seed(0)
    affinity = torch.rand(2, h * w, n, n, generator=g, dtype=torch.float64)
    theta = torch.tensor([[[0.4, -0.1, 0.2], [0.1, 0.4, -0.3]],
                          [[0.3, 0.2, -0.5], [-0.2, 0.3, 0.6]]], dtype=torch.float64)
    onehot = torch.zeros(1, h * w, h, w, dtype=torch.float64)
    for x in range(w):
        for y in range(h):
            onehot[0, x * h + y, y, x] = 1
    mask = affine_crop(onehot.expand(2, -1, -1, -1), theta, n)
    want = (mask * affinity).sum((1, 2, 3)) / (mask + 1e-5).sum((1, 2, 3))
    torch.testing.assert_close(inlier_mass(affinity, theta, (h, w)), want)


def test_patch_affinity_orders_positions_column_by_column():
    frame = F.normalize(torch.randn(1, 8, 3, 4), dim=1)
    query = frame[:, :, 1:2, 2:3].expand(1, 8, 1, 1).contiguous()  # the cell at row 1, col 2
    aff = patch_affinity(query, frame, scale=100.0)
    assert aff.shape == (1, 12, 1, 1)
    assert int(aff[0, :, 0, 0].argmax()) == 2 * 3 + 1  # x * h + y
    torch.testing.assert_close(aff.sum(1), torch.ones(1, 1, 1))


def test_transform_regressor_starts_centred_and_checks_its_input():
    tracker = MODELS.build(dict(type='TransformRegressor', num_positions=900, patch_size=10))
    with torch.no_grad():
        tracker.fc.weight.zero_()
    theta = tracker(torch.rand(2, 900, 10, 10))
    torch.testing.assert_close(theta, torch.tensor([[[1 / 3, 0, 0], [0, 1 / 3, 0]]] * 2))
    with pytest.raises(ValueError, match='takes \\(900, 10, 10\\) affinities'):
        tracker(torch.rand(1, 400, 10, 10))


# ----------------------------------------------------------------------------- test protocol
def reference_timecycle(feats, seed, topk, scale, num_context=7):
    """TimeCycle's protocol written out on the padded sequence, one loop per query."""
    padded = [(feats[0], seed)] * (num_context + 1)
    labels = {}
    sequence = [feats[0]] * (num_context + 1) + list(feats)
    out = []
    for n in range(num_context + 1, len(sequence)):
        refs = [padded[0]] + [(sequence[m], padded[m][1] if m <= num_context else labels[m])
                              for m in range(n - num_context, n)]
        q = sequence[n]
        C, h, w = q.shape[1:]
        pred = torch.zeros(seed.shape[1], h * w, dtype=torch.float64)
        for p in range(h * w):
            for f, lab in refs:
                prob = (q.reshape(C, -1)[:, p] @ f.reshape(C, -1) * scale).softmax(0)
                top = prob.topk(topk)
                pred[:, p] += (lab.reshape(lab.shape[1], -1)[:, top.indices] * top.values).sum(1)
        pred = (pred / len(refs)).reshape(1, -1, h, w)
        lo = pred.amin((2, 3), keepdim=True)
        hi = pred.amax((2, 3), keepdim=True)
        labels[n] = (pred - lo) / (hi - lo)
        if n > num_context + 1:  # padded index num_context + 1 re-predicts frame 0
            out.append(pred)
    return out


def test_timecycle_protocol_matches_a_brute_force_reference():
    g = torch.Generator().manual_seed(0)
    feats = [F.normalize(torch.randn(1, 6, 4, 5, generator=g, dtype=torch.float64), dim=1)
             for _ in range(5)]
    seed = torch.rand(1, 3, 4, 5, generator=g, dtype=torch.float64)
    protocol = TASK_UTILS.build(dict(type='TimeCyclePropagation', topk=3, scale=4.0,
                                     max_chunk_elements=7))  # chunks of one query row
    got = [prob for _, prob in run_protocol(protocol, feats, {0: seed})]
    want = reference_timecycle(feats, seed, topk=3, scale=4.0)
    assert len(got) == len(want) == 4
    for a, b in zip(got, want):
        torch.testing.assert_close(a, b)
    info = protocol.describe()
    assert info['topk'] == 3 and 'padded' in info['context'] and info['radius'] is None


def test_timecycle_protocol_pastes_late_objects_and_keeps_them_in_context():
    g = torch.Generator().manual_seed(1)
    feats = [F.normalize(torch.randn(1, 6, 4, 5, generator=g), dim=1) for _ in range(4)]
    seeds = {0: torch.zeros(1, 3, 4, 5), 2: torch.zeros(1, 3, 4, 5)}
    seeds[0][:, 0] = 1
    seeds[0][:, 1, :2] = 1
    seeds[0][:, 0, :2] = 0
    seeds[2][:, 2, 3:] = 1
    protocol = TASK_UTILS.build(dict(type='TimeCyclePropagation', num_context=1, topk=2))
    steps = list(run_protocol(protocol, feats, seeds))
    assert [t for t, _ in steps] == [1, 2, 3]
    assert not steps[0][1][:, 2].any() and not steps[1][1][:, 2].any()  # before its frame
    assert steps[2][1][:, 2].max() > 0  # copied on from the pasted frame


def test_timecycle_model_losses_and_gradients():
    torch.manual_seed(0)
    model = MODELS.build(dict(
        type='TimeCycle',
        backbone=dict(type='TorchvisionResNet', depth=18, strides=(1, 2, 1, 1), out_stage=3),
        neck=dict(type='EmbeddingProjection', in_channels=256, out_channels=32, kernel_size=1,
                  bias=False, relu=True),
        tracker=dict(type='TransformRegressor', num_positions=144, patch_size=7),
        patch_pixels=53))
    x = torch.rand(2, 3, 3, 96, 96)  # two base frames and the target: 12x12 maps
    theta = torch.tensor([[1 / 3, 0, 0.2], [0, 1 / 3, -0.1]])
    out = model.loss(x, [dict(patch_theta=theta), dict(patch_theta=theta)])
    assert set(out) == {'loss_long', 'loss_skip', 'loss_sim', 'grid_long', 'grid_skip',
                        'inlier', 'encoder_frozen'}
    assert float(out['loss_long']) == pytest.approx(0.02 * float(out['grid_long']))
    assert float(out['loss_skip']) == pytest.approx(0.1 * float(out['grid_skip']))
    assert float(out['loss_sim']) == pytest.approx(-float(out['inlier']))
    sum(v for k, v in out.items() if k.startswith('loss')).backward()
    assert model.backbone.conv1.weight.grad.abs().sum() > 0
    assert model.tracker.conv1.weight.grad.abs().sum() > 0
    with pytest.raises(ValueError, match='patch_theta'):
        model.loss(x, [dict(), dict()])


def test_timecycle_frozen_encoder_phase(monkeypatch):
    model = MODELS.build(dict(
        type='TimeCycle',
        backbone=dict(type='TorchvisionResNet', depth=18, strides=(1, 2, 1, 1), out_stage=3),
        neck=dict(type='EmbeddingProjection', in_channels=256, out_channels=32, kernel_size=1,
                  bias=False, relu=True),
        tracker=dict(type='TransformRegressor', num_positions=144, patch_size=7),
        patch_pixels=53, frozen_encoder_iters=5))
    x = torch.rand(1, 3, 3, 96, 96)
    sample = [dict(patch_theta=torch.tensor([[1 / 3, 0, 0], [0, 1 / 3, 0]]))]
    assert model.encoder_frozen()  # outside a run: at its start
    for iteration, frozen in ((2, True), (5, False)):
        model.set_train_iteration(iteration, 10)  # as TrainProgressHook does
        model.zero_grad()
        out = model.loss(x, sample)
        sum(v for k, v in out.items() if k.startswith('loss')).backward()
        assert float(out['encoder_frozen']) == float(frozen)
        backbone_grad = model.backbone.conv1.weight.grad
        assert (backbone_grad is None or not backbone_grad.any()) == frozen
        assert model.neck.conv.weight.grad.abs().sum() > 0
