from pathlib import Path

import pytest
import torch

from corrflow.datasets import KineticsClips
from corrflow.datasets.kinetics import NumberedFramePaths, read_frame_count_list
from corrflow.datasets.video_io import DataError
from corrflow.registry import DATASETS

CLIP_PIPELINE = [dict(type='LoadClipFrames'), dict(type='ResizeClip', size=(64, 64)),
                 dict(type='QuantiseColour'), dict(type='PackClipInputs')]


def kinetics_names(n: int) -> list[str]:
    return [f'image_{i:05d}.jpg' for i in range(1, n + 1)]


@pytest.fixture
def kinetics_root(tmp_path: Path, write_frames) -> Path:
    """21 + 9 + 8 frames: 2 clips, 1 clip, too short (stride 4, clips of 3)."""
    write_frames(tmp_path / 'frames' / 'abseiling' / 'vid_a', kinetics_names(21))
    write_frames(tmp_path / 'frames' / 'juggling' / 'vid_b', kinetics_names(9))
    write_frames(tmp_path / 'frames' / 'juggling' / 'short', kinetics_names(8))
    (tmp_path / 'train.csv').write_text(
        'abseiling/vid_a,21\njuggling/vid_b,9\n\njuggling/short,8\n')
    return tmp_path


def build(root: Path, **kwargs) -> KineticsClips:
    cfg = dict(type='KineticsClips', data_root=str(root), ann_file='train.csv',
               data_prefix=dict(img='frames/'), pipeline=CLIP_PIPELINE)
    cfg.update(kwargs)
    return DATASETS.build(cfg)


def test_clips_and_frame_indices(kinetics_root: Path):
    ds = build(kinetics_root)
    assert len(ds) == 3
    assert ds.num_skipped_videos == 1
    infos = [ds.get_data_info(i) for i in range(3)]
    assert [info['video'] for info in infos] == ['abseiling/vid_a'] * 2 + ['juggling/vid_b']
    assert [info['frame_indices'] for info in infos] == [[0, 4, 8], [12, 16, 20], [0, 4, 8]]
    # frame index 0 is image_00001.jpg
    assert [Path(p).name for p in infos[1]['frame_paths']] == [
        'image_00013.jpg', 'image_00017.jpg', 'image_00021.jpg']
    assert all(Path(p).is_file() for info in infos for p in info['frame_paths'])


def test_pipeline_output(kinetics_root: Path):
    sample = build(kinetics_root)[0]
    assert sample['inputs'].dtype == torch.uint8
    assert sample['inputs'].shape == (3, 3, 64, 64)
    labels = sample['data_samples']['colour_labels']
    assert labels.shape == (3, 64, 64)
    assert int(labels.max()) < 16
    assert sample['data_samples']['frame_indices'] == [0, 4, 8]


def test_missing_video_names_list_and_entry(kinetics_root: Path):
    with open(kinetics_root / 'train.csv', 'a') as f:
        f.write('juggling/not_extracted,30\n')
    with pytest.raises(DataError) as err:
        build(kinetics_root)
    msg = str(err.value)
    assert str(kinetics_root / 'train.csv') in msg
    assert 'juggling/not_extracted' in msg and 'line 5' in msg


def test_malformed_line(kinetics_root: Path):
    (kinetics_root / 'bad.csv').write_text('abseiling/vid_a,21\nabseiling/vid_a 21\n')
    with pytest.raises(DataError, match='bad.csv line 2'):
        build(kinetics_root, ann_file='bad.csv')


def test_corrupt_frame_named_when_loaded(kinetics_root: Path):
    bad = kinetics_root / 'frames' / 'abseiling' / 'vid_a' / 'image_00005.jpg'
    bad.write_bytes(b'\xff\xd8\xff\xe0 not really a jpeg')
    ds = build(kinetics_root)  # building does not read frames
    with pytest.raises(DataError, match='image_00005.jpg'):
        ds[0]
    assert ds[1]['inputs'].shape == (3, 3, 64, 64)  # other clips still load


def test_custom_template_and_stride(tmp_path: Path, write_frames):
    write_frames(tmp_path / 'v', [f'img_{i:03d}.png' for i in range(12)])
    (tmp_path / 'list.csv').write_text('v,12\n')
    ds = KineticsClips(ann_file=str(tmp_path / 'list.csv'), data_prefix=dict(img=str(tmp_path)),
                       filename_tmpl='img_{:03d}.png', start_index=0, frame_stride=2)
    assert len(ds) == 2  # clips span 5 frames and start 6 apart
    assert Path(ds.get_data_info(1)['frame_paths'][2]).name == 'img_010.png'


def test_requires_ann_file():
    with pytest.raises(ValueError, match='ann_file'):
        KineticsClips()


def test_numbered_frame_paths():
    paths = NumberedFramePaths('/d', 'image_{:05d}.jpg', 3, first=1)
    assert len(paths) == 3
    assert paths[0] == '/d/image_00001.jpg' and paths[-1] == '/d/image_00003.jpg'
    assert paths[1:] == ['/d/image_00002.jpg', '/d/image_00003.jpg']
    assert list(paths) == ['/d/image_00001.jpg', '/d/image_00002.jpg', '/d/image_00003.jpg']
    with pytest.raises(IndexError):
        paths[3]


def test_read_frame_count_list(tmp_path: Path):
    path = tmp_path / 'l.csv'
    path.write_text('# comment\na/b , 12\n\nc,0\n')
    assert read_frame_count_list(str(path)) == [(2, 'a/b', 12), (4, 'c', 0)]
    with pytest.raises(DataError, match='does not exist'):
        read_frame_count_list(str(tmp_path / 'none.csv'))
    path.write_text('a,-3\n')
    with pytest.raises(DataError, match='line 1'):
        read_frame_count_list(str(path))
