"""DAVISVideos, JHMDBVideos and VIPVideos on tiny layouts: samples, names, counts, errors."""
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from PIL import Image
from scipy.io import savemat

from helpers import write_davis_layout

from corrflow.datasets.video_io import DataError
from corrflow.evaluation.png_io import write_indexed_png
from corrflow.registry import DATASETS, TRANSFORMS

MASK_PIPELINE = [dict(type='LoadVideoFrames'), dict(type='LoadFirstFrameMask'),
                 dict(type='PackVideoInputs')]
KEYPOINT_PIPELINE = [dict(type='LoadVideoFrames'), dict(type='LoadJHMDBKeypoints'),
                     dict(type='PackVideoInputs')]


def read_rgb(path) -> np.ndarray:
    return cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)


def read_ids(path) -> np.ndarray:
    with Image.open(path) as img:
        return np.asarray(img)


# ----------------------------------------------------------------------------- DAVIS

@pytest.fixture(scope='module')
def davis_root(tmp_path_factory):
    return write_davis_layout(tmp_path_factory.mktemp('davis'), sequences=('seq-b', 'seq-a'),
                              frames=3, size=(40, 24))


def test_davis_videos_samples(davis_root):
    ds = DATASETS.build(dict(type='DAVISVideos', data_root=str(davis_root),
                             pipeline=MASK_PIPELINE))
    assert len(ds) == 2  # in the order of ImageSets/2017/val.txt
    info = ds.get_data_info(0)
    images = davis_root / 'JPEGImages' / '480p' / 'seq-b'
    anns = davis_root / 'Annotations' / '480p' / 'seq-b'
    assert info['video'] == 'seq-b' and info['frame_names'] == ['00000', '00001', '00002']
    assert info['frame_paths'] == [str(images / f'0000{t}.jpg') for t in range(3)]
    assert info['ann_paths'] == [str(anns / f'0000{t}.png') for t in range(3)]
    assert info['first_mask_path'] == str(anns / '00000.png')
    sample = ds[1]
    inputs, meta = sample['inputs'], sample['data_samples']
    assert inputs.dtype == torch.uint8 and inputs.shape == (3, 3, 24, 40)
    for t in range(3):
        frame = read_rgb(davis_root / 'JPEGImages' / '480p' / 'seq-a' / f'0000{t}.jpg')
        np.testing.assert_array_equal(inputs[t].permute(1, 2, 0).numpy(), frame)
    first = read_ids(davis_root / 'Annotations' / '480p' / 'seq-a' / '00000.png')
    np.testing.assert_array_equal(meta['first_mask'], first)
    assert meta['video'] == 'seq-a' and meta['ori_shape'] == (24, 40)
    assert meta['frame_names'] == ['00000', '00001', '00002'] and len(meta['ann_paths']) == 3


def test_davis_videos_sequences_and_resolution(davis_root, tmp_path):
    ds = DATASETS.build(dict(type='DAVISVideos', data_root=str(davis_root), sequences=['seq-a']))
    assert [ds.get_data_info(i)['video'] for i in range(len(ds))] == ['seq-a']
    listed = tmp_path / 'list.txt'
    listed.write_text('seq-a\n\nseq-b\n')
    ds = DATASETS.build(dict(type='DAVISVideos', data_root=str(davis_root), ann_file=str(listed)))
    assert [ds.get_data_info(i)['video'] for i in range(len(ds))] == ['seq-a', 'seq-b']
    with pytest.raises(DataError, match='has no frames'):  # no Full-Resolution frames here
        DATASETS.build(dict(type='DAVISVideos', data_root=str(davis_root),
                            resolution='Full-Resolution'))


def test_davis_videos_errors(davis_root, tmp_path):
    with pytest.raises(DataError, match=r'sequence "seq-x" \(listed in .*\) has no frames'):
        DATASETS.build(dict(type='DAVISVideos', data_root=str(davis_root),
                            sequences=['seq-a', 'seq-x']))
    with pytest.raises(DataError, match='DAVIS root .* does not exist'):
        DATASETS.build(dict(type='DAVISVideos', data_root=str(tmp_path / 'nowhere')))
    root = write_davis_layout(tmp_path / 'davis', sequences=('seq-a',), frames=3, size=(16, 16))
    (root / 'Annotations' / '480p' / 'seq-a' / '00000.png').unlink()
    with pytest.raises(DataError, match='first-frame annotation .*00000.png does not exist'):
        DATASETS.build(dict(type='DAVISVideos', data_root=str(root)))
    short = write_davis_layout(tmp_path / 'short', sequences=('seq-s',), frames=2, size=(16, 16))
    with pytest.raises(DataError, match='"seq-s" has 2 frame.* needs at least 3'):
        DATASETS.build(dict(type='DAVISVideos', data_root=str(short)))


def test_first_frame_mask_errors_name_the_file(tmp_path):
    """Masks are read by the one PNG reader: size from the header, 8-bit ids only."""
    load = TRANSFORMS.build(dict(type='LoadFirstFrameMask'))
    ids = np.zeros((24, 40), np.uint8)
    ids[5:9, 3:7] = 2
    good = tmp_path / 'good.png'
    write_indexed_png(str(good), ids)
    out = load(dict(first_mask_path=str(good), ori_shape=(24, 40)))
    np.testing.assert_array_equal(out['first_mask'], ids)
    # another size: refused from the header, before decoding
    with pytest.raises(DataError, match=r'mask .*good.png is 40x24, the frames are 41x24'):
        load(dict(first_mask_path=str(good), ori_shape=(24, 41)))
    rgb = tmp_path / 'rgb.png'
    Image.fromarray(np.zeros((24, 40, 3), np.uint8)).save(rgb)
    with pytest.raises(DataError, match=r'mask .*rgb.png is not an 8-bit indexed'):
        load(dict(first_mask_path=str(rgb), ori_shape=(24, 40)))
    deep = tmp_path / 'deep.png'
    Image.fromarray(ids.astype(np.uint16) * 300).save(deep)
    with pytest.raises(DataError, match=r'mask .*deep.png is not an 8-bit indexed'):
        load(dict(first_mask_path=str(deep), ori_shape=(24, 40)))
    with pytest.raises(DataError, match=r'mask .*none.png does not exist'):
        load(dict(first_mask_path=str(tmp_path / 'none.png'), ori_shape=(24, 40)))
    broken = tmp_path / 'broken.png'
    broken.write_bytes(b'not a png')
    with pytest.raises(DataError, match=r'broken.png: not a readable image'):
        load(dict(first_mask_path=str(broken)))


# ----------------------------------------------------------------------------- JHMDB

def write_jhmdb_video(root: Path, name: str, num_frames: int, num_joint_frames: int,
                      offset: float) -> np.ndarray:
    """Frames 00001.png ... and joints (T', 15, 2), 0-based (saved 1-based as pos_img)."""
    folder = root / 'Rename_Images' / name
    folder.mkdir(parents=True)
    for t in range(num_frames):
        cv2.imwrite(str(folder / f'{t + 1:05d}.png'), np.full((20, 30, 3), 10 * t, np.uint8))
    joints = np.stack([np.stack([np.arange(15) + offset + t, np.full(15, 2.0 * t)], 1)
                       for t in range(num_joint_frames)]).astype(np.float32)
    mat = root / 'joint_positions' / name
    mat.mkdir(parents=True)
    savemat(mat / 'joint_positions.mat', {'pos_img': joints.transpose(2, 1, 0) + 1})
    return joints


def test_jhmdb_videos_samples(tmp_path, log_records):
    root = tmp_path / 'jhmdb'
    catch = write_jhmdb_video(root, 'catch/clip1', num_frames=4, num_joint_frames=4, offset=1)
    jump = write_jhmdb_video(root, 'jump/clip2', num_frames=5, num_joint_frames=3, offset=3)
    ds = DATASETS.build(dict(type='JHMDBVideos', data_root=str(root), pipeline=KEYPOINT_PIPELINE))
    assert len(ds) == 2  # every video with joints, sorted
    info = ds.get_data_info(1)
    assert info['video'] == 'jump/clip2'
    assert info['frame_names'] == ['00001', '00002', '00003']  # only frames with joints
    assert info['joints_path'] == str(root / 'joint_positions' / 'jump' / 'clip2' /
                                      'joint_positions.mat')
    warnings = [r.getMessage() for r in log_records if r.levelname == 'WARNING']
    assert len(warnings) == 1 and 'jump/clip2 (5 frames, 3 annotated)' in warnings[0]
    sample = ds[0]
    inputs, meta = sample['inputs'], sample['data_samples']
    assert inputs.shape == (4, 3, 20, 30) and inputs.dtype == torch.uint8
    assert [int(inputs[t, 0, 0, 0]) for t in range(4)] == [0, 10, 20, 30]
    np.testing.assert_array_equal(meta['gt_keypoints'], catch)  # 1-based file, 0-based here
    np.testing.assert_array_equal(meta['first_keypoints'], catch[0])
    np.testing.assert_array_equal(meta['first_keypoints'][:2], [[1, 0], [2, 0]])
    assert meta['video'] == 'catch/clip1'
    other = ds[1]['data_samples']
    assert other['gt_keypoints'].shape == (3, 15, 2) and len(ds[1]['inputs']) == 3
    np.testing.assert_array_equal(other['gt_keypoints'], jump)


def test_jhmdb_videos_list_and_errors(tmp_path):
    root = tmp_path / 'jhmdb'
    write_jhmdb_video(root, 'catch/clip1', num_frames=2, num_joint_frames=2, offset=0)
    write_jhmdb_video(root, 'jump/clip2', num_frames=2, num_joint_frames=2, offset=0)
    listed = tmp_path / 'split.txt'
    listed.write_text('jump/clip2\n')
    ds = DATASETS.build(dict(type='JHMDBVideos', data_root=str(root), ann_file=str(listed)))
    assert [ds.get_data_info(i)['video'] for i in range(len(ds))] == ['jump/clip2']
    listed.write_text('jump/clip2\ncatch/missing\n')
    with pytest.raises(DataError, match=r'1 of the 2 videos listed in .* are missing under .* '
                                         r'\(first: catch/missing\)'):
        DATASETS.build(dict(type='JHMDBVideos', data_root=str(root), ann_file=str(listed)))
    with pytest.raises(DataError, match='must contain Rename_Images/ and joint_positions/'):
        DATASETS.build(dict(type='JHMDBVideos', data_root=str(tmp_path)))


# ----------------------------------------------------------------------------- VIP

def write_vip_layout(root: Path, videos: dict, size=(24, 16)) -> Path:
    """``videos``: name -> per frame the label ids of its annotation (None: not annotated)."""
    w, h = size
    for name, labels in videos.items():
        images = root / 'Images' / name
        anns = root / 'Annotations' / 'Category_ids' / name
        images.mkdir(parents=True)
        anns.mkdir(parents=True)
        for t, ids in enumerate(labels):
            cv2.imwrite(str(images / f'{t:06d}.png'), np.full((h, w, 3), 20 * t, np.uint8))
            if ids is not None:
                write_indexed_png(str(anns / f'{t:06d}.png'), np.full((h, w), ids, np.uint8))
    (root / 'lists').mkdir()
    (root / 'lists' / 'val_videos.txt').write_text('\n'.join(videos) + '\n')
    return root


def test_vip_videos_samples(tmp_path):
    first = np.zeros((16, 24), np.uint8)
    first[:8] = 13  # face
    first[8:, :4] = 255  # unlabelled
    root = write_vip_layout(tmp_path / 'VIP_Fine', {'v1': [first, None, 4],
                                                    'v2': [1, 2]})
    ds = DATASETS.build(dict(type='VIPVideos', data_root=str(root), pipeline=MASK_PIPELINE))
    assert len(ds) == 2 and ds.metainfo['classes'][13] == 'face'
    info = ds.get_data_info(0)
    anns = root / 'Annotations' / 'Category_ids' / 'v1'
    assert info['video'] == 'v1' and info['frame_names'] == ['000000', '000001', '000002']
    assert info['ann_paths'] == [str(anns / '000000.png'), None, str(anns / '000002.png')]
    assert info['first_mask_path'] == str(anns / '000000.png')
    sample = ds[0]
    assert sample['inputs'].shape == (3, 3, 16, 24)
    assert [int(sample['inputs'][t, 1, 5, 5]) for t in range(3)] == [0, 20, 40]
    np.testing.assert_array_equal(sample['data_samples']['first_mask'], first)
    other = ds[1]['data_samples']
    assert other['video'] == 'v2' and len(other['ann_paths']) == 2


def test_vip_videos_errors(tmp_path):
    root = write_vip_layout(tmp_path / 'a', {'v1': [None, 3]})
    with pytest.raises(DataError, match=r'VIP video "v1": first-frame annotation .*000000.png '
                                         'does not exist'):
        DATASETS.build(dict(type='VIPVideos', data_root=str(root)))
    root = write_vip_layout(tmp_path / 'b', {'v1': [1]})
    (root / 'lists' / 'val_videos.txt').write_text('v1\nv9\n')
    with pytest.raises(DataError, match=r'VIP video "v9" \(listed in .*\) has no frames'):
        DATASETS.build(dict(type='VIPVideos', data_root=str(root)))
    (root / 'lists' / 'val_videos.txt').write_text('\n')
    with pytest.raises(DataError, match='is empty'):
        DATASETS.build(dict(type='VIPVideos', data_root=str(root)))
    with pytest.raises(DataError, match='VIP video list .*missing.txt does not exist'):
        DATASETS.build(dict(type='VIPVideos', data_root=str(root), ann_file='missing.txt'))
