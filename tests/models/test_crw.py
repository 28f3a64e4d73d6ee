"""CRW: random-walk transitions, palindrome walks, the loss against a brute-force walk,
the head, the patch grid, the model."""
import itertools
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from corrflow.datasets.transforms import PatchGrid, RandomResizedCropClip
from corrflow.errors import ConfigError
from corrflow.models.backbones.torchvision_resnet import TorchvisionResNet
from corrflow.models.heads import NodeProjection
from corrflow.models.layers.random_walk import (DROPPED_EDGE, frame_transitions,
                                                palindrome_walks, transition_matrix)
from corrflow.models.losses import CycleWalkLoss
from corrflow.registry import MODELS


def unit_nodes(B, T, N, C, seed=0):
    g = torch.Generator().manual_seed(seed)
    return F.normalize(torch.randn(B, T, N, C, generator=g, dtype=torch.float64), dim=-1)


def brute_force_loss(nodes, temperature, lengths, eps=1e-20):
    """Every path of each palindrome walk enumerated, its probability a product of steps."""
    B, T, N, _ = nodes.shape
    x = nodes.numpy()

    def step(b, src, dst, i, j):  # probability of node i of frame src -> node j of frame dst
        logits = [float(x[b, dst, jj] @ x[b, src, i]) / temperature for jj in range(N)]
        top = max(logits)
        return math.exp(logits[j] - top) / sum(math.exp(v - top) for v in logits)

    per_length = {}
    for k in lengths:
        frames = list(range(k + 1)) + list(range(k - 1, -1, -1))  # 0, 1, .., k, .., 1, 0
        losses, hits = [], []
        for b in range(B):
            for start in range(N):
                ends = np.zeros(N)
                for middle in itertools.product(range(N), repeat=len(frames) - 2):
                    for end in range(N):
                        path = (start, *middle, end)
                        p = 1.0
                        for s in range(len(frames) - 1):
                            p *= step(b, frames[s], frames[s + 1], path[s], path[s + 1])
                        ends[end] += p
                probs = ends + eps
                losses.append(-math.log(probs[start] / probs.sum()))
                hits.append(float(np.argmax(ends) == start))
        per_length[k] = (float(np.mean(losses)), float(np.mean(hits)))
    return per_length


def test_loss_equals_a_brute_force_random_walk():
    nodes = unit_nodes(2, 4, 3, 5)
    loss = CycleWalkLoss(temperature=0.3, edge_dropout=0.0)
    out = loss(nodes)
    truth = brute_force_loss(nodes, 0.3, (2, 3))
    for k, (xent, acc) in truth.items():
        assert abs(out[f'xent_{k}'].item() - xent) < 1e-6
        assert out[f'acc_{k}'].item() == pytest.approx(acc)
    assert abs(out['loss'].item() - np.mean([v[0] for v in truth.values()])) < 1e-6
    assert set(out) == {'loss', 'xent_2', 'acc_2', 'xent_3', 'acc_3'}  # 1-step walk left out


def test_chosen_walk_lengths_and_their_errors():
    nodes = unit_nodes(1, 3, 4, 6, seed=1)
    out = CycleWalkLoss(temperature=0.1, edge_dropout=0.0, walk_lengths=(1, 2))(nodes)
    truth = brute_force_loss(nodes, 0.1, (1, 2))
    assert abs(out['xent_1'].item() - truth[1][0]) < 1e-6
    assert abs(out['xent_2'].item() - truth[2][0]) < 1e-6
    with pytest.raises(ValueError, match='too short'):
        CycleWalkLoss()(unit_nodes(1, 2, 3, 4))  # default 2..T-1 needs 3 frames
    with pytest.raises(ValueError, match='at least 4 frames'):
        CycleWalkLoss(walk_lengths=(3,))(unit_nodes(1, 3, 3, 4))
    with pytest.raises(ValueError, match=r'\(B, T, N, C\)'):
        CycleWalkLoss()(torch.zeros(3, 4, 5))
    for bad in (dict(temperature=0), dict(edge_dropout=1.0), dict(walk_lengths=(0,))):
        with pytest.raises(ConfigError):
            CycleWalkLoss(**bad)


def test_identical_nodes_give_uniform_walks():
    nodes = F.normalize(torch.ones(2, 5, 7, 3), dim=-1)
    out = CycleWalkLoss(temperature=0.05, edge_dropout=0.0)(nodes)
    for k in (2, 3, 4):
        assert out[f'xent_{k}'].item() == pytest.approx(math.log(7), abs=1e-5)


def test_palindrome_walk_is_the_ordered_product():
    nodes = unit_nodes(2, 5, 4, 3, seed=2)
    forward, backward = frame_transitions(nodes, 0.2)
    walks = palindrome_walks(forward, backward, (1, 2, 4))
    for k, walk in walks.items():
        want = forward[0]
        for m in forward[1:k] + backward[:k][::-1]:
            want = want @ m
        torch.testing.assert_close(walk, want)
        torch.testing.assert_close(walk.sum(-1), torch.ones(2, 4, dtype=torch.float64))
    # backward[t] goes from frame t+1 to frame t: its logits are forward's transposed
    aff = torch.einsum('bnc,bmc->bnm', nodes[:, 1], nodes[:, 0])
    torch.testing.assert_close(backward[0], torch.softmax(aff / 0.2, -1))


def test_edge_dropout_removes_the_drawn_edges():
    aff = torch.rand(4, 30, 30) * 2 - 1
    torch.manual_seed(5)
    probs = transition_matrix(aff, 0.05, edge_dropout=0.3)
    torch.manual_seed(5)
    dropped = torch.rand_like(aff) < 0.3
    assert 0.25 < dropped.float().mean().item() < 0.35
    assert (probs[dropped] == 0).all() and (probs[~dropped] > 0).all()
    torch.testing.assert_close(probs.sum(-1), torch.ones(4, 30))
    want = torch.softmax(aff.masked_fill(dropped, DROPPED_EDGE) / 0.05, -1)
    torch.testing.assert_close(probs, want)
    torch.testing.assert_close(transition_matrix(aff, 0.05), torch.softmax(aff / 0.05, -1))


def test_node_projection_depths():
    assert len(NodeProjection(8, 4, depth=-1).layers) == 0
    one = NodeProjection(8, 4, depth=0)
    assert list(one.state_dict()) == ['layers.0.weight', 'layers.0.bias']
    two = NodeProjection(8, 4, depth=1)  # CRW's names: selfsim_fc.0, .2 around a ReLU
    assert list(two.state_dict()) == ['layers.0.weight', 'layers.0.bias', 'layers.2.weight',
                                      'layers.2.bias']
    assert two(torch.zeros(5, 8)).shape == (5, 4) and two.out_channels == 4
    with pytest.raises(ConfigError):
        NodeProjection(8, 4, depth=-2)


def test_patch_grid_cuts_row_major_windows():
    frames = [np.random.RandomState(t).randint(0, 255, (256, 256, 3), np.uint8) for t in range(2)]
    grid = PatchGrid(size=64, stride=32, scale=(1.0, 1.0), ratio=(1.0, 1.0))  # no jitter
    out = grid.transform(dict(frames=list(frames)))
    assert out['patch_grid'] == (7, 7) and len(out['frames']) == 2 * 49
    for t, r, c in [(0, 0, 0), (0, 3, 5), (1, 6, 6), (1, 2, 0)]:
        want = frames[t][32 * r:32 * r + 64, 32 * c:32 * c + 64]
        np.testing.assert_array_equal(out['frames'][t * 49 + r * 7 + c], want)
    jittered = PatchGrid().transform(dict(frames=list(frames)))['frames']
    assert all(p.shape == (64, 64, 3) for p in jittered)
    assert not np.array_equal(jittered[0], frames[0][:64, :64])
    assert PatchGrid(64, 32).grid(100, 300) == (2, 8)
    with pytest.raises(ValueError, match='smaller than one'):
        PatchGrid(64, 32).transform(dict(frames=[np.zeros((50, 80, 3), np.uint8)]))
    with pytest.raises(ValueError, match='one size'):
        PatchGrid(64, 32).transform(dict(frames=[np.zeros((64, 64, 3), np.uint8),
                                                 np.zeros((64, 96, 3), np.uint8)]))


def test_per_frame_resized_crops():
    frames = [np.zeros((256, 340, 3), np.uint8) for _ in range(4)]  # Kinetics' 4:3 at 256
    np.random.seed(0)
    out = RandomResizedCropClip(size=(256, 256), scale=(0.8, 0.95), ratio=(0.7, 1.3),
                                per_frame=True).transform(dict(frames=list(frames)))
    assert len(set(out['crop_box'])) == 4 and all(f.shape == (256, 256, 3)
                                                  for f in out['frames'])
    shared = RandomResizedCropClip(size=(256, 256), scale=(0.8, 0.95), ratio=(0.7, 1.3))
    assert isinstance(shared.transform(dict(frames=list(frames)))['crop_box'], tuple)
    # 16:9 frames at short side 256: no draw fits (80-95 % of the area at an aspect ratio
    # of at most 1.3 is taller than 256), so every frame gets the fallback centred crop
    wide = [np.zeros((256, 455, 3), np.uint8) for _ in range(4)]
    boxes = RandomResizedCropClip(size=(256, 256), scale=(0.8, 0.95), ratio=(0.7, 1.3),
                                  per_frame=True).transform(dict(frames=wide))['crop_box']
    assert set(boxes) == {(61, 0, 394, 256)}


def test_reflect_padding_and_strides():
    net = TorchvisionResNet(depth=18, strides=(1, 2, 1, 1), out_stage=4, padding_mode='reflect')
    convs = [m for m in net.modules() if isinstance(m, torch.nn.Conv2d)]
    assert all(m.padding_mode == 'reflect' for m in convs if any(m.padding))
    assert net(torch.zeros(1, 3, 64, 64)).shape == (1, 512, 8, 8) and net.stride == 8
    with pytest.raises(ConfigError, match='padding_mode'):
        TorchvisionResNet(padding_mode='circular')


def small_crw(**kw):
    cfg = dict(type='CRW',
               backbone=dict(type='TorchvisionResNet', depth=18, strides=(1, 2, 1, 1),
                             out_stage=4, padding_mode='reflect'),
               head=dict(type='NodeProjection', in_channels=512, out_channels=128),
               loss=dict(type='CycleWalkLoss', temperature=0.05, edge_dropout=0.1))
    cfg.update(kw)
    return MODELS.build(cfg)


def test_crw_patch_clips_train_every_part():
    torch.manual_seed(0)
    model = small_crw()
    inputs = torch.rand(2, 3 * 4, 3, 32, 32)  # 3 frames of a 2x2 grid
    samples = [dict(patch_grid=(2, 2)), dict(patch_grid=(2, 2))]
    nodes = model(inputs, samples, mode='tensor')
    assert nodes.shape == (2, 3, 4, 128)
    torch.testing.assert_close(nodes.norm(dim=-1), torch.ones(2, 3, 4))
    losses = model(inputs, samples, mode='loss')
    assert set(losses) == {'loss', 'xent_2', 'acc_2'} and torch.isfinite(losses['loss'])
    losses['loss'].backward()
    assert model.backbone.conv1.weight.grad.abs().sum() > 0
    assert model.head.layers[0].weight.grad.abs().sum() > 0
    assert model.backbone.layer4[1].conv2.weight.grad.abs().sum() > 0


def test_crw_whole_frames_make_a_node_per_cell():
    model = small_crw()
    nodes = model.nodes(torch.rand(1, 3, 3, 64, 48), None)
    assert nodes.shape == (1, 3, 8 * 6, 128)


def test_crw_patches_are_encoded_as_whole_images():
    """A patch's node is the head of its feature map's mean, as the reference pools."""
    model = small_crw().eval()
    patches = torch.rand(1, 3 * 1, 3, 32, 32)
    nodes = model.nodes(patches, [dict(patch_grid=(1, 1))])
    maps = model.backbone((patches[0] - model.mean) / model.std)
    want = F.normalize(model.head(maps.mean((-2, -1))), dim=-1)
    torch.testing.assert_close(nodes[0, :, 0], want)


def test_crw_errors():
    model = small_crw()
    with pytest.raises(ValueError, match='multiple'):
        model.nodes(torch.rand(1, 10, 3, 32, 32), [dict(patch_grid=(2, 2))])
    with pytest.raises(ValueError, match='different patch grids'):
        model.nodes(torch.rand(2, 8, 3, 32, 32), [dict(patch_grid=(2, 2)),
                                                   dict(patch_grid=(1, 4))])
    with pytest.raises(ValueError, match='takes'):
        model.nodes(torch.rand(2, 8, 32, 32), None)
    with pytest.raises(ConfigError, match='propagation_stage'):
        small_crw(propagation_stage=5)
    with pytest.raises(ValueError, match='modes'):
        model(torch.rand(1, 3, 3, 32, 32), None, mode='nope')


def test_crw_propagates_with_layer3_and_imagenet_statistics():
    model = small_crw()
    encoder, neck = model.propagation_encoder()
    assert neck is None and encoder.stride == 8 and encoder.out_channels == 256
    propagator = model.as_propagator()
    assert propagator.mean.flatten().tolist() == pytest.approx([0.485, 0.456, 0.406])
    video = torch.randint(0, 255, (3, 3, 40, 56), dtype=torch.uint8)
    first = np.zeros((40, 56), np.uint8)
    first[10:30, 10:30] = 1
    masks = propagator.propagate_masks(video, {0: first})
    assert masks.shape == (3, 40, 56)
