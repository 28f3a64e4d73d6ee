import dataclasses

import cv2
import numpy as np
import pytest
import torch

from corrflow.datasets import SyntheticVideos, render_synthetic_video, synthetic
from corrflow.datasets.synthetic import SyntheticScene, synthetic_video_seed
from corrflow.datasets.transforms.clip_transforms import quantise_frames
from corrflow.models.layers.colour import KINETICS_AB_CENTROIDS
from corrflow.registry import DATASETS, TRANSFORMS

SYNTHETIC_PIPELINE = [dict(type='LoadSyntheticClip'), dict(type='ResizeClip', size=(64, 64)),
                      dict(type='QuantiseColour'), dict(type='PackClipInputs')]


def test_deterministic_from_seed():
    frames, masks = render_synthetic_video(7, 3, size=(64, 48))
    again_frames, again_masks = render_synthetic_video(7, 3, size=(64, 48))
    np.testing.assert_array_equal(frames, again_frames)
    np.testing.assert_array_equal(masks, again_masks)
    other, _ = render_synthetic_video(8, 3, size=(64, 48))
    assert np.abs(other.astype(int) - frames).mean() > 10


def test_shapes_and_dtypes():
    frames, masks = render_synthetic_video(0, 4, size=(96, 64), num_objects=3)
    assert frames.shape == (4, 64, 96, 3) and frames.dtype == np.uint8
    assert masks.shape == (4, 64, 96) and masks.dtype == np.uint8


def test_frame_is_a_function_of_seed_and_time():
    frames, masks = render_synthetic_video(3, 10)
    frame, mask = SyntheticScene(3).render(9)  # without rendering frames 0..8
    np.testing.assert_array_equal(frame, frames[9])
    np.testing.assert_array_equal(mask, masks[9])


@pytest.mark.parametrize('seed', range(4))
def test_masks_are_the_visible_parts(seed: int):
    scene = SyntheticScene(seed, size=(128, 128), num_objects=4)
    frame, mask = scene.render(5)
    assert set(np.unique(mask)) <= set(range(5))
    assert {o.label for o in scene.objects} == {1, 2, 3, 4}
    assert len(np.unique(mask)) >= 2  # background and at least one object
    # objects are drawn back to front: each shows its polygon minus the nearer ones
    nearer = np.zeros(mask.shape, bool)
    for index in reversed(range(scene.num_objects)):
        drawn = np.zeros(mask.shape, np.uint8)
        outline = np.round(scene.object_outline(index, 5) * 16).astype(np.int32)
        cv2.fillPoly(drawn, [outline], 1, lineType=cv2.LINE_8, shift=4)
        expected = drawn.astype(bool) & ~nearer
        np.testing.assert_array_equal(mask == scene.objects[index].label, expected)
        nearer |= drawn.astype(bool)
    assert ((mask == 0) == ~nearer).all()


def test_occlusion_happens():
    occluded = 0
    for seed in range(10):
        scene = SyntheticScene(seed, size=(128, 128))
        _, mask = scene.render(0)
        for index, obj in enumerate(scene.objects[:-1]):  # all but the nearest
            drawn = np.zeros(mask.shape, np.uint8)
            outline = np.round(scene.object_outline(index, 0) * 16).astype(np.int32)
            cv2.fillPoly(drawn, [outline], 1, lineType=cv2.LINE_8, shift=4)
            occluded += int(((mask != obj.label) & (drawn > 0)).sum() > 0)
    assert occluded > 0


def test_motion_is_nonzero_and_bounded():
    for seed in range(5):
        scene = SyntheticScene(seed)
        frames, _ = render_synthetic_video(seed, 2)
        assert np.abs(frames[1].astype(int) - frames[0]).mean() > 1
        corners = np.array([[0, 0], [255, 0], [0, 255], [255, 255], [128, 128]], float)
        for t in range(0, 200, 3):
            for index in range(scene.num_objects):
                step = scene.object_outline(index, t + 1) - scene.object_outline(index, t)
                assert np.linalg.norm(step, axis=1).max() <= 5.0
            # where the background point under each corner at t lies at t + 1
            a0, a1 = scene.background_affine(t), scene.background_affine(t + 1)
            texture = corners @ a0[:, :2].T + a0[:, 2]
            moved = np.linalg.solve(a1[:, :2], (texture - a1[:, 2]).T).T
            assert np.linalg.norm(moved - corners, axis=1).max() <= 4.0


def test_single_object_centroid_moves_a_few_pixels():
    _, masks = render_synthetic_video(11, 9, num_objects=1)
    centroids = [np.argwhere(m == 1).mean(0) for m in masks]
    steps = np.linalg.norm(np.diff(centroids, axis=0), axis=1)
    assert steps.max() <= 5.0 and steps.sum() > 0.5


def test_colour_classes_vary():
    for seed in range(5):
        frames, _ = render_synthetic_video(seed, 1)
        labels = quantise_frames(list(frames), np.array(KINETICS_AB_CENTROIDS))
        assert len(np.unique(labels)) >= 6


def pixelwise_fields(material, affine: np.ndarray, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    """(F, H, W) fields pixel by pixel: sum_k amp_k cos(freq_k . (affine @ (x, y, 1)) + phase_k)."""
    x, y = np.meshgrid(xs, ys)  # (H, W)
    tex = affine[:, 0, None, None] * x + affine[:, 1, None, None] * y + affine[:, 2, None, None]
    phase = np.einsum('fkc,chw->fkhw', material.freqs, tex) + material.phases[..., None, None]
    return (material.amps[..., None, None] * np.cos(phase)).sum(1)


@pytest.mark.parametrize('seed', [0, 3])
def test_separable_fields_equal_the_pixelwise_sum_of_waves(seed: int):
    # _eval_fields splits cos(a + b) into row and column factors (one small matrix
    # product per field); the values are those of the direct per-pixel sum of waves
    scene = SyntheticScene(seed, size=(40, 24))
    cases = [(scene.background, scene.background_affine(t)) for t in (0, 7.5)]
    cases += [(obj.material, scene._object_affine(i, 7.5)) for i, obj in enumerate(scene.objects)]
    for material, affine in cases:
        fast = synthetic._eval_fields(material, affine, scene._xs, scene._ys)
        assert fast.shape == (len(material.amps), 24, 40) and fast.dtype == np.float32
        np.testing.assert_allclose(fast, pixelwise_fields(material, affine, scene._xs, scene._ys),
                                   rtol=0, atol=1e-5)


@pytest.mark.parametrize('seed', range(3))
def test_objects_shaded_in_their_box_equal_a_full_frame_render(seed: int, monkeypatch):
    """render(t) shades each object only inside its outline's bounding box, and not at all
    when it is out of view; the frame is the one shading every object on the whole frame gives."""
    scene = SyntheticScene(seed, size=(96, 64), num_objects=3)
    # the farthest object moved out of view: nothing of it to draw
    scene.objects[0] = dataclasses.replace(scene.objects[0], centre=(-1000.0, -1000.0))
    calls = []
    eval_fields = synthetic._eval_fields

    def counting(material, affine, xs, ys):
        calls.append((material, len(xs), len(ys)))
        return eval_fields(material, affine, xs, ys)

    monkeypatch.setattr(synthetic, '_eval_fields', counting)
    t = 4
    frame, mask = scene.render(t)
    monkeypatch.setattr(synthetic, '_eval_fields', eval_fields)
    xs, ys = scene._xs, scene._ys
    expected = synthetic._shade(scene.background, eval_fields(
        scene.background, scene.background_affine(t), xs, ys))
    shaded = [scene.background]
    boxes = [(96, 64)]
    for i, obj in enumerate(scene.objects):
        visible = mask == obj.label
        if not visible.any():
            continue
        colour = synthetic._shade(obj.material, eval_fields(obj.material,
                                                            scene._object_affine(i, t), xs, ys))
        expected[visible] = colour[visible]
        outline = scene.object_outline(i, t)
        lo = np.maximum(np.floor(outline.min(0)) - 1, 0)
        hi = np.minimum(np.ceil(outline.max(0)) + 2, (96, 64))
        shaded.append(obj.material)
        boxes.append(tuple((hi - lo).astype(int)))
    np.testing.assert_array_equal(frame, expected)
    # one field evaluation for the background and one per visible object, on its box
    assert len(calls) == 3 and [id(c[0]) for c in calls] == [id(m) for m in shaded]
    assert [c[1:] for c in calls] == boxes


def test_dataset_clips():
    ds = SyntheticVideos(num_videos=3, num_frames=21, size=(64, 64), seed=5)
    assert len(ds) == 6
    info = ds.get_data_info(1)
    assert info['video'] == 'synthetic_00000' and info['frame_indices'] == [12, 16, 20]
    assert info['synthetic_seed'] == synthetic_video_seed(5, 0)
    assert ds.get_data_info(2)['synthetic_seed'] == synthetic_video_seed(5, 1)
    assert 'video_path' not in info


def test_dataset_pipeline_and_determinism():
    cfg = dict(type='SyntheticVideos', num_videos=2, num_frames=12, size=(64, 64), seed=1,
               pipeline=SYNTHETIC_PIPELINE)
    ds = DATASETS.build(cfg)
    sample = ds[1]
    assert sample['inputs'].dtype == torch.uint8 and sample['inputs'].shape == (3, 3, 64, 64)
    assert sample['data_samples']['colour_labels'].shape == (3, 64, 64)
    assert torch.equal(DATASETS.build(cfg)[1]['inputs'], sample['inputs'])
    other = DATASETS.build(dict(cfg, seed=2))[1]
    assert not torch.equal(other['inputs'], sample['inputs'])
    # the clip is the rendered video at its frame indices
    frames, _ = render_synthetic_video(synthetic_video_seed(1, 1), 9, size=(64, 64))
    np.testing.assert_array_equal(sample['inputs'].permute(0, 2, 3, 1).numpy(),
                                  frames[[0, 4, 8]])


def test_load_synthetic_clip_masks():
    transform = TRANSFORMS.build(dict(type='LoadSyntheticClip'))
    results = transform(dict(synthetic_seed=4, synthetic_size=(80, 48), synthetic_num_objects=2,
                             frame_indices=[0, 4, 8]))
    assert len(results['frames']) == 3 and results['frames'][0].shape == (48, 80, 3)
    assert results['gt_masks'].shape == (3, 48, 80) and results['gt_masks'].dtype == np.uint8
    assert set(np.unique(results['gt_masks'])) <= {0, 1, 2}
    assert results['ori_shape'] == (48, 80)
