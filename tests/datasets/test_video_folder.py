from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
import torch

from corrflow.datasets import VideoFolder
from corrflow.datasets.video_io import DataError, read_image, read_video_frames
from corrflow.registry import DATASETS

CLIP_PIPELINE = [dict(type='LoadClipFrames'), dict(type='ResizeClip', size=(64, 64)),
                 dict(type='QuantiseColour'), dict(type='PackClipInputs')]


@pytest.fixture
def folder(tmp_path: Path, write_video, write_frames) -> Path:
    """a.mp4 (30 frames, 30 fps), sub/slow.mp4 (10 fps), a frame folder, junk."""
    root = tmp_path / 'videos'
    write_video(root / 'a.mp4', 30, fps=30)
    write_video(root / 'sub' / 'slow.mp4', 12, fps=10)
    write_video(root / 'sub' / 'short.mp4', 5, fps=30)
    write_frames(root / 'sub' / 'frames_x', [f'{i}.png' for i in range(1, 13)])
    (root / 'sub' / 'broken.mp4').write_bytes(b'\x00\x00\x00\x18ftypmp42 this is not a video')
    (root / 'notes.txt').write_text('not data')
    (root / '.hidden').mkdir()
    write_frames(root / '.hidden', ['0.png'])
    return root


def build(root: Path | None, **kwargs) -> VideoFolder:
    cfg = dict(type='VideoFolder', data_root=None if root is None else str(root),
               pipeline=CLIP_PIPELINE)
    cfg.update(kwargs)
    return DATASETS.build(cfg)


def test_scan_clips_and_strides(folder: Path, log_records):
    ds = build(folder)
    infos = [ds.get_data_info(i) for i in range(len(ds))]
    clips = [(info['video'], info['frame_indices']) for info in infos]
    # 30 fps -> stride 5; 10 fps -> stride 2; frame folders count as 30 fps
    assert clips == [('a.mp4', [0, 5, 10]), ('a.mp4', [15, 20, 25]),
                     ('sub/frames_x', [0, 5, 10]), ('sub/slow.mp4', [0, 2, 4]),
                     ('sub/slow.mp4', [6, 8, 10])]
    # frames of a folder are sorted naturally: 1, 2, ..., 12
    assert [Path(p).name for p in infos[2]['frame_paths']] == ['1.png', '6.png', '11.png']
    assert infos[0]['video_path'] == str(folder / 'a.mp4')
    assert ds.num_skipped_videos == 1  # short.mp4
    assert ds.num_undecodable_videos == 1 and ds.undecodable_videos == ['sub/broken.mp4']
    warnings = [r.getMessage() for r in log_records if r.levelname == 'WARNING']
    assert any('skipped 1 video files' in m and 'sub/broken.mp4' in m for m in warnings)
    assert any('short.mp4' in m for m in warnings)


def test_video_sample_decodes_the_right_frames(folder: Path):
    ds = build(folder)
    sample = ds[1]  # a.mp4 frames 15, 20, 25
    assert sample['inputs'].dtype == torch.uint8 and sample['inputs'].shape == (3, 3, 64, 64)
    assert sample['data_samples']['colour_labels'].shape == (3, 64, 64)
    frames = read_video_frames(folder / 'a.mp4', [15, 20, 25])
    grey = [float(np.median(f[30:, 40:])) for f in frames]  # the part without the corner
    assert grey == pytest.approx([120, 160, 200], abs=4)  # frame i has grey level 8 i
    frame_sample = ds[2]
    assert frame_sample['inputs'].shape == (3, 3, 64, 64)


def test_target_fps_none_uses_frame_stride(folder: Path):
    ds = build(folder, target_fps=None, frame_stride=4)
    a_clips = [ds.get_data_info(i)['frame_indices'] for i in range(len(ds))
               if ds.get_data_info(i)['video'] == 'a.mp4']
    assert a_clips == [[0, 4, 8], [12, 16, 20]]


def test_no_data_root_is_empty(log_records):
    ds = build(None)
    assert len(ds) == 0
    assert any('no data_root given' in r.getMessage() for r in log_records)


def test_ann_file(folder: Path):
    (folder / 'list.txt').write_text('# my videos\nsub/frames_x\n\na.mp4\n')
    ds = build(folder, ann_file='list.txt')
    assert [ds.get_data_info(i)['video'] for i in range(len(ds))] == [
        'sub/frames_x', 'a.mp4', 'a.mp4']


def test_ann_file_missing_entry(folder: Path):
    (folder / 'list.txt').write_text('a.mp4\nsub/frames_x\nsub/nope.mp4\n')
    with pytest.raises(DataError) as err:
        build(folder, ann_file='list.txt')
    msg = str(err.value)
    assert str(folder / 'list.txt') in msg and 'line 3' in msg and 'sub/nope.mp4' in msg


def test_ann_file_entry_without_data(folder: Path):
    (folder / 'empty_dir').mkdir()
    (folder / 'list.txt').write_text('a.mp4\nempty_dir\n')
    with pytest.raises(DataError) as err:
        build(folder, ann_file='list.txt')
    assert 'list.txt line 2' in str(err.value) and 'empty_dir' in str(err.value)
    (folder / 'list.txt').write_text('notes.txt\n')
    with pytest.raises(DataError, match='neither a video file'):
        build(folder, ann_file='list.txt')


def test_directory_with_nothing_usable(tmp_path: Path):
    root = tmp_path / 'nothing'
    (root / 'deeper').mkdir(parents=True)
    (root / 'readme.txt').write_text('no videos here')
    (root / 'deeper' / 'broken.mkv').write_bytes(b'junk')
    with pytest.raises(DataError) as err:
        build(root)
    assert str(root) in str(err.value) and '1 undecodable' in str(err.value)
    with pytest.raises(DataError, match='does not exist'):
        build(tmp_path / 'absent')


def test_real_videos(shared_data: Path):
    root = shared_data / 'raw-videos'
    if not root.is_dir():
        pytest.skip(f'{root} not found')
    ds = build(root)
    videos = {ds.get_data_info(i)['video'] for i in range(len(ds))}
    assert len(videos) == 11 and ds.num_undecodable_videos == 0
    # co-tracker/ also holds apple_mask.png: a one-frame 'frame folder', skipped as short
    assert ds.num_skipped_videos == 1
    # apple.mp4 is 10 fps (stride 2), bedroom.mp4 30 fps (stride 5)
    by_video = {}
    for i in range(len(ds)):
        info = ds.get_data_info(i)
        by_video.setdefault(info['video'], []).append((i, info['frame_indices']))
    assert by_video['co-tracker/apple.mp4'][0][1] == [0, 2, 4]
    assert by_video['sam2/bedroom.mp4'][0][1] == [0, 5, 10]
    sample = ds[by_video['cutie/example.mp4'][0][0]]
    assert sample['inputs'].shape == (3, 3, 64, 64)
    assert len(np.unique(sample['data_samples']['colour_labels'].numpy())) > 1
    # pillow.mp4's container claims 149 frames, 147 decode: the exact count keeps its last
    # clip loadable
    last_index, last_frames = by_video['co-tracker/pillow.mp4'][-1]
    assert last_frames[-1] < 147
    assert ds[last_index]['inputs'].shape == (3, 3, 64, 64)


def load_extract_frames():
    """tools/data/extract_frames.py as a module."""
    spec = importlib.util.spec_from_file_location(
        'extract_frames', Path(__file__).resolve().parents[2] / 'tools' / 'data' /
        'extract_frames.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def frames_at_10_fps(tmp_path: Path, write_video) -> Path:
    """tools/data/extract_frames.py output at 10 fps of a 30 fps video of 45 frames."""
    write_video(tmp_path / 'src' / 'walk.mp4', 45, fps=30)
    dst = tmp_path / 'frames'
    assert load_extract_frames().main([str(tmp_path / 'src'), str(dst), '--fps', '10',
                                       '--short-side', '0', '--workers', '1']) == 0
    return dst


def test_extracted_frames_are_sampled_at_their_recorded_rate(frames_at_10_fps: Path,
                                                             log_records):
    ds = build(frames_at_10_fps, target_fps=5.0)
    clips = [ds.get_data_info(i)['frame_indices'] for i in range(len(ds))]
    # 15 frames at 10 fps, sampled at 5 fps: stride 2 (a 30 fps guess would give stride 6)
    assert clips == [[0, 2, 4], [6, 8, 10]]
    # stored frame j is source frame 3 j: the clip spans source frames 0, 6, 12 (5 fps of 30)
    grey = [float(np.median(read_image(p)[30:, 40:]))
            for p in ds.get_data_info(0)['frame_paths']]
    assert grey == pytest.approx([0, 48, 96], abs=4)
    assert not any('record no frame rate' in r.getMessage() for r in log_records)
    assert [ds.get_data_info(i)['frame_indices'] for i in range(len(build(
        frames_at_10_fps, target_fps=5.0, frames_fps=10.0)))] == clips  # an agreeing rate


def test_frames_fps_contradicting_a_recorded_rate_is_refused(frames_at_10_fps: Path):
    with pytest.raises(DataError) as err:
        build(frames_at_10_fps, frames_fps=24.0)
    message = str(err.value)
    assert 'frames_fps=24' in message and '10 fps recorded' in message
    assert str(frames_at_10_fps / 'walk' / '.done') in message and 'remove frames_fps' in message


def test_unrecorded_frame_folders_count_as_30_fps_and_say_so(folder: Path, log_records):
    build(folder)
    notes = [r.getMessage() for r in log_records if 'record no frame rate' in r.getMessage()]
    assert len(notes) == 1 and 'count as 30 fps' in notes[0] and 'sub/frames_x' in notes[0]
    log_records.clear()
    ds = build(folder, frames_fps=10.0)  # stated for the folders that record none
    assert not any('record no frame rate' in r.getMessage() for r in log_records)
    frames_x = [ds.get_data_info(i)['frame_indices'] for i in range(len(ds))
                if ds.get_data_info(i)['video'] == 'sub/frames_x']
    assert frames_x == [[0, 2, 4], [6, 8, 10]]
