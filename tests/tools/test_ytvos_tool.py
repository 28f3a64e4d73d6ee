"""YouTube-VOS evaluation end to end on a fixture made from the DAVIS subset.

The fixture (``tests/ytvos_fixture.py``) has an object that is first annotated
at frame k > 0 of its video; see there for its layout.
"""
import json
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from helpers import run_tool, write_davis_layout
from ytvos_fixture import write_ytvos_fixture

from corrflow.evaluation.functional.davis import db_iou, f_measure

REPO = Path(__file__).resolve().parents[2]
CHECKPOINT = REPO / 'checkpoints' / 'corrflow_r18_davis16.pth'
# protocol B at the fixture's quarter scale: +-12 cells at stride 4, fewer context frames
B_OPTIONS = ['model.input_size=None', 'model.propagation.radius=12',
             'model.propagation.num_context=5']


@pytest.fixture(scope='module')
def fixture(tmp_path_factory, shared_data):
    root = tmp_path_factory.mktemp('ytvos')
    facts = write_ytvos_fixture(root, shared_data / 'davis2016-val-subset')
    return root, facts


def run_ytvos(tool, out, data_root, *extra, config='configs/test/corrflow_ytvos.py'):
    result = tool('tools/test.py', config, 'ytvos', str(CHECKPOINT), '--data-root',
                  str(data_root), '--work-dir', str(out), *extra)
    return result


def read_ids(path):
    with Image.open(path) as img:
        assert img.mode == 'P'
        return np.asarray(img)


def _run(fixture, tmp_path_factory, name, *extra, split='valid', **kwargs):
    root, _ = fixture
    out = tmp_path_factory.mktemp(name)
    result = run_ytvos(run_tool, out, root / split, *extra, **kwargs)
    assert result.returncode == 0, result.stderr[-3000:]
    return out / 'ytvos', result


@pytest.fixture(scope='module')
def valid_a(fixture, tmp_path_factory):
    return _run(fixture, tmp_path_factory, 'valid_a')


def test_masks_are_written_for_every_listed_frame_and_zipped(valid_a, fixture):
    out, result = valid_a
    _, facts = fixture
    for video, f in facts.items():
        names = sorted(p.stem for p in (out / 'Annotations' / video).glob('*.png'))
        assert names == f['listed']
        first = read_ids(out / 'Annotations' / video / f'{f["listed"][0]}.png')
        assert first.shape == f['gt'].shape[1:]  # original size
    with zipfile.ZipFile(out / 'submission.zip') as archive:
        entries = archive.namelist()
        assert entries == sorted(f'Annotations/{v}/{n}.png' for v, f in facts.items()
                                 for n in f['listed'])
        inside = archive.read('Annotations/cut/00015.png')
    assert inside == (out / 'Annotations' / 'cut' / '00015.png').read_bytes()
    info = json.loads((out / 'propagation.json').read_text())
    assert info['scores'] is None and 'no score computed' in info['note']
    assert info['frames_propagated'] == ['listed frames'] and info['fps'] == [6.0]
    assert info['propagation']['protocol'] == 'A (CorrFlow)'
    assert 'ytvos: no score computed' in result.stdout


def test_nothing_is_predicted_for_an_object_before_its_first_frame(valid_a, fixture):
    out, _ = valid_a
    _, facts = fixture
    f = facts['cut']
    k = f['listed'].index(f'{f["starts"][5]:05d}')
    assert k == 2
    masks = np.stack([read_ids(out / 'Annotations' / 'cut' / f'{n}.png') for n in f['listed']])
    assert not (masks[:k] == 5).any()
    gt_k = f['gt'][f['starts'][5]]
    np.testing.assert_array_equal(masks[k][gt_k == 5], 5)  # its mask is pasted in there
    assert set(np.unique(masks)) <= {0, 2, 5}  # ids kept as they are
    assert (masks[k + 1:] == 5).mean() > 0.02  # and it is tracked on


def _object_scores(masks, gt, obj, frames):
    j = [float(db_iou(gt[t] == obj, masks[t] == obj)) for t in frames]
    f = [f_measure(masks[t] == obj, gt[t] == obj) for t in frames]
    return np.mean(j), np.mean(f)


@pytest.mark.parametrize('config,options', [
    ('configs/test/corrflow_ytvos.py', []),
    ('configs/test/corrflow_ytvos_topk.py', B_OPTIONS)], ids=['A', 'B'])
def test_a_late_object_scores_like_a_run_started_at_its_first_frame(fixture, config, options):
    from corrflow.apis import init_model
    from corrflow.registry import DATASETS

    root, facts = fixture
    overrides = dict(item.split('=', 1) for item in options)
    overrides = {k: (None if v == 'None' else int(v)) for k, v in overrides.items()}
    model = init_model(config, CHECKPOINT, cfg_options=overrides)
    cfg = model.cfg.test_dataloader.dataset
    dataset = DATASETS.build(dict(cfg, data_root=str(root / 'valid'), videos=['cut']))
    sample = dataset[0]
    video, meta = sample['inputs'], sample['data_samples']
    assert sorted(meta['start_masks']) == [0, 2]
    whole = model.propagate_video(video, meta)['pred_masks']
    k = 2
    from_k = model.propagate_video(video[k:], dict(video='cut',
                                                   first_mask=meta['start_masks'][k]))
    gt = facts['cut']['gt'][::5]
    frames = range(k + 1, len(gt))
    got = _object_scores(whole, gt, 5, frames)
    want = _object_scores(np.concatenate([whole[:k], from_k['pred_masks']]), gt, 5, frames)
    assert want[0] > 0.4  # the run from frame k tracks the swan
    assert abs(got[0] - want[0]) < 0.03 and abs(got[1] - want[1]) < 0.03, (got, want)
    assert not (whole[:k] == 5).any()


def test_all_frames_are_propagated_and_only_the_listed_ones_written(fixture, tmp_path_factory):
    root, facts = fixture
    out, _ = _run(fixture, tmp_path_factory, 'all_frames', '--all-frames-root',
                  str(root / 'all_frames'))
    for video, f in facts.items():
        names = sorted(p.stem for p in (out / 'Annotations' / video).glob('*.png'))
        assert names == f['listed'] and len(f['frames']) == 5 * len(names)
    info = json.loads((out / 'propagation.json').read_text())
    assert info['frames_propagated'] == ['all frames'] and info['fps'] == [30.0]
    masks = np.stack([read_ids(out / 'Annotations' / 'cut' / f'{n}.png')
                      for n in facts['cut']['listed']])
    assert not (masks[:2] == 5).any() and (masks[3:] == 5).any()


def test_two_ranks_write_the_same_bytes_as_one(fixture, valid_a, tmp_path):
    root, _ = fixture
    one, _ = valid_a
    two = run_tool('bash', 'tools/dist_test.sh', 'configs/test/corrflow_ytvos.py', '2', 'ytvos',
                   str(CHECKPOINT), '--data-root', str(root / 'valid'), '--work-dir',
                   str(tmp_path), env=dict(PORT='29643'))
    assert two.returncode == 0, two.stderr[-3000:]
    files = sorted(p.relative_to(one) for p in one.rglob('*')
                   if p.is_file() and p.name != 'test_config.py')
    assert len(files) == 18  # 16 PNGs, the zip and the json
    for rel in files:
        assert (one / rel).read_bytes() == (tmp_path / 'ytvos' / rel).read_bytes(), rel


def test_local_scoring_gives_j_and_f_per_object(fixture, tmp_path_factory, tmp_path):
    root, facts = fixture
    seen = tmp_path / 'seen.txt'
    seen.write_text('car\ndog\n')
    out, result = _run(fixture, tmp_path_factory, 'train', '--cfg-options',
                       f'test_evaluator.seen_categories={seen}', split='train')
    info = json.loads((out / 'propagation.json').read_text())
    rows = {(o['video'], o['object']): o for o in info['per_object']}
    assert sorted(rows) == [('cut', 2), ('cut', 5), ('dog', 3)]
    for (video, obj), row in rows.items():
        f = facts[video]
        masks = np.stack([read_ids(out / 'Annotations' / video / f'{n}.png') for n in f['listed']])
        gt = f['gt'][::5]
        start = f['listed'].index(f'{f["starts"][obj]:05d}')
        j, fm = _object_scores(masks, gt, obj, range(start + 1, len(gt)))
        assert row['J'] == pytest.approx(j, abs=1e-12) and row['F'] == pytest.approx(fm,
                                                                                   abs=1e-12)
    scores = info['scores']
    assert scores['J-Mean'] == pytest.approx(np.mean([r['J'] for r in rows.values()]))
    assert scores['J-unseen'] == pytest.approx(rows[('cut', 5)]['J'])
    assert scores['J-seen'] == pytest.approx((rows[('cut', 2)]['J'] + rows[('dog', 3)]['J']) / 2)
    assert scores['overall'] == pytest.approx(np.mean([scores['J-seen'], scores['F-seen'],
                                                       scores['J-unseen'],
                                                       scores['F-unseen']]))
    assert f'overall {scores["overall"]:.4f}' in result.stdout


def _copy_valid(fixture, tmp_path):
    import shutil
    root, _ = fixture
    shutil.copytree(root / 'valid', tmp_path / 'valid')
    return tmp_path / 'valid'


def _one_error_line(tool_result, out):
    assert tool_result.returncode == 1 and 'Traceback' not in tool_result.stderr
    lines = tool_result.stderr.strip().splitlines()
    assert len(lines) == 1, tool_result.stderr
    assert not list(Path(out).rglob('*.png'))  # refused before any propagation
    return lines[0]


def test_an_id_in_meta_json_but_in_no_mask_is_one_error_line(fixture, tmp_path, tool):
    valid = _copy_valid(fixture, tmp_path)
    meta = json.loads((valid / 'meta.json').read_text())
    meta['videos']['dog']['objects']['7'] = dict(category='cat', frames=['00005', '00010'])
    (valid / 'meta.json').write_text(json.dumps(meta))
    (valid / 'Annotations' / 'dog' / '00005.png').write_bytes(
        (valid / 'Annotations' / 'cut' / '00000.png').read_bytes())  # ids 0 and 2 only
    line = _one_error_line(run_ytvos(tool, tmp_path / 'out', valid), tmp_path / 'out')
    assert line.startswith("error: video 'dog': object id 7 is listed in ")
    assert 'has no pixel of id 7' in line


def test_a_mask_of_another_size_than_its_frame_is_one_error_line(fixture, tmp_path, tool):
    valid = _copy_valid(fixture, tmp_path)
    path = valid / 'Annotations' / 'cut' / '00010.png'
    small = read_ids(path)[:60, :100].copy()
    from corrflow.evaluation.png_io import write_indexed_png
    write_indexed_png(str(path), small)
    line = _one_error_line(run_ytvos(tool, tmp_path / 'out', valid), tmp_path / 'out')
    assert line.startswith(f'error: {path}: the mask is 100x60, its frame ')
    assert 'is 213x120' in line


def test_a_video_without_frames_is_one_error_line(fixture, tmp_path, tool):
    valid = _copy_valid(fixture, tmp_path)
    for frame in (valid / 'JPEGImages' / 'dog').iterdir():
        frame.unlink()
    line = _one_error_line(run_ytvos(tool, tmp_path / 'out', valid), tmp_path / 'out')
    assert line.startswith("error: YouTube-VOS video 'dog' has no frames in ")


# ----------------------------------------------------------------------------- DAVIS predict-only
def test_davis_without_ground_truth_needs_predict_only_and_then_writes_masks(tool, tmp_path):
    root = write_davis_layout(tmp_path / 'testdev', frames=4)
    for png in (root / 'Annotations' / '480p').rglob('*.png'):
        if png.stem != '00000':
            png.unlink()
    refused = tool('tools/test.py', 'configs/test/corrflow_davis.py', 'davis', 'none',
                   '--data-root', str(root), '--work-dir', str(tmp_path / 'refused'))
    line = _one_error_line(refused, tmp_path / 'refused')
    assert 'has annotations for 1 of its 4 frames' in line and '--predict-only' in line
    result = tool('tools/test.py', 'configs/test/corrflow_davis.py', 'davis', 'none',
                  '--data-root', str(root), '--work-dir', str(tmp_path / 'out'), '--predict-only')
    assert result.returncode == 0, result.stderr[-3000:]
    out = tmp_path / 'out' / 'davis'
    for seq in ('seq-a', 'seq-b', 'seq-c'):
        assert sorted(p.name for p in (out / seq).glob('*.png')) == [f'{t:05d}.png'
                                                                      for t in range(4)]
    info = json.loads((out / 'propagation.json').read_text())
    assert info['results'] is None and 'no score computed' in info['note']
    assert info['masks_written'] == 12
    assert not (out / 'global_results-val.csv').exists()
    assert 'davis: no score computed' in result.stdout
