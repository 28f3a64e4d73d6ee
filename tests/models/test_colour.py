import cv2
import numpy as np
import pytest
import torch

from corrflow.datasets.transforms.clip_transforms import quantise_frames
from corrflow.models.layers.colour import (KINETICS_AB_CENTROIDS, lab_to_rgb, load_centroids,
                                           rgb_to_lab, save_centroids)


def test_centroids_are_the_published_numbers():
    c = load_centroids(None)
    assert c.shape == (16, 2)
    assert tuple(c[0].tolist()) == pytest.approx((10.2, -25.5))
    assert tuple(c[14].tolist()) == pytest.approx((54.3, -73.9))
    assert len(KINETICS_AB_CENTROIDS) == 16


def test_rgb_to_lab_matches_opencv_float():
    rng = np.random.default_rng(0)
    img = rng.random((3, 120, 130)).astype(np.float32)
    img[:, 0] = 0.0
    img[:, 1] = 1.0
    img[:, 2] = np.linspace(-0.2, 1.2, 130, dtype=np.float32)  # out-of-range is clipped
    img[:, 3] = rng.random((3, 130)).astype(np.float32) * 0.01  # dark (linear segment)
    ours = rgb_to_lab(torch.from_numpy(img)).numpy()
    ref = cv2.cvtColor(np.ascontiguousarray(img.transpose(1, 2, 0)), cv2.COLOR_RGB2Lab)
    np.testing.assert_allclose(ours.transpose(1, 2, 0), ref, atol=1e-3, rtol=0)


def test_rgb_to_lab_batched_and_channel_last():
    x = torch.rand(2, 3, 3, 8, 9)
    lab = rgb_to_lab(x)
    assert lab.shape == x.shape
    torch.testing.assert_close(rgb_to_lab(x[1, 2]), lab[1, 2])
    torch.testing.assert_close(rgb_to_lab(x[0, 0].permute(1, 2, 0), channel_dim=-1),
                               lab[0, 0].permute(1, 2, 0))


def test_lab_round_trip():
    x = torch.rand(3, 16, 16, dtype=torch.float64)
    # the interpolated forward conversion is within ~1e-2 Lab units of exact
    back = lab_to_rgb(rgb_to_lab(x).double())
    assert (back - x).abs().max() < 5e-3


def test_quantise_matches_bruteforce_and_pipeline():
    rng = np.random.default_rng(1)
    frames = [rng.integers(0, 256, (20, 24, 3), dtype=np.uint8) for _ in range(2)]
    centroids = load_centroids(None)
    labels = quantise_frames(frames, centroids.numpy())
    for frame, lab_map in zip(frames, labels):
        lab = cv2.cvtColor(frame.astype(np.float32) / 255.0, cv2.COLOR_RGB2Lab)
        dist = ((lab[..., None, 1:3] - centroids.numpy()[None, None]) ** 2).sum(-1)
        np.testing.assert_array_equal(lab_map, dist.argmin(-1))
        # the model's own Lab conversion (rgb_to_lab) gives the same classes
        rgb = torch.from_numpy(frame).permute(2, 0, 1).float() / 255.0
        ab = rgb_to_lab(rgb)[1:3].permute(1, 2, 0)  # (H, W, 2)
        near = ((ab[..., None, :] - centroids[None, None]) ** 2).sum(-1).argmin(-1)
        np.testing.assert_array_equal(near.numpy(), lab_map)


@pytest.mark.parametrize('ext', ['.npy', '.json'])
def test_centroid_files_round_trip(tmp_path, ext):
    values = np.arange(10, dtype=np.float32).reshape(5, 2)
    save_centroids(tmp_path / f'c{ext}', values)
    np.testing.assert_allclose(load_centroids(tmp_path / f'c{ext}').numpy(), values)


def test_quantised_samples_carry_their_centroids(tmp_path, quantised_batch):
    path = tmp_path / 'c20.npy'
    save_centroids(path, np.random.default_rng(0).uniform(-60, 60, (20, 2)))
    sample = quantised_batch(str(path), B=1)['data_samples'][0]
    np.testing.assert_array_equal(sample['colour_centroids'], load_centroids(path).numpy())
    assert sample['colour_centroids_source'] == str(path)
    assert int(sample['colour_labels'].max()) < 20
    builtin = quantised_batch(None, B=1)['data_samples'][0]
    assert builtin['colour_centroids'].shape == (16, 2)
    assert builtin['colour_centroids_source'] == 'None, the built-in 16 Kinetics centroids'


def test_bad_centroids_are_reported(tmp_path):
    with pytest.raises(FileNotFoundError, match='compute_centroids'):
        load_centroids(tmp_path / 'missing.npy')
    np.save(tmp_path / 'bad.npy', np.zeros((4, 3), np.float32))
    with pytest.raises(ValueError, match=r'\(K, 2\)'):
        load_centroids(tmp_path / 'bad.npy')
    (tmp_path / 'bad.json').write_text('not json')
    with pytest.raises(ValueError, match='could not be read'):
        load_centroids(tmp_path / 'bad.json')


def test_lookup_table_equals_direct_computation_on_every_colour_sample():
    """The 2^24 lookup table is the direct nearest-centroid rule, colour for colour."""
    from corrflow.datasets.transforms.clip_transforms import colour_lut, nearest_centroid
    centroids = load_centroids(None).numpy()
    lut = colour_lut(centroids)
    assert lut.shape == (1 << 24,) and lut.max() < len(centroids)
    rng = np.random.default_rng(5)
    rgb = rng.integers(0, 256, (200_000, 3), dtype=np.uint8)
    rgb[:8] = [[0, 0, 0], [255, 255, 255], [255, 0, 0], [0, 255, 0], [0, 0, 255],
               [128, 128, 128], [255, 255, 0], [0, 255, 255]]
    index = (rgb[:, 0].astype(np.int64) << 16) | (rgb[:, 1].astype(np.int64) << 8) | rgb[:, 2]
    np.testing.assert_array_equal(lut[index], nearest_centroid(rgb, centroids))
    # another centroid set gets its own table
    other = centroids[:5] + 1.0
    np.testing.assert_array_equal(colour_lut(other)[index], nearest_centroid(rgb, other))


def test_quantise_rejects_non_uint8_frames():
    with pytest.raises(ValueError, match='uint8 RGB'):
        quantise_frames([np.zeros((4, 4, 3), np.float32)], load_centroids(None).numpy())
