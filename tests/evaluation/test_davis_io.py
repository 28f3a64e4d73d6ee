"""DAVIS folders: reading, checking, scoring (synthetic and real data) and the CSVs."""
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from references import evaluate_baseline

from corrflow.evaluation.davis_io import (DAVIS_GLOBAL_COLUMNS, GLOBAL_CSV,
                                          PER_SEQUENCE_CSV, DavisResultError, evaluate_davis,
                                          read_davis_gt, read_davis_results, read_davis_sequences,
                                          voc_palette, write_davis_csvs, write_indexed_png)

# Official-tool numbers (full precision in shared/data/README.md).
FIRST_FRAME_COPY = {
    'blackswan': (0.545023, 0.334033), 'bmx-trees': (0.093581, 0.226062),
    'breakdance': (0.215883, 0.188304), 'car-roundabout': (0.730820, 0.440343),
    'car-shadow': (0.407701, 0.252334), 'dance-twirl': (0.342883, 0.317520),
    'dog': (0.327135, 0.182669), 'drift-chicane': (0.017484, 0.027239),
    'drift-straight': (0.059798, 0.097075), 'horsejump-high': (0.141302, 0.146456),
    'kite-surf': (0.133314, 0.326422), 'libby': (0.303969, 0.357669),
    'motocross-jump': (0.153714, 0.100515), 'parkour': (0.101243, 0.159276),
    'scooter-black': (0.092165, 0.129410),
}
OSVOS = {
    'blackswan': (0.943020, 0.974096), 'breakdance': (0.727206, 0.755952),
    'car-roundabout': (0.889536, 0.826946), 'car-shadow': (0.928402, 0.917407),
    'dance-twirl': (0.640892, 0.716425), 'dog': (0.710792, 0.691109),
    'drift-chicane': (0.774220, 0.828893), 'drift-straight': (0.665461, 0.706774),
    'libby': (0.623027, 0.751232), 'parkour': (0.773129, 0.740851),
}


# --------------------------------------------------------------------------------------
# Tiny synthetic DAVIS folders.


def write_sequence(root: Path, seq: str, frames: np.ndarray) -> None:
    for t, frame in enumerate(frames):
        write_indexed_png(str(root / seq / f'{t:05d}.png'), frame)


def make_davis(tmp_path: Path, sequences: dict, with_list: bool = True) -> Path:
    root = tmp_path / 'davis'
    for seq, frames in sequences.items():
        write_sequence(root / 'Annotations' / '480p', seq, frames)
    if with_list:
        (root / 'ImageSets' / '2017').mkdir(parents=True)
        (root / 'ImageSets' / '2017' / 'val.txt').write_text('\n'.join(sequences) + '\n')
    return root


def box_frames(n_frames: int, boxes: list, shape=(12, 16)) -> np.ndarray:
    """Frames with object k = the box boxes[k-1] (y0, y1, x0, x1), the same every frame."""
    frames = np.zeros((n_frames, *shape), np.uint8)
    for k, (y0, y1, x0, x1) in enumerate(boxes, start=1):
        frames[:, y0:y1, x0:x1] = k
    return frames


@pytest.fixture
def tiny(tmp_path):
    """Two sequences: 'one' with 1 object, 'two' with 2; results hand-made."""
    gt = {'one': box_frames(4, [(2, 6, 2, 6)]),
          'two': box_frames(5, [(1, 5, 1, 5), (7, 11, 8, 14)])}
    root = make_davis(tmp_path, gt)
    res = tmp_path / 'res'
    pred_one = gt['one'].copy()  # perfect
    pred_two = gt['two'].copy()
    pred_two[pred_two == 2] = 0  # object 2 never predicted: J = F = 0
    write_sequence(res, 'one', pred_one)
    write_sequence(res, 'two', pred_two)
    return root, res


def test_voc_palette():
    pal = voc_palette()
    assert pal.shape == (256, 3) and pal.dtype == np.uint8
    assert pal[:6].tolist() == [[0, 0, 0], [128, 0, 0], [0, 128, 0], [128, 128, 0],
                                [0, 0, 128], [128, 0, 128]]
    assert pal[255].tolist() == [224, 224, 192]  # the void colour


def test_write_indexed_png_roundtrip(tmp_path):
    mask = np.array([[0, 1, 2], [3, 0, 255]], np.uint8)
    path = tmp_path / 'sub' / 'm.png'
    write_indexed_png(str(path), mask)
    with Image.open(path) as image:
        assert image.mode == 'P'
        np.testing.assert_array_equal(np.asarray(image), mask)
        assert image.getpalette()[:9] == [0, 0, 0, 128, 0, 0, 0, 128, 0]
    with pytest.raises(ValueError):
        write_indexed_png(str(path), mask.astype(np.int32))


def test_read_davis_gt_and_sequences(tiny):
    root, _ = tiny
    gt, names = read_davis_gt(str(root), 'two')
    assert gt.shape == (5, 12, 16) and gt.dtype == np.uint8
    assert names == ['00000', '00001', '00002', '00003', '00004']
    assert set(np.unique(gt)) == {0, 1, 2}
    assert read_davis_sequences(str(root)) == ['one', 'two']


def test_png_encodings_read_identically(tmp_path):
    """8-bit palette PNGs take the fast decoder; other encodings go through PIL."""
    rng = np.random.default_rng(0)
    ids = rng.integers(0, 4, (20, 30)).astype(np.uint8)
    ids[:, :4] = np.arange(4)  # a gradient, so that OpenCV filters rows
    folder = tmp_path / 'Annotations' / '480p' / 'seq'
    write_indexed_png(str(folder / '00000.png'), ids)  # palette, 8 bits, unfiltered
    Image.fromarray(ids).save(folder / '00001.png')  # grey, 8 bits
    small = Image.fromarray(ids)
    small.putpalette([0, 0, 0, 255, 0, 0, 0, 255, 0, 0, 0, 255])
    small.save(folder / '00002.png')  # 4 colours: PIL writes 2-bit indices
    cv2.imwrite(str(folder / '00003.png'), ids)  # grey with filtered rows
    binary = ids > 1
    Image.fromarray(binary).save(folder / '00004.png')  # 1-bit
    gt, names = read_davis_gt(str(tmp_path), 'seq')
    assert len(names) == 5
    for t in range(4):
        np.testing.assert_array_equal(gt[t], ids)
    np.testing.assert_array_equal(gt[4], binary.astype(np.uint8))


def test_real_masks_read_like_pil(shared_data):
    folder = shared_data / 'davis2016-val-subset' / 'Annotations' / '480p' / 'kite-surf'
    gt, names = read_davis_gt(str(shared_data / 'davis2016-val-subset'), 'kite-surf')
    for t in (0, 17, len(names) - 1):
        with Image.open(folder / f'{names[t]}.png') as image:
            np.testing.assert_array_equal(gt[t], np.asarray(image))


def test_missing_sequence_list_is_a_clear_error(tmp_path):
    root = make_davis(tmp_path, {'one': box_frames(3, [(1, 3, 1, 3)])}, with_list=False)
    with pytest.raises(FileNotFoundError, match='ImageSets'):
        evaluate_davis(str(root), str(tmp_path))


def test_read_davis_results_checks(tiny, tmp_path):
    root, res = tiny
    gt, names = read_davis_gt(str(root), 'one')
    pred = read_davis_results(str(res), 'one', names, gt.shape, num_objects=1)
    np.testing.assert_array_equal(pred[1:-1], gt[1:-1])
    assert not pred[0].any() and not pred[-1].any()  # first/last: not read

    seq_dir = res / 'one'
    (seq_dir / '00000.png').unlink()  # first and last frames may be absent
    (seq_dir / '00003.png').unlink()
    read_davis_results(str(res), 'one', names, gt.shape, num_objects=1)

    def expect_error(match):
        with pytest.raises(DavisResultError, match=match) as info:
            read_davis_results(str(res), 'one', names, gt.shape, num_objects=1)
        assert '00002.png' in str(info.value)
        assert isinstance(info.value, ValueError)

    bad = gt[2].copy()
    bad[0, 0] = 255
    write_indexed_png(str(seq_dir / '00002.png'), bad)
    expect_error('255')
    bad[0, 0] = 2
    write_indexed_png(str(seq_dir / '00002.png'), bad)
    expect_error('id 2')
    write_indexed_png(str(seq_dir / '00002.png'), np.zeros((12, 15), np.uint8))
    expect_error('size')
    Image.fromarray(np.zeros((12, 16, 3), np.uint8)).save(seq_dir / '00002.png')
    expect_error('8-bit indexed')
    (seq_dir / '00002.png').unlink()
    expect_error('missing')


def test_evaluate_davis_means_over_objects(tiny):
    root, res = tiny
    global_row, rows = evaluate_davis(str(root), str(res), num_workers=1)
    assert [r['Sequence'] for r in rows] == ['one_1', 'two_1', 'two_2']
    assert [r['J-Mean'] for r in rows] == [1.0, 1.0, 0.0]
    assert [r['F-Mean'] for r in rows] == [1.0, 1.0, 0.0]
    # Mean over the 3 objects (2/3), not over the 2 sequences (3/4).
    assert global_row['J-Mean'] == pytest.approx(2 / 3, abs=1e-15)
    assert global_row['F-Mean'] == pytest.approx(2 / 3, abs=1e-15)
    assert global_row['J&F-Mean'] == pytest.approx(2 / 3, abs=1e-15)
    assert global_row['J-Recall'] == pytest.approx(2 / 3, abs=1e-15)
    assert global_row['J-Decay'] == 0.0
    assert list(global_row) == list(DAVIS_GLOBAL_COLUMNS)
    pool_row, pool_rows = evaluate_davis(str(root), str(res), num_workers=2)
    assert pool_row == global_row and pool_rows == rows


def test_evaluate_davis_errors(tiny):
    root, res = tiny
    with pytest.raises(ValueError, match='more than once'):
        evaluate_davis(str(root), str(res), ['one', 'one'])
    with pytest.raises(FileNotFoundError, match='nope'):
        evaluate_davis(str(root), str(res), ['nope'])
    shutil.rmtree(res / 'two')
    with pytest.raises(DavisResultError, match='two'):
        evaluate_davis(str(root), str(res))
    write_sequence(res, 'two', box_frames(5, [(1, 5, 1, 5), (7, 11, 8, 14), (0, 1, 0, 1)]))
    with pytest.raises(DavisResultError, match='id 3'):  # raised in a worker process
        evaluate_davis(str(root), str(res), num_workers=2)


def test_write_davis_csvs(tmp_path):
    global_row = dict(zip(DAVIS_GLOBAL_COLUMNS, [0.5, 0.25, 1.0, 0.0, 0.75, 0.125, -0.5]))
    rows = [{'Sequence': 'a_1', 'J-Mean': 0.25, 'F-Mean': 0.75, 'J-Recall': 1.0}]
    (tmp_path / GLOBAL_CSV).write_text('stale')
    g_path, s_path = write_davis_csvs(str(tmp_path), global_row, rows, decimals=3)
    assert Path(g_path).read_text() == ('J&F-Mean,J-Mean,J-Recall,J-Decay,F-Mean,F-Recall,'
                                        'F-Decay\n0.500,0.250,1.000,0.000,0.750,0.125,-0.500\n')
    assert Path(s_path).read_text() == 'Sequence,J-Mean,F-Mean\na_1,0.250,0.750\n'
    assert Path(s_path).name == PER_SEQUENCE_CSV
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([GLOBAL_CSV, PER_SEQUENCE_CSV])


# --------------------------------------------------------------------------------------
# Real data: numbers of the official tool.


@pytest.fixture(scope='session')
def davis_root(shared_data) -> Path:
    return shared_data / 'davis2016-val-subset'


@pytest.fixture(scope='session')
def first_frame_copy(davis_root, tmp_path_factory) -> Path:
    """GT frame 0 copied to every frame of every sequence (generated once per session)."""
    out = tmp_path_factory.mktemp('first_frame_copy')
    for seq_dir in sorted((davis_root / 'Annotations' / '480p').iterdir()):
        frames = sorted(seq_dir.glob('*.png'))
        (out / seq_dir.name).mkdir()
        for frame in frames:
            shutil.copyfile(frames[0], out / seq_dir.name / frame.name)
    return out


@pytest.fixture(scope='session')
def first_frame_copy_scores(davis_root, first_frame_copy):
    return evaluate_davis(str(davis_root), str(first_frame_copy))


def test_real_first_frame_copy(first_frame_copy_scores):
    global_row, rows = first_frame_copy_scores
    assert global_row['J&F-Mean'] == pytest.approx(0.231711, abs=1e-6)
    assert global_row['J-Mean'] == pytest.approx(0.244401, abs=1e-6)
    assert global_row['F-Mean'] == pytest.approx(0.219022, abs=1e-6)
    assert [r['Sequence'] for r in rows] == [f'{s}_1' for s in FIRST_FRAME_COPY]
    for row in rows:
        j, f = FIRST_FRAME_COPY[row['Sequence'][:-2]]
        assert row['J-Mean'] == pytest.approx(j, abs=1e-6)
        assert row['F-Mean'] == pytest.approx(f, abs=1e-6)


def test_real_osvos(davis_root, shared_data, tmp_path):
    results = shared_data / 'davis2017-osvos-results' / 'semi-supervised' / 'osvos'
    global_row, rows = evaluate_davis(str(davis_root), str(results), list(OSVOS))
    assert global_row['J&F-Mean'] == pytest.approx(0.779269, abs=1e-6)
    assert global_row['J-Mean'] == pytest.approx(0.767569, abs=1e-6)
    assert global_row['F-Mean'] == pytest.approx(0.790969, abs=1e-6)
    for row in rows:
        j, f = OSVOS[row['Sequence'][:-2]]
        assert row['J-Mean'] == pytest.approx(j, abs=1e-6)
        assert row['F-Mean'] == pytest.approx(f, abs=1e-6)
    # Rounded to 3 decimals, the CSVs are the official tool's, byte for byte.
    write_davis_csvs(str(tmp_path), global_row, rows, decimals=3)
    expected = shared_data / 'davis2017-osvos-results'
    assert (tmp_path / GLOBAL_CSV).read_text() == \
        (expected / 'expected_oracle_global_results.csv').read_text()
    assert (tmp_path / PER_SEQUENCE_CSV).read_text() == \
        (expected / 'expected_oracle_per-sequence_results.csv').read_text()


def test_real_osvos_multi_object_results_are_rejected(davis_root, shared_data):
    results = shared_data / 'davis2017-osvos-results' / 'semi-supervised' / 'osvos'
    with pytest.raises(DavisResultError, match='kite-surf'):
        evaluate_davis(str(davis_root), str(results), ['kite-surf'], num_workers=1)


def test_real_gt_as_results_scores_one(davis_root):
    global_row, rows = evaluate_davis(str(davis_root), str(davis_root / 'Annotations' / '480p'))
    assert global_row == {'J&F-Mean': 1.0, 'J-Mean': 1.0, 'J-Recall': 1.0, 'J-Decay': 0.0,
                          'F-Mean': 1.0, 'F-Recall': 1.0, 'F-Decay': 0.0}
    assert len(rows) == 15


def test_real_multi_object_pseudo_gt_matches_official_pipeline(shared_data, tmp_path):
    """OSVOS masks of a 2-object sequence as GT, their frame 0 copied as results."""
    seq = 'motocross-jump'
    osvos = shared_data / 'davis2017-osvos-results' / 'semi-supervised' / 'osvos' / seq
    root = tmp_path / 'pseudo'
    shutil.copytree(osvos, root / 'Annotations' / '480p' / seq)
    frames = sorted(osvos.glob('*.png'))
    (tmp_path / 'res' / seq).mkdir(parents=True)
    for frame in frames:
        shutil.copyfile(frames[0], tmp_path / 'res' / seq / frame.name)
    ours = evaluate_davis(str(root), str(tmp_path / 'res'), [seq], num_workers=1)
    official = evaluate_baseline(str(root), str(tmp_path / 'res'), [seq])
    assert len(ours[1]) == 2
    assert ours[0] == pytest.approx(official[0], abs=0)
    for ours_row, official_row in zip(ours[1], official[1]):
        assert ours_row['Sequence'] == official_row['Sequence']
        assert ours_row['J-Mean'] == official_row['J-Mean']
        assert ours_row['F-Mean'] == official_row['F-Mean']
