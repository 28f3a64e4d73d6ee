import json
from pathlib import Path

import pytest
import torch

from corrflow.datasets import YouTubeVOSClips
from corrflow.datasets.video_io import DataError
from corrflow.registry import DATASETS

CLIP_PIPELINE = [dict(type='LoadClipFrames'), dict(type='ResizeClip', size=(64, 64)),
                 dict(type='QuantiseColour'), dict(type='PackClipInputs')]

NAMES = [f'{5 * i:05d}' for i in range(7)]  # YouTube-VOS train: every 5th raw frame


@pytest.fixture
def ytvos_root(tmp_path: Path, write_frames) -> Path:
    write_frames(tmp_path / 'train' / 'JPEGImages' / '003234408d', [n + '.jpg' for n in NAMES])
    write_frames(tmp_path / 'train' / 'JPEGImages' / '0043f083b5', [n + '.jpg' for n in NAMES[:2]])
    (tmp_path / 'train' / 'frames.json').write_text(
        json.dumps({'003234408d': NAMES, '0043f083b5': NAMES[:2]}))
    meta = {'videos': {
        '003234408d': {'objects': {
            '1': {'category': 'penguin', 'frames': NAMES[:5]},
            '2': {'category': 'penguin', 'frames': NAMES[3:]}}},
        '0043f083b5': {'objects': {'1': {'category': 'bus', 'frames': NAMES[:2]}}}}}
    (tmp_path / 'train' / 'meta.json').write_text(json.dumps(meta))
    return tmp_path / 'train'


def build(root: Path, ann_file: str = 'frames.json', **kwargs) -> YouTubeVOSClips:
    cfg = dict(type='YouTubeVOSClips', data_root=str(root), ann_file=ann_file,
               pipeline=CLIP_PIPELINE)
    cfg.update(kwargs)
    return DATASETS.build(cfg)


@pytest.mark.parametrize('ann_file', ['frames.json', 'meta.json'])
def test_clips_and_frame_indices(ytvos_root: Path, ann_file: str):
    ds = build(ytvos_root, ann_file)  # default stride 1 over the stored (6 fps) frames
    assert ds.frame_stride == 1
    assert len(ds) == 2 and ds.num_skipped_videos == 1
    infos = [ds.get_data_info(i) for i in range(2)]
    assert [info['frame_indices'] for info in infos] == [[0, 1, 2], [3, 4, 5]]
    assert [Path(p).name for p in infos[1]['frame_paths']] == ['00015.jpg', '00020.jpg',
                                                               '00025.jpg']
    assert Path(infos[0]['frame_paths'][0]).parent.name == '003234408d'


def test_meta_json_union_is_sorted(ytvos_root: Path):
    meta = json.loads((ytvos_root / 'meta.json').read_text())
    objects = meta['videos']['003234408d']['objects']
    objects['1']['frames'] = NAMES[4::-1]  # unsorted, overlapping with object 2
    (ytvos_root / 'meta.json').write_text(json.dumps(meta))
    ds = build(ytvos_root, 'meta.json', frame_stride=2)
    assert len(ds) == 1
    assert [Path(p).name for p in ds.get_data_info(0)['frame_paths']] == [
        '00000.jpg', '00010.jpg', '00020.jpg']


def test_pipeline_output(ytvos_root: Path):
    sample = build(ytvos_root)[0]
    assert sample['inputs'].dtype == torch.uint8 and sample['inputs'].shape == (3, 3, 64, 64)
    assert sample['data_samples']['colour_labels'].shape == (3, 64, 64)


def test_names_with_extension(ytvos_root: Path):
    (ytvos_root / 'ext.json').write_text(json.dumps({'003234408d': [n + '.jpg' for n in NAMES]}))
    info = build(ytvos_root, 'ext.json').get_data_info(0)
    assert Path(info['frame_paths'][0]).name == '00000.jpg'


def test_missing_video(ytvos_root: Path):
    (ytvos_root / 'missing.json').write_text(json.dumps({'003234408d': NAMES,
                                                         'ffffffffff': NAMES}))
    with pytest.raises(DataError) as err:
        build(ytvos_root, 'missing.json')
    assert str(ytvos_root / 'missing.json') in str(err.value)
    assert 'ffffffffff' in str(err.value)


def test_invalid_json(ytvos_root: Path):
    (ytvos_root / 'broken.json').write_text('{"003234408d": [')
    with pytest.raises(DataError, match='broken.json is not valid json'):
        build(ytvos_root, 'broken.json')
    (ytvos_root / 'wrong.json').write_text(json.dumps({'003234408d': 7}))
    with pytest.raises(DataError, match='list of frame names'):
        build(ytvos_root, 'wrong.json')


def test_unreadable_frame(ytvos_root: Path):
    (ytvos_root / 'JPEGImages' / '003234408d' / '00005.jpg').write_bytes(b'garbage')
    with pytest.raises(DataError, match='00005.jpg'):
        build(ytvos_root)[0]
