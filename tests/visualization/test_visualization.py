"""corrflow.visualization: overlays, PCA colours, attention maps, trails and writers."""
import cv2
import numpy as np
import pytest
import torch
from PIL import Image

from corrflow.datasets.video_io import DataError, count_video_frames
from corrflow.evaluation.davis_io import voc_palette
from corrflow.models.layers.local_attention import local_affinity
from corrflow.visualization import (attention_map, attention_maps, chained_attention_maps,
                                    colorize_mask, draw_keypoint_trails, hstack_images,
                                    joint_colours, overlay_heatmap, overlay_masks,
                                    pca_colour_features, pixel_to_cell, read_frames, write_gif,
                                    write_images, write_video)


def frames_of(num: int, height: int = 24, width: int = 32, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (num, height, width, 3), dtype=np.uint8)


def one_hot_features(h: int, w: int, scale: float = 4.0) -> torch.Tensor:
    """(h*w, h, w): every cell its own orthogonal feature (an identity-like map)."""
    return (torch.eye(h * w) * scale).reshape(h * w, h, w)


# ----------------------------------------------------------------------------- overlays

def test_overlay_masks_blends_objects_and_keeps_background():
    frame = frames_of(1)[0]
    mask = np.zeros(frame.shape[:2], dtype=np.uint8)
    mask[5:15, 8:20] = 2
    before = frame.copy()
    out = overlay_masks(frame, mask, alpha=0.25, contour=False)
    assert out.shape == frame.shape and out.dtype == np.uint8
    assert np.array_equal(frame, before)  # input untouched
    assert np.array_equal(out[mask == 0], frame[mask == 0])
    expected = np.rint(0.75 * frame[10, 10].astype(float) + 0.25 * voc_palette()[2])
    assert np.array_equal(out[10, 10], expected.astype(np.uint8))
    edged = overlay_masks(frame, mask, alpha=0.25)
    assert np.array_equal(edged[5, 10], [255, 255, 255])  # top boundary: white line ...
    assert np.array_equal(edged[4, 10], [0, 0, 0])  # ... with a black line outside it
    assert np.array_equal(edged[2, 10], frame[2, 10])  # background beyond it untouched
    assert np.array_equal(edged[10, 10], out[10, 10])  # interior as without contours
    assert np.array_equal(colorize_mask(mask)[10, 10], voc_palette()[2])
    with pytest.raises(ValueError, match='palette'):
        overlay_masks(frame, mask, palette=voc_palette(2))
    with pytest.raises(ValueError, match='differ in size'):
        overlay_masks(frame, mask[:-1])


def test_heatmap_overlay_and_stacking():
    frame = frames_of(1)[0]
    assert np.array_equal(overlay_heatmap(frame, np.zeros(frame.shape[:2])), frame)
    heat = np.zeros(frame.shape[:2])
    heat[3, 4] = 2.0
    out = overlay_heatmap(frame, heat, alpha=1.0)
    assert out.dtype == np.uint8 and not np.array_equal(out[3, 4], frame[3, 4])
    assert np.array_equal(out[10, 10], frame[10, 10])
    stacked = hstack_images([frame, frame[:10]], gap=2)
    assert stacked.shape == (24, 66, 3) and (stacked[10:, 34:] == 255).all()


# ----------------------------------------------------------------------------- PCA

def test_pca_colours_shapes_determinism_and_shared_basis():
    torch.manual_seed(0)
    feats = torch.randn(3, 16, 6, 7)
    feats[1, :, 2, 3] = feats[0, :, 4, 5]  # the same feature in two frames
    colours = pca_colour_features(feats)
    assert colours.shape == (3, 6, 7, 3) and colours.dtype == np.uint8
    assert np.array_equal(colours, pca_colour_features(feats.numpy()))  # deterministic
    assert np.array_equal(colours[1, 2, 3], colours[0, 4, 5])  # one basis for all frames
    assert pca_colour_features(feats[0]).shape == (6, 7, 3)
    assert np.array_equal(pca_colour_features(feats[0]), pca_colour_features(feats[:1])[0])


def test_pca_first_component_is_red_and_missing_ones_grey():
    rng = np.random.default_rng(1)
    strength = rng.uniform(-1, 1, (1, 5, 5))
    direction = rng.normal(size=(8, 1, 1))
    feats = 10 * direction * strength + 0.01 * rng.normal(size=(8, 5, 5))
    colours = pca_colour_features(feats, clip_percentile=0.0)
    red = colours[..., 0].astype(float).ravel()
    assert abs(np.corrcoef(red, strength.ravel())[0, 1]) > 0.99
    assert red.min() == 0 and red.max() == 255
    two = pca_colour_features(rng.normal(size=(2, 4, 4)))
    assert (two[..., 2] == 128).all()


# ----------------------------------------------------------------------------- attention

def test_attention_map_of_identity_features_peaks_at_the_query():
    h, w, s, R = 10, 12, 4, 2
    feats = one_hot_features(h, w)
    result = attention_map(feats, feats, (5 * s, 3 * s), s, R)
    assert result.query_cell == (5, 3) and result.peak_cell == (5, 3)
    assert result.peak_pixel == (20.0, 12.0)
    assert result.weights.shape == (5, 5) and result.weights.dtype == np.float32
    assert result.weights.sum() == pytest.approx(1.0, abs=1e-6)
    assert result.weights.argmax() == 12  # the centre offset (0, 0)
    assert result.heatmap.shape == (h * s, w * s)
    assert np.unravel_index(result.heatmap.argmax(), result.heatmap.shape) == (12, 20)
    assert result.heatmap[0, 0] == 0 and result.heatmap[-1, -1] == 0  # outside the window


def test_attention_map_matches_a_dense_softmax_at_the_border():
    torch.manual_seed(0)
    query, key = torch.randn(2, 8, 6, 9).unbind(0)
    R = 3
    result = attention_map(query, key, (0, 4), 4, R)  # cell (0, 1): the window leaves the map
    aff = local_affinity(query[None], key[None], R)[0, :, 1, 0]  # (D,) on the full map
    expected = torch.softmax(aff, 0).reshape(2 * R + 1, 2 * R + 1).numpy()
    np.testing.assert_allclose(result.weights, expected, atol=1e-6)
    assert (result.weights[:, :R] == 0).all()  # columns left of the image get no weight
    assert result.weights.sum() == pytest.approx(1.0, abs=1e-6)


def test_attention_follows_a_shift_and_respects_the_processed_size():
    h, w, R = 8, 8, 2
    query = one_hot_features(h, w)
    key = torch.roll(query, shifts=(1, -2), dims=(1, 2))  # content moves down 1, left 2 cells
    result = attention_map(query, key, (16, 16), 4, R)
    assert result.query_cell == (4, 4) and result.peak_cell == (2, 5)
    # frames of 64x64 embedded at 32x32: pixel 33 -> processed 16 -> cell 4
    big = attention_map(query, key, (33, 33), 4, R, image_size=(64, 64), proc_size=(32, 32))
    assert big.query_cell == (4, 4) and big.peak_cell == (2, 5)
    assert big.heatmap.shape == (64, 64)
    assert pixel_to_cell(big.peak_pixel, 4, (h, w), (64, 64), (32, 32)) == (2, 5)


def test_attention_over_several_frames_and_chained():
    h, w, R = 8, 10, 2
    feats = one_hot_features(h, w)
    keys = torch.stack([torch.roll(feats, 1, dims=2), feats, torch.roll(feats, -1, dims=1)])
    maps = attention_maps(feats, keys, (12, 12), 4, R)  # query cell (3, 3)
    assert len(maps) == 3
    assert sum(m.weights.sum() for m in maps) == pytest.approx(1.0, abs=1e-6)
    peaks = [m.weights.max() for m in maps]
    assert all(p == pytest.approx(peaks[0]) for p in peaks)  # each frame holds one match
    assert [m.peak_cell for m in maps] == [(4, 3), (3, 3), (3, 2)]
    # a feature map that moves right by one cell per frame is followed cell by cell
    video = torch.stack([torch.roll(feats, t, dims=2) for t in range(4)])
    track = chained_attention_maps(video, (8, 20), 4, R)
    assert [m.query_cell for m in track] == [(2, 5), (3, 5), (4, 5)]
    assert [m.peak_cell for m in track] == [(3, 5), (4, 5), (5, 5)]
    with pytest.raises(ValueError, match='T >= 2'):
        chained_attention_maps(video[:1], (0, 0), 4, R)


# ----------------------------------------------------------------------------- keypoints

def test_keypoint_trails():
    frames = np.zeros((4, 40, 50, 3), dtype=np.uint8)
    points = np.array([[[5 + 10 * t, 20], [np.nan, np.nan]] for t in range(4)], dtype=float)
    out = draw_keypoint_trails(frames, points, tail=2, radius=2)
    assert out.shape == frames.shape and out.dtype == np.uint8
    assert not frames.any()  # inputs untouched
    colour = joint_colours(2)[0]
    for t in range(4):
        assert np.array_equal(out[t, 20, 5 + 10 * t], colour)
    assert out[3, 20, 22].any()  # the trail from frame 1 (x=15) to 3 (x=35) passes x=22
    assert not out[3, 20, 8].any()  # frame 0 (x=5) is older than the 2-frame tail
    assert not out[0, :, 20:].any()  # nothing drawn for the unknown joint
    with pytest.raises(ValueError, match='keypoints'):
        draw_keypoint_trails(frames, points[:3])


# ----------------------------------------------------------------------------- writers

def test_write_video_decodes_back(tmp_path):
    frames = frames_of(5, 25, 33)  # odd sizes are padded, not cropped
    path = tmp_path / 'sub' / 'clip.mp4'
    assert write_video(path, frames, fps=5) == 5
    assert count_video_frames(path) == 5
    cap = cv2.VideoCapture(str(path))
    ok, first = cap.read()
    cap.release()
    assert ok and first.shape == (26, 34, 3)
    with pytest.raises(ValueError, match='one size'):
        write_video(tmp_path / 'bad.mp4', [frames[0], frames[1, :-1]], fps=5)


def test_write_gif_and_pngs_and_read_frames(tmp_path):
    frames = frames_of(4, 20, 30, seed=3)
    path = tmp_path / 'anim.gif'
    assert write_gif(path, frames, fps=5) == 4
    with Image.open(path) as gif:
        assert gif.n_frames == 4 and gif.info.get('loop') == 0
        assert gif.info.get('duration') == 200 and gif.size == (30, 20)
    paths = write_images(tmp_path / 'pngs', frames)
    assert [p[-9:] for p in paths] == ['00000.png', '00001.png', '00002.png', '00003.png']
    read, names = read_frames(tmp_path / 'pngs', indices=[2, 0])
    assert names == ['00002', '00000'] and np.array_equal(read[0], frames[2])
    write_video(tmp_path / 'v.mp4', frames, fps=5)
    video, names = read_frames(tmp_path / 'v.mp4', max_frames=3)
    assert len(video) == 3 and names == ['00000', '00001', '00002']
    assert video[0].shape == (20, 30, 3)
    with pytest.raises(DataError, match='out of range'):
        read_frames(tmp_path / 'v.mp4', indices=[7])
    with pytest.raises(DataError, match='does not exist'):
        read_frames(tmp_path / 'missing')
