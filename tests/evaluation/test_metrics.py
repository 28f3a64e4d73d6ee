"""DAVISMetric, JHMDBMetric and VIPMetric: process / compute_metrics on hand-made videos."""
import csv
import json

import numpy as np
import pytest
from PIL import Image

from corrflow.datasets.video_io import DataError
from corrflow.evaluation.png_io import write_indexed_png
from corrflow.registry import METRICS

SETTINGS = dict(protocol='B (top-k memory)', radius=6)
KEYPOINT_SETTINGS = dict(SETTINGS, keypoint_topk=7, keypoint_sigma=4.0)


def batch_of(*metas):
    return dict(data_samples=list(metas))


def write_gt(folder, frames, names=None):
    """Indexed PNGs ``<name>.png`` of ``frames`` (None: no file); their paths (None for none)."""
    folder.mkdir(parents=True, exist_ok=True)
    names = names or [f'{t:05d}' for t in range(len(frames))]
    paths = []
    for name, ids in zip(names, frames):
        if ids is None:
            paths.append(None)
            continue
        write_indexed_png(str(folder / f'{name}.png'), np.asarray(ids, np.uint8))
        paths.append(str(folder / f'{name}.png'))
    return paths


# ----------------------------------------------------------------------------- DAVIS

def davis_video(tmp_path, name, miss: bool = True):
    """4 frames of 8x10 with objects 1 (rows 1-3, cols 1-4) and 2 (rows 5-6, cols 6-8).

    Prediction: frames 0 and 3 (not scored) are empty; frames 1 and 2 are the GT,
    except that with ``miss`` object 1 is missing in frame 2. Per object over the
    two scored frames, J and F of object 1 are then [1, 0], of object 2 [1, 1].
    """
    gt = np.zeros((4, 8, 10), np.uint8)
    gt[:, 1:4, 1:5] = 1
    gt[:, 5:7, 6:9] = 2
    pred = np.zeros_like(gt)
    pred[1:3] = gt[1:3]
    if miss:
        pred[2][gt[2] == 1] = 0
    names = [f'{t:05d}' for t in range(4)]
    meta = dict(video=name, frame_names=names,
                ann_paths=write_gt(tmp_path / 'gt' / name, list(gt), names))
    return meta, dict(pred_masks=pred, propagation=SETTINGS)


def test_davis_metric_hand_computed(tmp_path):
    out_dir = tmp_path / 'out'
    metric = METRICS.build(dict(type='DAVISMetric', out_dir=str(out_dir)))
    meta_b, out_b = davis_video(tmp_path, 'seq-b')
    meta_a, out_a = davis_video(tmp_path, 'seq-a', miss=False)  # all J and F are 1
    metric.process(batch_of(meta_b), [out_b])
    metric.process(batch_of(meta_a), [out_a])
    metrics = metric.evaluate(2)
    # objects: seq-a_1, seq-a_2 perfect (mean 1, recall 1, decay 0); seq-b_1 J = F = [1, 0]
    # (mean 0.5, recall 0.5, decay: bins [1], [1, 0], [0], [0] -> 1 - 0 = 1); seq-b_2 perfect
    expected = {'J-Mean': 3.5 / 4, 'J-Recall': 3.5 / 4, 'J-Decay': 1 / 4}
    expected.update({'F' + k[1:]: v for k, v in expected.items()})
    expected['J&F-Mean'] = 3.5 / 4
    assert metrics == pytest.approx({f'davis/{k}': v for k, v in expected.items()}, abs=1e-12)
    with open(out_dir / 'per-sequence_results-val.csv') as f:
        rows = list(csv.reader(f))
    assert rows[0] == ['Sequence', 'J-Mean', 'F-Mean']
    assert [(r[0], float(r[1]), float(r[2])) for r in rows[1:]] == [
        ('seq-a_1', 1.0, 1.0), ('seq-a_2', 1.0, 1.0), ('seq-b_1', 0.5, 0.5),
        ('seq-b_2', 1.0, 1.0)]
    with open(out_dir / 'global_results-val.csv') as f:
        header, values = list(csv.reader(f))
    assert dict(zip(header, map(float, values))) == pytest.approx(expected, abs=1e-6)
    record = json.loads((out_dir / 'propagation.json').read_text())
    assert record['propagation'] == SETTINGS and record['sequences'] == ['seq-a', 'seq-b']
    assert record['objects'] == 4 and record['results'] == pytest.approx(expected)
    for t in range(4):  # the predictions, as indexed PNGs
        with Image.open(out_dir / 'seq-b' / f'{t:05d}.png') as img:
            assert img.mode == 'P'
            np.testing.assert_array_equal(np.asarray(img), out_b['pred_masks'][t])


def test_davis_metric_without_out_dir_writes_nothing(tmp_path):
    metric = METRICS.build(dict(type='DAVISMetric'))
    meta, out = davis_video(tmp_path, 'seq-b')
    metric.process(batch_of(meta), [out])
    assert metric.compute_metrics(metric.results)['J-Mean'] == pytest.approx(0.75)
    assert sorted(p.name for p in tmp_path.iterdir()) == ['gt']


def test_davis_metric_errors(tmp_path):
    metric = METRICS.build(dict(type='DAVISMetric'))
    meta, out = davis_video(tmp_path, 'seq-b')
    with pytest.raises(DataError, match=r'predictions \(3, 8, 10\) and GT \(4, 8, 10\)'):
        metric.process(batch_of(meta), [dict(pred_masks=out['pred_masks'][:3])])
    with pytest.raises(DataError, match='lacks GT annotations'):
        metric.process(batch_of(dict(meta, ann_paths=meta['ann_paths'][:3] + [None])), [out])
    bad = out['pred_masks'].copy()
    bad[1, 0, 0] = 3  # the GT of frame 0 has 2 objects
    with pytest.raises(ValueError, match='predicted id 3 above the object count 2'):
        metric.process(batch_of(meta), [dict(pred_masks=bad)])
    assert metric.results == []


# ----------------------------------------------------------------------------- JHMDB

def jhmdb_videos():
    """Two videos of 3 joints whose GT box is (0, 0)-(30, 40): normaliser 0.6 * 50 = 30 px,
    so PCK@0.1 counts errors up to 3 px and PCK@0.2 up to 6 px.

    Video a (3 frames, frame 0 not scored): errors of the joints in frame 1 are
    2, 5, 10 px; in frame 2 4 and 0 px, joint 2 has no GT there (NaN, not scored).
    Video b (2 frames): frame 1 exact.
    """
    joints = np.array([[0, 0], [30, 40], [10, 10]], np.float32)
    gt_a = np.stack([joints] * 3)
    gt_a[2, 2] = np.nan
    pred_a = gt_a.copy()
    pred_a[0] += 50  # the seed frame is not scored
    pred_a[1] += [[2, 0], [3, 4], [6, 8]]
    pred_a[2] += [[0, 4], [0, 0], [0, 0]]
    pred_a[2, 2] = (1, 1)
    gt_b = np.stack([joints] * 2)
    metas = [dict(video='b/clip', frame_names=['00001', '00002'], gt_keypoints=gt_b),
             dict(video='a/clip', frame_names=['00001', '00002', '00003'], gt_keypoints=gt_a)]
    outs = [dict(pred_keypoints=gt_b.copy(), propagation=KEYPOINT_SETTINGS),
            dict(pred_keypoints=pred_a, propagation=KEYPOINT_SETTINGS)]
    return metas, outs


def test_jhmdb_metric_hand_computed(tmp_path):
    metric = METRICS.build(dict(type='JHMDBMetric', alphas=(0.1, 0.2), out_dir=str(tmp_path)))
    metas, outs = jhmdb_videos()
    for meta, out in zip(metas, outs):
        metric.process(batch_of(meta), [out])
    metrics = metric.evaluate(2)
    # hits / scored frames per joint, summed over the videos (a + b):
    # @0.1: joint 0 (1 + 1) / 3, joint 1 (1 + 1) / 3, joint 2 (0 + 1) / 2
    # @0.2: joint 0 3 / 3, joint 1 3 / 3, joint 2 (0 + 1) / 2
    assert metrics == pytest.approx({'jhmdb/PCK@0.1': (2 / 3 + 2 / 3 + 1 / 2) / 3,
                                     'jhmdb/PCK@0.2': (1 + 1 + 1 / 2) / 3}, abs=1e-12)
    report = json.loads((tmp_path / 'pck.json').read_text())
    assert report['videos'] == ['a/clip', 'b/clip']
    assert report['frames_scored_per_joint'] == [3, 3, 2]
    assert list(report['per_joint']) == ['PCK@0.1', 'PCK@0.2']
    assert report['per_joint']['PCK@0.1'] == pytest.approx([2 / 3, 2 / 3, 1 / 2])
    assert report['per_joint']['PCK@0.2'] == pytest.approx([1, 1, 1 / 2])
    assert report['metrics'] == pytest.approx({'PCK@0.1': 11 / 18, 'PCK@0.2': 5 / 6})
    # the decoding is the one the propagator recorded, not a setting of the metric
    assert 'frame 0 skipped' in report['protocol']
    assert 'top-7 soft-argmax of Gaussian seeds (sigma 4 px)' in report['protocol']
    assert report['propagation'] == KEYPOINT_SETTINGS
    saved = json.loads((tmp_path / 'keypoints' / 'a' / 'clip.json').read_text())
    assert saved['video'] == 'a/clip' and saved['frames'] == ['00001', '00002', '00003']
    np.testing.assert_allclose(saved['keypoints'], outs[1]['pred_keypoints'], atol=0.005)


def test_jhmdb_metric_refuses_mixed_decodings(tmp_path):
    metric = METRICS.build(dict(type='JHMDBMetric', out_dir=str(tmp_path)))
    metas, outs = jhmdb_videos()
    outs[1] = dict(outs[1], propagation=dict(KEYPOINT_SETTINGS, keypoint_topk=3))
    for meta, out in zip(metas, outs):
        metric.process(batch_of(meta), [out])
    with pytest.raises(DataError, match='decoded in different ways'):
        metric.evaluate(2)


def test_jhmdb_metric_shape_mismatch_is_an_error():
    metric = METRICS.build(dict(type='JHMDBMetric'))
    metas, outs = jhmdb_videos()
    with pytest.raises(ValueError, match=r'a/clip: predicted keypoints \(2, 3, 2\) and GT '
                                         r'\(3, 3, 2\)'):
        metric.process(batch_of(metas[1]), [dict(pred_keypoints=outs[1]['pred_keypoints'][:2])])


# ----------------------------------------------------------------------------- VIP

def vip_video(tmp_path):
    """3 frames of 2x4: frame 0 (given) and frame 2 (no GT) are not scored.

    Frame 1: GT [[0, 0, 1, 1], [2, 2, 255, 255]], prediction [[0, 1, 1, 1], [2, 0, 2, 3]]:
    class 0 I 1 U 3, class 1 I 2 U 3, class 2 I 1 U 2, class 3 only on ignored pixels.
    """
    gt0 = np.full((2, 4), 3, np.uint8)  # would score 0 if frame 0 counted
    gt1 = np.array([[0, 0, 1, 1], [2, 2, 255, 255]], np.uint8)
    pred = np.stack([np.zeros((2, 4), np.uint8), np.array([[0, 1, 1, 1], [2, 0, 2, 3]]),
                     np.full((2, 4), 2)]).astype(np.uint8)
    names = ['f0', 'f1', 'f2']
    meta = dict(video='vid-a', frame_names=names,
                ann_paths=write_gt(tmp_path / 'gt' / 'vid-a', [gt0, gt1, None], names))
    return meta, dict(pred_masks=pred, propagation=SETTINGS)


def test_vip_metric_hand_computed(tmp_path):
    out_dir = tmp_path / 'out'
    metric = METRICS.build(dict(type='VIPMetric', out_dir=str(out_dir), save_masks=True))
    meta_a, out_a = vip_video(tmp_path)
    # vid-b, one scored frame: GT all hat (1), prediction left half background
    gt_b = np.ones((2, 4), np.uint8)
    pred_b = np.ones((2, 2, 4), np.uint8)
    pred_b[1, :, :2] = 0
    meta_b = dict(video='vid-b', frame_names=['f0', 'f1'],
                  ann_paths=write_gt(tmp_path / 'gt' / 'vid-b', [gt_b, gt_b], ['f0', 'f1']))
    metric.process(batch_of(meta_b, meta_a), [dict(pred_masks=pred_b), out_a])
    metrics = metric.evaluate(2)
    # summed over both videos: class 0 I 1 U 3 + 4 = 7, class 1 I 2 + 4 U 3 + 8, class 2 I 1 U 2
    per_class = {'background': 1 / 7, 'hat': 6 / 11, 'hair': 1 / 2}
    assert metrics == pytest.approx({'vip/mIoU': sum(per_class.values()) / 3}, abs=1e-12)
    report = json.loads((out_dir / 'miou.json').read_text())
    assert report['mIoU'] == pytest.approx(sum(per_class.values()) / 3, abs=1e-12)
    assert list(report['per_class'])[:4] == ['background', 'hat', 'hair', 'sun-glasses']
    assert len(report['per_class']) == 20
    assert {k: v for k, v in report['per_class'].items() if v is not None} == \
        pytest.approx(per_class, abs=1e-12)
    assert report['frames'] == 2 and report['videos'] == ['vid-a', 'vid-b']
    assert report['propagation'] == SETTINGS
    for t, name in enumerate(['f0', 'f1', 'f2']):  # every frame saved, scored or not
        with Image.open(out_dir / 'vid-a' / f'{name}.png') as img:
            np.testing.assert_array_equal(np.asarray(img), out_a['pred_masks'][t])


def test_vip_metric_other_class_count_names_classes_by_number(tmp_path):
    metric = METRICS.build(dict(type='VIPMetric', num_classes=4, out_dir=str(tmp_path)))
    meta, out = vip_video(tmp_path)
    metric.process(batch_of(meta), [out])
    assert metric.compute_metrics(metric.results) == \
        pytest.approx({'mIoU': (1 / 3 + 2 / 3 + 1 / 2) / 3}, abs=1e-12)
    report = json.loads((tmp_path / 'miou.json').read_text())
    assert list(report['per_class']) == ['0', '1', '2', '3'] and report['per_class']['3'] is None
    assert not (tmp_path / 'vid-a').exists()  # save_masks is off by default


def test_vip_metric_gt_of_another_size_is_an_error(tmp_path):
    metric = METRICS.build(dict(type='VIPMetric'))
    meta, out = vip_video(tmp_path)
    with pytest.raises(DataError, match=r'f1.png: the GT is 4x2 but its frame is 3x2'):
        metric.process(batch_of(meta), [dict(pred_masks=out['pred_masks'][:, :, :3])])
