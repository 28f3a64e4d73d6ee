import cv2
import numpy as np
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from corrflow.models.layers.propagation import (area_seed, grid_to_image_coords,
                                                minmax_normalise, resample_to_image,
                                                strided_seed)
from corrflow.registry import MODELS, TASK_UTILS
from corrflow.models.trackers.protocols import run_protocol


class RandomLocalEncoder(nn.Module):
    """Fixed random 5x5 conv at stride 4 (centred on pixel 4i), unit-normalised x 20."""

    stride = 4

    def __init__(self):
        super().__init__()
        g = torch.Generator().manual_seed(0)
        self.conv = nn.Conv2d(3, 32, 5, 4, 2)
        with torch.no_grad():
            self.conv.weight.copy_(torch.randn(self.conv.weight.shape, generator=g))
            self.conv.bias.zero_()

    def forward(self, x):
        return F.normalize(self.conv(x - 0.5), dim=1) * 20


def texture(h, w, seed=0):
    rng = np.random.default_rng(seed)
    img = rng.random((h // 4 + 1, w // 4 + 1, 3)).astype(np.float32)
    img = cv2.resize(img, (w, h), interpolation=cv2.INTER_CUBIC)
    return (np.clip(img, 0, 1) * 255).astype(np.uint8)


def shifted_video(h, w, shift, frames, seed=0, phase=0):
    base = texture(h, w, seed)
    video = np.stack([np.roll(base, (t * shift, t * shift), axis=(0, 1)) for t in range(frames)])
    mask = np.zeros((h, w), np.uint8)
    p = phase
    mask[h // 4 + p:h // 2 + p, w // 4 + p:w // 2 + p] = 1
    mask[h // 2 + 4 + p:3 * h // 4 + p, w // 2 + p:3 * w // 4 + p] = 2
    masks = np.stack([np.roll(mask, (t * shift, t * shift), axis=(0, 1)) for t in range(frames)])
    return torch.from_numpy(video).permute(0, 3, 1, 2).contiguous(), masks


def propagator(protocol, **kwargs):
    return MODELS.build(dict(type='LabelPropagator', backbone=RandomLocalEncoder(),
                             propagation=protocol, **kwargs)).eval()


def iou(a, b):
    return (np.logical_and(a, b).sum() + 1e-9) / (np.logical_or(a, b).sum() + 1e-9)


def test_resample_alignment_is_exact():
    s, H, W = 4, 37, 50
    h, w = -(-H // s), -(-W // s)
    ramp = (torch.arange(w, dtype=torch.float64) * s).view(1, 1, 1, w).expand(1, 1, h, w)
    out = resample_to_image(ramp.contiguous(), s, (H, W), (H, W))
    # inside the outer cell centres the read-out equals the pixel's own column
    torch.testing.assert_close(out[0, 0, 0, :s * (w - 1) + 1],
                               torch.arange(s * (w - 1) + 1, dtype=torch.float64))
    # with a 2x downscale before the encoder, pixel x maps to (x + 0.5) / 2 - 0.5
    out = resample_to_image(ramp.contiguous(), s, (H, W), (2 * H, 2 * W))
    xs = (torch.arange(2 * W, dtype=torch.float64) + 0.5) / 2 - 0.5
    inside = (xs >= 0) & (xs <= s * (w - 1))
    torch.testing.assert_close(out[0, 0, 0][inside], xs[inside])
    xy = grid_to_image_coords(torch.tensor([[3.0, 2.0]]), s, (H, W), (2 * H, 2 * W))
    torch.testing.assert_close(xy, torch.tensor([[2 * 12 + 0.5, 2 * 8 + 0.5]]))


def test_seeds_and_minmax():
    maps = torch.zeros(1, 2, 8, 8)
    maps[:, 1, :, 4:] = 1
    maps[:, 0, :, :4] = 1
    assert strided_seed(maps, 4, (2, 2))[0, 1].tolist() == [[0, 1], [0, 1]]
    soft = area_seed(maps, 4, (2, 2))[0, 1]
    assert soft[0, 0] == 0 and 0 < soft[0, 1] < 1  # the cell at x=4 straddles the edge
    x = torch.tensor([[[[1.0, 3.0], [2.0, 5.0]], [[2.0, 2.0], [2.0, 2.0]]]])
    y = minmax_normalise(x)
    torch.testing.assert_close(y[0, 0], torch.tensor([[0.0, 0.5], [0.25, 1.0]]))
    torch.testing.assert_close(y[0, 1], x[0, 1])  # constant channel untouched


@pytest.mark.parametrize('width', [854, 910, 1152])
def test_output_has_exactly_the_original_size(width):
    model = MODELS.build(dict(type='LabelPropagator',
                              backbone=dict(type='PixelColourEncoder', stride=4))).eval()
    video = torch.randint(0, 255, (2, 3, 480, width), dtype=torch.uint8)
    mask = torch.zeros(480, width, dtype=torch.uint8)
    mask[100:300, 200:600] = 1
    out = model.predict([video], [dict(video='v', first_mask=mask)])[0]
    assert out['pred_masks'].shape == (2, 480, width)
    assert out['pred_masks'].dtype == np.uint8
    np.testing.assert_array_equal(out['pred_masks'][0], mask.numpy())


@pytest.mark.parametrize('protocol', [
    dict(type='CorrFlowPropagation', radius=4, preset='centred'),
    dict(type='TopKMemoryPropagation', radius=4, num_context=3, topk=5, temperature=0.07,
         preset='centred'),
])
def test_masks_follow_motion_without_shift(protocol):
    # the geometrically centred presets; the reference presets copy their references'
    # geometry (tests/models/test_protocol_parity.py)
    # Content moves 4 px right and down per frame; the propagated masks must move
    # with it. Edges are quantised to the 4-px grid (up to +-1.5 px depending on
    # where an edge falls between cell centres), so the offset of the masks is
    # averaged over the 4 edge phases: it must vanish (no misalignment).
    offsets = []
    for phase in range(4):
        video, masks = shifted_video(96, 128, 4, 5, phase=phase)
        out = propagator(protocol).predict([video], [dict(video='v', first_mask=masks[0])])[0]
        pred = out['pred_masks']
        for t in range(1, 5):
            for k in (1, 2):
                assert iou(pred[t] == k, masks[t] == k) > 0.75, (phase, t, k)
                ys, xs = np.nonzero(pred[t] == k)
                gy, gx = np.nonzero(masks[t] == k)
                offsets.append((ys.mean() - gy.mean(), xs.mean() - gx.mean()))
    mean_offset = np.abs(np.mean(offsets, axis=0))
    assert (mean_offset < 0.35).all(), mean_offset


def test_resized_processing_reads_out_at_original_size():
    video, masks = shifted_video(96, 128, 4, 4)
    model = propagator(dict(type='TopKMemoryPropagation', radius=6, topk=5), input_size=(256, 192))
    pred = model.predict([video], [dict(video='v', first_mask=masks[0])])[0]['pred_masks']
    assert pred.shape == (4, 96, 128)
    assert iou(pred[3] == 1, masks[3] == 1) > 0.8


def test_keypoints_follow_motion():
    video, _ = shifted_video(96, 128, 4, 5)
    points = torch.tensor([[40.0, 30.0], [80.0, 60.0], [20.0, 70.0]])
    model = propagator(dict(type='TopKMemoryPropagation', radius=4, topk=10))
    out = model.predict([video], [dict(video='v', first_keypoints=points)])[0]
    kp = out['pred_keypoints']
    assert kp.shape == (5, 3, 2)
    for t in range(5):
        err = np.abs(kp[t] - (points.numpy() + 4 * t)).max()
        assert err < 2.5, (t, err)


def test_bad_samples_are_reported():
    model = propagator(dict(type='CorrFlowPropagation'))
    video = torch.zeros(2, 3, 32, 32, dtype=torch.uint8)
    with pytest.raises(ValueError, match='the mask of frame 0 is'):
        model.predict([video], [dict(video='v', first_mask=torch.zeros(16, 16))])
    with pytest.raises(ValueError, match='first_mask'):
        model.predict([video], [dict(video='v')])
    with pytest.raises(ValueError, match=r'\(T, 3, H, W\)'):
        model.predict([video[:, :1]], [dict(video='v', first_mask=torch.zeros(32, 32))])


def test_recursive_flow_predict_shares_the_encoder():
    model = MODELS.build(dict(
        type='RecursiveFlow', backbone=dict(type='CorrFlowResNet'),
        neck=dict(type='EmbeddingProjection'), head=dict(type='RestrictedAttentionHead'),
        propagation=dict(propagation=dict(type='CorrFlowPropagation', radius=3)))).eval()
    video = torch.randint(0, 255, (3, 3, 40, 48), dtype=torch.uint8)
    mask = torch.zeros(40, 48, dtype=torch.uint8)
    mask[10:20, 10:30] = 1
    out = model.val_step(dict(inputs=[video], data_samples=[dict(video='v', first_mask=mask)]))
    assert out[0]['pred_masks'].shape == (3, 40, 48)
    tracker = model.as_propagator()
    assert tracker.backbone is model.backbone and tracker.neck is model.neck
    # one propagator per run: every validation batch reuses it, and it is no submodule
    keys = set(model.state_dict())
    model.val_step(dict(inputs=[video], data_samples=[dict(video='v', first_mask=mask)]))
    assert model.as_propagator() is tracker
    assert set(model.state_dict()) == keys and not any('propagator' in k for k in keys)


@pytest.mark.parametrize('stride,input_size', [(4, (320, 320)), (8, (320, 320)), (4, None)])
def test_gt_heatmaps_read_out_give_pck_one(shared_data, stride, input_size):
    """Seeding with GT heatmaps and reading them straight back gives every joint back."""
    from corrflow.datasets.transforms.video_transforms import read_jhmdb_joints
    from corrflow.evaluation.functional.keypoints import pck
    from corrflow.models.layers.propagation import gaussian_heatmaps

    mat = next((shared_data / 'jhmdb-sample' / 'joint_positions').rglob('joint_positions.mat'))
    gt = read_jhmdb_joints(mat)  # (40, 15, 2), 0-based
    model = MODELS.build(dict(
        type='LabelPropagator', backbone=dict(type='PixelColourEncoder', stride=stride),
        propagation=dict(type='TopKMemoryPropagation'), input_size=input_size))
    preds = []
    for points in gt:
        heat = gaussian_heatmaps(torch.from_numpy(points), (240, 320), sigma=4.0)
        seed = model.keypoint_seed_maps(heat, (240, 320))
        preds.append(model.decode_keypoints(seed, model.processing_size((240, 320)),
                                            (240, 320)).numpy())
    preds = np.stack(preds)
    result = pck(preds, gt, alphas=(0.1, 0.2))
    assert result['PCK@0.1'] == 1.0 and result['PCK@0.2'] == 1.0
    assert np.abs(preds - gt).max() < 3.0  # within a fraction of a cell


def test_protocol_a_temperature_divides_the_affinities():
    # Dividing by T is the same as scaling the query by 1/T; T=1 is the paper's setting.
    video, masks = shifted_video(48, 64, 4, 3)
    feats = {}

    def features(t):
        return feats.setdefault(t, RandomLocalEncoder()(video[t:t + 1].float() / 255))

    seed = F.one_hot(torch.from_numpy(masks[0][::4, ::4]).long(), 3).permute(2, 0, 1)[None].float()
    cold = TASK_UTILS.build(dict(type='CorrFlowPropagation', radius=3, temperature=0.25))
    plain = TASK_UTILS.build(dict(type='CorrFlowPropagation', radius=3))
    first = next(run_protocol(cold, [features(t) for t in range(3)], {0: seed}))[1]
    scaled = [f * 4 if t == 1 else f for t, f in ((t, features(t)) for t in range(3))]
    want = next(run_protocol(plain, scaled, {0: seed}))[1]
    torch.testing.assert_close(first, want)
    assert cold.describe()['temperature'] == 0.25 and plain.describe()['temperature'] == 1.0
    with pytest.raises(ValueError, match='temperature'):
        TASK_UTILS.build(dict(type='CorrFlowPropagation', temperature=0.0))


def test_pixel_encoder_normalise_gives_unit_length_cells_and_is_recorded():
    frames = torch.rand(1, 3, 16, 20)
    raw = MODELS.build(dict(type='PixelColourEncoder', stride=4))(frames)
    unit = MODELS.build(dict(type='PixelColourEncoder', stride=4, normalise=True))(frames)
    torch.testing.assert_close(unit, F.normalize(raw, dim=1))
    torch.testing.assert_close(unit.norm(dim=1), torch.ones(unit.shape[0], *unit.shape[2:]))
    prop = MODELS.build(dict(type='LabelPropagator',
                             backbone=dict(type='PixelColourEncoder', stride=4, normalise=True),
                             propagation=dict(type='CorrFlowPropagation', temperature=0.07)))
    info = prop.describe()
    assert info['feature_norm'] == 'L2' and info['temperature'] == 0.07
    assert info['encoder'] == 'PixelColourEncoder'


# ----------------------------------------------------------------------------- late objects
# late objects follow corrflow's rules (no reference defines them): the centred presets
PROTOCOLS = [dict(type='CorrFlowPropagation', radius=3, preset='centred'),
             dict(type='TopKMemoryPropagation', radius=3, num_context=2, topk=5,
                  preset='centred')]


@pytest.mark.parametrize('protocol', PROTOCOLS, ids=['A', 'B'])
def test_an_object_is_predicted_only_from_its_first_frame(protocol):
    video, masks = shifted_video(96, 128, 4, 6)
    model = propagator(protocol)
    ids = np.where(masks == 1, 3, np.where(masks == 2, 7, 0)).astype(np.uint8)  # ids 3 and 7
    late = np.where(ids[3] == 7, 7, 0).astype(np.uint8)  # object 7 starts at frame 3
    start_masks = {0: np.where(ids[0] == 3, 3, 0).astype(np.uint8), 3: late}
    out = model.predict([video], [dict(video='v', start_masks=start_masks)])[0]
    pred = out['pred_masks']
    assert pred.shape == (6, 96, 128) and set(np.unique(pred)) <= {0, 3, 7}
    assert not (pred[:3] == 7).any()  # nothing of object 7 before its first frame
    np.testing.assert_array_equal(pred[3][late == 7], 7)  # pasted at its first frame
    assert (pred[4:] == 7).any() and (pred[4:] == 3).any()  # both tracked on
    for t in range(4, 6):
        # object 7 is visible, unlabelled, in frames 0-2, which protocol B keeps as context
        assert iou(pred[t] == 7, ids[t] == 7) > 0.6 and iou(pred[t] == 3, ids[t] == 3) > 0.8
    assert 'late_objects' in out['propagation']


@pytest.mark.parametrize('protocol', PROTOCOLS, ids=['A', 'B'])
def test_an_object_entering_after_a_cut_scores_like_a_run_started_there(protocol):
    """Frames 0-2 show another scene (object 2); object 5 enters at frame 3."""
    before, masks_before = shifted_video(96, 128, 4, 3, seed=1)
    after, masks_after = shifted_video(96, 128, 4, 5)
    video = torch.cat([before, after])
    k = 3
    late = (masks_after[0] == 1).astype(np.uint8) * 5
    start_masks = {0: (masks_before[0] == 2).astype(np.uint8) * 2, k: late}
    model = propagator(protocol)
    whole = model.predict([video], [dict(video='v', start_masks=start_masks)])[0]['pred_masks']
    from_k = model.predict([after], [dict(video='v', first_mask=late)])[0]['pred_masks']
    for t in range(1, 5):
        got = iou(whole[k + t] == 5, masks_after[t] == 1)
        want = iou(from_k[t] == 5, masks_after[t] == 1)
        assert want > 0.8 and abs(got - want) < 0.03, (t, got, want)


def test_protocol_a_late_object_alone_equals_a_run_started_there():
    """A: the copy of frame k is exactly the pasted mask, so frames after k match a run from k."""
    video, masks = shifted_video(48, 64, 2, 7)
    model = propagator(PROTOCOLS[0])
    k = 2
    late = (masks[k] == 1).astype(np.uint8) * 5
    start_masks = {0: np.zeros_like(late), k: late}
    whole = model.predict([video], [dict(video='v', start_masks=start_masks)])[0]['pred_masks']
    from_k = model.predict([video[k:]], [dict(video='v', first_mask=late)])[0]['pred_masks']
    np.testing.assert_array_equal(whole[k:], from_k)
    assert not whole[:k].any()


@pytest.mark.parametrize('protocol', PROTOCOLS, ids=['A', 'B'])
def test_frames_before_the_first_mask_are_background(protocol):
    video, masks = shifted_video(48, 64, 2, 5)
    model = propagator(protocol)
    first = masks[2].copy()
    out = model.predict([video], [dict(video='v', start_masks={2: first})])[0]['pred_masks']
    assert not out[:2].any()
    np.testing.assert_array_equal(out[2], first)
    want = model.predict([video[2:]], [dict(video='v', first_mask=first)])[0]['pred_masks']
    np.testing.assert_array_equal(out[2:], want)  # nothing earlier enters the context


def test_protocol_b_keeps_every_start_frame_in_the_context():
    seen = []
    import corrflow.models.trackers.protocols as protocols
    original = protocols.topk_memory_attention

    def spy(query, keys, values, *args, **kwargs):
        seen.append([float(k.feat[0, 0, 0, 0]) - 1 for k in keys])
        return original(query, keys, values, *args, **kwargs)

    protocol = TASK_UTILS.build(dict(type='TopKMemoryPropagation', radius=1, num_context=1,
                                     topk=2, preset='centred'))
    feats = [torch.full((1, 4, 6, 6), float(t + 1)) for t in range(5)]
    seeds = {0: torch.rand(1, 3, 6, 6), 2: torch.zeros(1, 3, 6, 6)}
    seeds[2][:, 2, :3] = 1.0
    protocols.topk_memory_attention = spy
    try:
        steps = list(protocols.run_protocol(protocol, feats, seeds))
    finally:
        protocols.topk_memory_attention = original
    assert [t for t, _ in steps] == [1, 2, 3, 4]
    # frame 2 (an object's first frame) stays, beside frame 0 and one preceding frame
    assert seen == [[0], [0, 1], [0, 2, 1], [0, 2, 3]]


def test_start_masks_are_checked():
    model = propagator(PROTOCOLS[0])
    video = torch.zeros(3, 3, 32, 32, dtype=torch.uint8)
    mask = np.zeros((32, 32), np.uint8)
    mask[:8, :8] = 4
    with pytest.raises(ValueError, match='object id 4 is in the start masks of frames 0 and 2'):
        model.predict([video], [dict(video='v', start_masks={0: mask, 2: mask})])
    with pytest.raises(ValueError, match='not both'):
        model.predict([video], [dict(video='v', start_masks={0: mask}, first_mask=mask)])
    with pytest.raises(ValueError, match='the mask of frame 1 is'):
        model.predict([video], [dict(video='v', start_masks={1: mask[:16]})])


@pytest.mark.parametrize('src,dst', [(854, 427), (427, 854), (832, 854), (107, 854), (60, 480),
                                     (854, 52), (13, 7), (7, 13), (1080, 214)])
def test_nearest_indices_follow_opencv_and_pillow(src, dst):
    import cv2
    from PIL import Image

    from corrflow.models.layers.propagation import nearest_indices
    row = np.arange(src, dtype=np.float32)[None].repeat(2, 0)
    opencv = cv2.resize(row, (dst, 2), interpolation=cv2.INTER_NEAREST)[0].astype(int)
    pillow = np.array(Image.fromarray(row).resize((dst, 2), Image.NEAREST))[0].astype(int)
    np.testing.assert_array_equal(nearest_indices(src, dst, 'opencv').numpy(), opencv)
    np.testing.assert_array_equal(nearest_indices(src, dst, 'pillow').numpy(), pillow)


def test_bilinear_resize_follows_opencv():
    import cv2

    from corrflow.models.layers.propagation import bilinear_resize
    x = np.random.default_rng(0).random((13, 22, 3)).astype(np.float32)
    for size in [(52, 88), (7, 11), (26, 44), (30, 61)]:
        ours = bilinear_resize(torch.from_numpy(x).permute(2, 0, 1)[None], size)
        theirs = cv2.resize(x, (size[1], size[0]), interpolation=cv2.INTER_LINEAR)
        np.testing.assert_allclose(ours[0].permute(1, 2, 0).numpy(), theirs, atol=2e-6)


def test_protocol_a_with_the_whole_frame_as_window():
    from corrflow.errors import ConfigError
    from corrflow.models.trackers.protocols import CorrFlowPropagation
    assert CorrFlowPropagation(radius=None).describe()['radius'] == 'whole frame'
    with pytest.raises(ConfigError, match='radius must be an integer >= 0, or None'):
        CorrFlowPropagation(radius=-1)
    g = torch.Generator().manual_seed(1)
    feats = [torch.randn(1, 8, 6, 7, generator=g) for _ in range(3)]
    seed = torch.zeros(1, 2, 6, 7)
    seed[:, 0], seed[:, 1, 2:4, 2:5] = 1, 1
    seed[:, 0, 2:4, 2:5] = 0
    whole = run_protocol(CorrFlowPropagation(radius=None, preset='centred'), feats, {0: seed})
    wide = run_protocol(CorrFlowPropagation(radius=7, preset='centred'), feats, {0: seed})
    whole, wide = dict(whole), dict(wide)
    for t in (1, 2):
        torch.testing.assert_close(whole[t], wide[t], rtol=1e-5, atol=1e-6)
