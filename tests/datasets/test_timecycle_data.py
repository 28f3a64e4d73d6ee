"""TimeCycle training data: sample pattern, datasets, shared crop/flip, target patch."""
from __future__ import annotations

import math
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from corrflow.datasets import (PackClipInputs, RandomCropClip, RandomFlipClip, TimeCyclePattern,
                               TimeCyclePatch, TimeCycleVideoFolder, VLOGClips)
from corrflow.datasets.transforms.timecycle_transforms import (patch_affine, window_centres,
                                                               window_motion, window_offsets)
from corrflow.datasets.video_io import DataError
from corrflow.datasets.vlog import read_path_count_list
from corrflow.engine.random_state import PositionSeededDataset
from corrflow.registry import DATASETS
from corrflow.errors import ConfigError

TIMECYCLE_PIPELINE = [
    dict(type='LoadClipFrames'),
    dict(type='RescaleClip', short_side=256),
    dict(type='RandomCropClip', size=(240, 240)),
    dict(type='RandomFlipClip', prob=0.5),
    dict(type='TimeCyclePatch'),
    dict(type='PackClipInputs'),
]


def vlog_names(n: int) -> list[str]:
    return [f'{i:06d}.jpg' for i in range(1, n + 1)]


@pytest.fixture
def vlog_root(tmp_path: Path, write_frames) -> Path:
    """40 + 18 + 17 frames: 2 samples, 1 sample, too short (a sample spans 18)."""
    write_frames(tmp_path / 'frames' / 'v' / 'a', vlog_names(40))
    write_frames(tmp_path / 'frames' / 'v' / 'b', vlog_names(18))
    write_frames(tmp_path / 'frames' / 'short', vlog_names(17))
    (tmp_path / 'vlog_frames_12fps.txt').write_text('v/a/ 40\nv/b 18\n\n# a comment\nshort 17\n')
    return tmp_path


def build_vlog(root: Path, **kwargs) -> VLOGClips:
    cfg = dict(type='VLOGClips', data_root=str(root), ann_file='vlog_frames_12fps.txt',
               data_prefix=dict(img='frames'), pipeline=[])
    cfg.update(kwargs)
    return DATASETS.build(cfg)


# --- the sample pattern --------------------------------------------------------------------

def test_pattern_offsets():
    pattern = TimeCyclePattern()
    assert pattern.offsets == [0, 2, 4, 6, 15, 17]
    assert pattern.num_motion_frames == 1
    assert TimeCyclePattern(motion_gap=None).offsets == [0, 2, 4, 6, 15]
    assert TimeCyclePattern(motion_gap=-2).offsets == [0, 2, 4, 6, 15, 13]
    assert TimeCyclePattern(3, 4, 10, None).offsets == [0, 4, 8, 10]
    # 30 fps source for 12 fps offsets: nearest frames of 0, 1/6, ... seconds
    assert pattern.scaled_offsets(2.5) == [0, 5, 10, 15, 38, 43]
    assert pattern.scaled_offsets(1.0) == pattern.offsets


@pytest.mark.parametrize('kwargs, message', [
    (dict(num_base_frames=0), 'num_base_frames'),
    (dict(base_gap=0), 'base_gap'),
    (dict(target_distance=6), 'target_distance'),
    (dict(motion_gap=0), 'motion_gap'),
    (dict(motion_gap=-16), 'motion_gap'),
])
def test_pattern_rejects_bad_distances(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        TimeCyclePattern(**kwargs)


# --- VLOGClips ---------------------------------------------------------------------------------

def test_vlog_index_pattern_and_short_videos(vlog_root: Path, log_records):
    ds = build_vlog(vlog_root)
    assert len(ds) == 3
    infos = [ds.get_data_info(i) for i in range(3)]
    assert [info['video'] for info in infos] == ['v/a/', 'v/a/', 'v/b']
    assert [info['frame_indices'] for info in infos] == [
        [0, 2, 4, 6, 15, 17], [18, 20, 22, 24, 33, 35], [0, 2, 4, 6, 15, 17]]
    assert all(info['num_motion_frames'] == 1 for info in infos)
    # frame index 0 is 000001.jpg
    assert [Path(p).name for p in infos[1]['frame_paths']] == [
        '000019.jpg', '000021.jpg', '000023.jpg', '000025.jpg', '000034.jpg', '000036.jpg']
    assert all(Path(p).is_file() for info in infos for p in info['frame_paths'])
    assert ds.num_skipped_videos == 1
    warnings = [r.getMessage() for r in log_records if r.levelname == 'WARNING']
    assert len(warnings) == 1
    assert 'skipped 1 of 3 videos' in warnings[0] and 'short (17 frames' in warnings[0]


def test_vlog_custom_pattern(vlog_root: Path):
    ds = build_vlog(vlog_root, num_base_frames=2, base_gap=3, target_distance=8,
                    motion_gap=None)
    first = ds.get_data_info(0)
    assert first['frame_indices'] == [0, 3, 8] and first['num_motion_frames'] == 0
    assert [ds.get_data_info(i)['frame_indices'][0] for i in range(4)] == [0, 9, 18, 27]


def test_vlog_no_video_long_enough(vlog_root: Path):
    (vlog_root / 'short.txt').write_text('short 17\nv/b 18\n')
    with pytest.raises(DataError, match=r'none of the 2 videos is long enough.*'
                                         r'a clip needs 27'):
        build_vlog(vlog_root, ann_file='short.txt', target_distance=24)


def test_vlog_bad_line_names_file_and_line(vlog_root: Path):
    (vlog_root / 'bad.txt').write_text('v/a 40\nv/b,18\n')
    with pytest.raises(DataError) as err:
        build_vlog(vlog_root, ann_file='bad.txt')
    msg = str(err.value)
    assert str(vlog_root / 'bad.txt') in msg and 'line 2' in msg and "'v/b,18'" in msg


def test_vlog_missing_folder_and_empty_list(vlog_root: Path):
    (vlog_root / 'missing.txt').write_text('v/a 40\nv/not_extracted 30\n')
    with pytest.raises(DataError, match=r'missing.txt: 1 of 2 listed videos have no frame '
                                        r'folder: line 2: v/not_extracted'):
        build_vlog(vlog_root, ann_file='missing.txt')
    (vlog_root / 'empty.txt').write_text('# nothing\n\n')
    with pytest.raises(DataError, match='empty.txt lists no videos'):
        build_vlog(vlog_root, ann_file='empty.txt')


def test_vlog_config_errors(vlog_root: Path):
    with pytest.raises(ConfigError, match='ann_file'):
        VLOGClips()
    with pytest.raises(ConfigError, match='takes no clip_length'):
        build_vlog(vlog_root, clip_length=5)


def test_read_path_count_list(tmp_path: Path):
    path = tmp_path / 'l.txt'
    path.write_text('# comment\n/abs/folder/ 12\n\nwith space/x\t0\n')
    assert read_path_count_list(str(path)) == [(2, '/abs/folder/', 12), (4, 'with space/x', 0)]
    for bad in ('a -3\n', 'a\n', 'a 1.5\n', 'a 12x\n'):
        path.write_text('b 4\n' + bad)
        with pytest.raises(DataError, match=r'l.txt line 2: expected'):
            read_path_count_list(str(path))
    with pytest.raises(DataError, match='does not exist'):
        read_path_count_list(str(tmp_path / 'none.txt'))


# --- TimeCycleVideoFolder ----------------------------------------------------------------------

def test_video_folder_pattern_at_target_fps(tmp_path: Path, write_video, write_frames):
    root = tmp_path / 'videos'
    write_video(root / 'a.mp4', 50, fps=30)  # 12 fps offsets -> 0 5 10 15 38 43
    write_video(root / 'b.mp4', 40, fps=24)  # -> 0 4 8 12 30 34
    write_video(root / 'short.mp4', 20, fps=30)
    write_frames(root / 'frames_x', [f'{i}.png' for i in range(1, 21)])
    ds = TimeCycleVideoFolder(data_root=str(root), frames_fps=12.0, pipeline=[])
    clips = [(info['video'], info['frame_indices'])
             for info in (ds.get_data_info(i) for i in range(len(ds)))]
    assert clips == [('a.mp4', [0, 5, 10, 15, 38, 43]), ('b.mp4', [0, 4, 8, 12, 30, 34]),
                     ('frames_x', [0, 2, 4, 6, 15, 17])]
    assert ds.num_skipped_videos == 1
    assert ds.get_data_info(0)['num_motion_frames'] == 1
    with pytest.raises(ConfigError, match='takes no frame_stride'):
        TimeCycleVideoFolder(data_root=str(root), frame_stride=2)


def test_video_folder_samples_decode(tmp_path: Path, write_video):
    root = tmp_path / 'videos'
    write_video(root / 'a.mp4', 50, fps=30, size=(320, 256))
    ds = TimeCycleVideoFolder(data_root=str(root), pipeline=TIMECYCLE_PIPELINE)
    sample = ds[0]
    assert sample['inputs'].shape == (5, 3, 240, 240)
    assert sample['data_samples']['frame_indices'] == [0, 5, 10, 15, 38]
    grey = [float(np.median(sample['inputs'][t, 0, 200:, :].numpy())) for t in range(5)]
    assert grey == pytest.approx([0, 40, 80, 120, 304 % 256], abs=6)  # frame i: 8 i mod 256


# --- shared crop and flip ----------------------------------------------------------------------

def coordinate_frames(num: int, height: int, width: int) -> list[np.ndarray]:
    """Frames whose pixels encode (frame, row, column) in their three channels."""
    rows, cols = np.mgrid[:height, :width]
    return [np.stack([np.full_like(rows, t), rows, cols], -1).astype(np.uint8) for t in range(num)]


def test_crop_and_flip_shared_by_all_frames():
    frames = coordinate_frames(6, 250, 256)
    crop, flip = RandomCropClip(size=(240, 240)), RandomFlipClip(prob=0.5)
    seen_flips = set()
    for seed in range(12):
        np.random.seed(seed)
        out = flip(crop(dict(frames=list(frames))))
        x0, y0, x1, y1 = out['crop_box']
        seen_flips.add(out['flip'])
        for t, frame in enumerate(out['frames']):
            expected = frames[t][y0:y1, x0:x1]
            if out['flip']:
                expected = expected[:, ::-1]
            assert frame.shape == (240, 240, 3)
            np.testing.assert_array_equal(frame, expected)
    assert seen_flips == {True, False}
    assert RandomFlipClip(prob=0.0)(dict(frames=list(frames)))['flip'] is False
    assert RandomFlipClip(prob=1.0)(dict(frames=list(frames)))['flip'] is True
    with pytest.raises(ConfigError, match='prob'):
        RandomFlipClip(prob=1.5)


# --- motion-based window choice ----------------------------------------------------------------

def test_window_motion_matches_brute_force():
    rng = np.random.default_rng(0)
    frame = rng.integers(0, 256, (60, 60, 3), dtype=np.uint8)
    refs = [rng.integers(0, 256, (60, 60, 3), dtype=np.uint8) for _ in range(2)]
    offsets = window_offsets(60, 20, 5)
    assert offsets.tolist() == [0, 10, 20, 30, 40]
    scores = window_motion(frame, refs, offsets, 20)
    diff = sum(np.abs(frame.astype(int) - r.astype(int)).sum(2) for r in refs)
    for r, y in enumerate(offsets):
        for c, x in enumerate(offsets):
            assert scores[r, c] == diff[y:y + 20, x:x + 20].sum()


def moving_region_clip(rng: np.random.Generator) -> list[np.ndarray]:
    """4 base frames, a target and a motion frame; only x 150..230, y 10..90 changes."""
    background = rng.integers(0, 256, (240, 240, 3), dtype=np.uint8)
    frames = [background.copy() for _ in range(6)]
    for t, frame in enumerate(frames):
        frame[10:90, 150:230] = rng.integers(0, 256, (80, 80, 3), dtype=np.uint8)
        frame[0, 0] = t  # mark the frame
    return frames


def overlaps_region(box: tuple[int, int, int, int]) -> bool:
    x0, y0, x1, y1 = box
    return x0 < 230 and x1 > 150 and y0 < 90 and y1 > 10


def test_patch_chosen_where_the_target_moves():
    rng = np.random.default_rng(1)
    patch = TimeCyclePatch()
    windows = set()
    for seed in range(30):
        frames = moving_region_clip(rng)
        np.random.seed(seed)
        out = patch(dict(frames=frames, num_motion_frames=1,
                         frame_indices=[0, 2, 4, 6, 15, 17], frame_paths=list('abcdef')))
        assert overlaps_region(out['patch_window'])
        windows.add(out['patch_window'])
        # the motion frame is dropped: the target frame is last
        assert len(out['frames']) == 5 and out['frames'][-1][0, 0, 0] == 4
        assert out['frame_indices'] == [0, 2, 4, 6, 15]
        assert out['frame_paths'] == list('abcde')
        assert out['motion_frame_indices'] == [17] and out['num_motion_frames'] == 0
        assert -45 <= out['patch_angle'] <= 45
    assert len(windows) > 3  # drawn among the 10 best, not always the best


def test_patch_without_motion_frame_uses_previous_frame():
    rng = np.random.default_rng(2)
    frames = moving_region_clip(rng)[:5]
    frames[3][10:90, 150:230] = frames[4][10:90, 150:230]  # no change from frame 3 to 4 here
    frames[3][150:230, 10:90] = 0  # ... but there
    for seed in range(10):
        np.random.seed(seed)
        out = TimeCyclePatch(num_candidates=1)(dict(frames=list(frames)))
        assert out['patch_window'] == (0, 160, 80, 240)
        assert len(out['frames']) == 5


def test_static_clip_and_bad_frames():
    frames = [np.zeros((240, 240, 3), np.uint8)] * 6
    out = TimeCyclePatch()(dict(frames=frames, num_motion_frames=1))
    assert out['patch_theta'].shape == (2, 3)
    with pytest.raises(ConfigError, match='square frames'):
        TimeCyclePatch()(dict(frames=[np.zeros((240, 256, 3), np.uint8)] * 6,
                              num_motion_frames=1, video='vid'))
    with pytest.raises(ConfigError, match='base frames and a target frame'):
        TimeCyclePatch()(dict(frames=frames[:2], num_motion_frames=1))
    with pytest.raises(ConfigError, match='scale'):
        TimeCyclePatch(scale=0)


# --- the affine convention ---------------------------------------------------------------------

def sample_patch(image: np.ndarray, theta: np.ndarray, size: int) -> np.ndarray:
    """(H, W, C) image sampled with theta as the documented affine_grid / grid_sample call."""
    inp = torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1))).double()[None]
    grid = F.affine_grid(torch.from_numpy(theta).double()[None], (1, inp.shape[1], size, size),
                         align_corners=True)
    return F.grid_sample(inp, grid, align_corners=True)[0].numpy().transpose(1, 2, 0)


def smooth_image(seed: int) -> np.ndarray:
    """(240, 240, 3) float image of random colours varying over about 10 pixels."""
    small = np.random.default_rng(seed).integers(0, 256, (24, 24, 3), dtype=np.uint8)
    return cv2.resize(small, (240, 240), interpolation=cv2.INTER_CUBIC).astype(np.float64)


def pixel_coordinates(size: int) -> np.ndarray:
    """(S, S, 2) float image whose pixels hold their own (x, y); bilinear sampling is exact."""
    rows, cols = np.mgrid[:size, :size].astype(np.float64)
    return np.stack([cols, rows], -1)


@pytest.mark.parametrize('grid_row, grid_col', [(0, 0), (3, 3), (6, 6), (1, 5), (6, 2)])
def test_theta_samples_the_window_and_its_rotation(grid_row: int, grid_col: int):
    coords = pixel_coordinates(240)
    offsets = window_offsets(240, 80, 7)
    centres = window_centres(7, 1 / 3)
    x0, y0 = offsets[grid_col], offsets[grid_row]
    window = coords[y0:y0 + 80, x0:x0 + 80]  # (80, 80, 2): the pixels of the window
    # rotation 0: the patch is the window
    theta = patch_affine(centres[grid_col], centres[grid_row], 0.0, 1 / 3)
    assert theta.dtype == np.float32 and theta.shape == (2, 3)
    sampled = sample_patch(coords, theta, 80)
    assert np.abs(sampled - window).max() < 0.8
    assert sampled.min() >= 0 and sampled.max() <= 239  # never leaves the frame
    # ... and so, on an image, the pixel crop up to interpolation (a 3 px shift costs ~30)
    image = smooth_image(grid_row * 7 + grid_col)
    crop = image[y0:y0 + 80, x0:x0 + 80]
    assert np.abs(sample_patch(image, theta, 80) - crop).mean() < 8
    # rotation 90 degrees: the window turned counter-clockwise on screen
    theta = patch_affine(centres[grid_col], centres[grid_row], math.pi / 2, 1 / 3)
    assert np.abs(sample_patch(coords, theta, 80) - np.rot90(window)).max() < 0.8
    assert np.abs(sample_patch(image, theta, 80) - np.rot90(crop)).mean() < 8


def test_transform_theta_matches_its_window_and_angle():
    rng = np.random.default_rng(3)
    image = smooth_image(3)
    coords = pixel_coordinates(240)
    for seed in range(10):
        frames = moving_region_clip(rng)
        np.random.seed(seed)
        out = TimeCyclePatch()(dict(frames=frames, num_motion_frames=1))
        theta, angle = out['patch_theta'], math.radians(out['patch_angle'])
        np.testing.assert_allclose(theta[:, :2], np.array(
            [[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]]) / 3,
            atol=1e-6)
        # the patch turned back by -angle is the window
        x0, y0, x1, y1 = out['patch_window']
        unturned = patch_affine(float(theta[0, 2]), float(theta[1, 2]), 0.0, 1 / 3)
        assert np.abs(sample_patch(coords, unturned, 80) - coords[y0:y1, x0:x1]).max() < 0.8
        # on a smooth image, sampling with the unrotated theta equals the pixel crop
        patch = sample_patch(image, unturned, 80)
        assert np.abs(patch - image[y0:y1, x0:x1]).mean() < 8
    shifted = TimeCyclePatch(max_rotation=0, max_shift=13.0)
    for seed in range(10):
        np.random.seed(seed)
        out = shifted(dict(frames=moving_region_clip(rng), num_motion_frames=1))
        x0, y0, _, _ = out['patch_window']
        centre = (out['patch_theta'][:, 2] + 1) * 239 / 2 - 39.5  # top-left pixel, unshifted
        assert np.all(np.abs(centre - (x0, y0)) <= 13.0 + 0.45)
        assert np.all(np.abs(out['patch_theta'][:, 2]) <= 2 / 3 + 1e-6)


# --- the whole pipeline ------------------------------------------------------------------------

@pytest.fixture
def vlog_large(tmp_path: Path) -> Path:
    """One VLOG video of 20 frames at 320 x 270 whose grey level encodes the frame index."""
    folder = tmp_path / 'frames' / 'v'
    folder.mkdir(parents=True)
    texture = np.random.default_rng(4).integers(0, 256, (270, 320, 3), dtype=np.uint8)
    for i in range(20):
        img = texture // 4
        img[:, :, 0] = 10 * i
        assert cv2.imwrite(str(folder / f'{i + 1:06d}.jpg'), img)
    (tmp_path / 'vlog_frames_12fps.txt').write_text('v 20\n')
    return tmp_path


def test_whole_pipeline(vlog_large: Path):
    ds = build_vlog(vlog_large, pipeline=TIMECYCLE_PIPELINE)
    assert len(ds) == 1
    sample = ds[0]
    inputs, data_sample = sample['inputs'], sample['data_samples']
    assert inputs.dtype == torch.uint8 and inputs.shape == (5, 3, 240, 240)
    theta = data_sample['patch_theta']
    assert isinstance(theta, torch.Tensor) and theta.dtype == torch.float32
    assert theta.shape == (2, 3)
    assert data_sample['frame_indices'] == [0, 2, 4, 6, 15]
    assert data_sample['video'] == 'v' and data_sample['img_shape'] == (240, 240)
    # frames in temporal order, the target last (blue = 10 * index; frames are BGR on disk)
    blue = [float(inputs[t, 2].float().median()) for t in range(5)]
    assert blue == pytest.approx([0, 20, 40, 60, 150], abs=4)
    # the model's sampling call works on the packed sample
    grid = F.affine_grid(theta[None], (1, 3, 80, 80), align_corners=True)
    patch = F.grid_sample(inputs[4:5].float(), grid, align_corners=True)
    assert patch.shape == (1, 3, 80, 80)


def test_pipeline_draws_follow_the_sample_seed(vlog_large: Path):
    ds = PositionSeededDataset(build_vlog(vlog_large, pipeline=TIMECYCLE_PIPELINE), seed=7)
    first, again = ds[(0, 3)], ds[(0, 3)]
    other = [ds[(0, p)]['data_samples']['patch_theta'] for p in range(4, 10)]
    assert torch.equal(first['inputs'], again['inputs'])
    assert torch.equal(first['data_samples']['patch_theta'],
                       again['data_samples']['patch_theta'])
    assert any(not torch.equal(first['data_samples']['patch_theta'], t) for t in other)


def test_pack_clip_inputs_without_patch_is_unchanged():
    frames = [np.zeros((4, 4, 3), np.uint8)] * 2
    sample = PackClipInputs()(dict(frames=frames, video='v'))
    assert 'patch_theta' not in sample['data_samples']
    assert sample['inputs'].shape == (2, 3, 4, 4)


# ---------------------------------------------------------------------------- RandomResizedCropClip
def test_random_resized_crop_is_shared_and_within_its_ranges():
    from corrflow.datasets.transforms import RandomResizedCropClip
    ys, xs = np.mgrid[0:180, 0:320]
    frame = np.stack([xs % 256, ys % 256, (xs + ys) % 256], axis=-1).astype(np.uint8)
    crop = RandomResizedCropClip(size=(64, 48), scale=(0.6, 1.0), ratio=(1.5, 2.0))
    np.random.seed(3)
    for _ in range(20):
        out = crop.transform(dict(frames=[frame, frame.copy()]))
        x0, y0, x1, y1 = out['crop_box']
        area = (x1 - x0) * (y1 - y0) / (320 * 180)
        assert 0.6 - 0.02 <= area <= 1.0 and 1.5 - 0.05 <= (x1 - x0) / (y1 - y0) <= 2.0 + 0.05
        assert out['frames'][0].shape == (48, 64, 3) and out['img_shape'] == (48, 64)
        np.testing.assert_array_equal(out['frames'][0], out['frames'][1])  # one window
        # the output is the window's pixels, resized: its corners hold the window's corners
        assert abs(int(out['frames'][0][0, 0, 0]) - x0 % 256) <= 3
    # a frame too narrow for every draw falls back to the largest centred window
    assert crop.window(100, 40) == (0, 36, 40, 27)  # width 40, height 40 / 1.5, centred
    square = RandomResizedCropClip(size=(64, 48), scale=(0.6, 1.0), ratio=(1.5, 2.0),
                                   attempts=20, fallback='square')
    assert square.window(100, 40) == (0, 30, 40, 40)  # Spa-then-Temp's fallback
    with pytest.raises(ConfigError, match='scale'):
        RandomResizedCropClip(scale=(0.0, 1.0))
