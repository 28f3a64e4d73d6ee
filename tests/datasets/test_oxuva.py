from pathlib import Path

import pytest
import torch

from corrflow.datasets.video_io import DataError
from corrflow.registry import DATASETS

CLIP_PIPELINE = [dict(type='LoadClipFrames'), dict(type='ResizeClip', size=(64, 64)),
                 dict(type='QuantiseColour'), dict(type='PackClipInputs')]


@pytest.fixture
def oxuva_root(tmp_path: Path, write_frames) -> Path:
    names = [f'{i:06d}.jpeg' for i in range(30)]
    write_frames(tmp_path / 'images' / 'dev' / 'vid0000', names[:25])  # clips at 0, 12
    write_frames(tmp_path / 'images' / 'dev' / 'vid0001', names[:4])  # too short
    (tmp_path / 'oxuva.csv').write_text('vid0000,25\nvid0001,4\n')
    return tmp_path


def build(root: Path, **kwargs):
    cfg = dict(type='OxUvAClips', data_root=str(root), ann_file='oxuva.csv',
               data_prefix=dict(img='images/dev'), pipeline=CLIP_PIPELINE)
    cfg.update(kwargs)
    return DATASETS.build(cfg)


def test_clips_and_frame_indices(oxuva_root: Path):
    ds = build(oxuva_root)
    assert len(ds) == 2 and ds.num_skipped_videos == 1
    info = ds.get_data_info(1)
    assert info['video'] == 'vid0000'
    assert info['frame_indices'] == [12, 16, 20]
    # frames are numbered from 000000
    assert [Path(p).name for p in info['frame_paths']] == [
        '000012.jpeg', '000016.jpeg', '000020.jpeg']


def test_pipeline_output(oxuva_root: Path):
    sample = build(oxuva_root)[1]
    assert sample['inputs'].dtype == torch.uint8 and sample['inputs'].shape == (3, 3, 64, 64)
    assert sample['data_samples']['colour_labels'].shape == (3, 64, 64)


def test_missing_video(oxuva_root: Path):
    (oxuva_root / 'oxuva.csv').write_text('vid0000,25\nvid0099,100\n')
    with pytest.raises(DataError) as err:
        build(oxuva_root)
    assert str(oxuva_root / 'oxuva.csv') in str(err.value) and 'vid0099' in str(err.value)


def test_unreadable_frame(oxuva_root: Path):
    (oxuva_root / 'images' / 'dev' / 'vid0000' / '000016.jpeg').write_bytes(b'')
    with pytest.raises(DataError, match='000016.jpeg'):
        build(oxuva_root)[1]


def test_all_videos_too_short(oxuva_root: Path):
    (oxuva_root / 'oxuva.csv').write_text('vid0001,4\n')
    with pytest.raises(DataError, match='none of the 1 videos'):
        build(oxuva_root)
