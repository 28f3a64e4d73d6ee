"""tools/analysis/visualize.py: every subcommand on tiny generated inputs."""
import importlib.util
import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image
from scipy.io import savemat

from helpers import write_davis_layout, write_random_corrflow_checkpoint

from corrflow.datasets.video_io import count_video_frames

REPO_ROOT = Path(__file__).resolve().parents[2]
TOOL = REPO_ROOT / 'tools' / 'analysis' / 'visualize.py'

_spec = importlib.util.spec_from_file_location('visualize', TOOL)
visualize = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(visualize)


@pytest.fixture(scope='module')
def davis(tmp_path_factory):
    """A 2-sequence DAVIS layout and a result folder (the GT of seq-a, seq-b without GT)."""
    root = write_davis_layout(tmp_path_factory.mktemp('davis'), sequences=('seq-a', 'seq-b'),
                              frames=4, size=(48, 32))
    results = root.parent / 'results'
    for seq in ('seq-a', 'seq-b'):
        shutil.copytree(root / 'Annotations' / '480p' / seq, results / seq)
    shutil.rmtree(root / 'Annotations' / '480p' / 'seq-b')
    return root, results


@pytest.fixture(scope='module')
def moving_square(tmp_path_factory):
    """A folder of 4 frames (48x32): a red 4x4 square moving right by 4 px per frame."""
    folder = tmp_path_factory.mktemp('square')
    for t in range(4):
        frame = np.zeros((32, 48, 3), dtype=np.uint8)
        frame[..., 0] = 255  # blue background (BGR order)
        x = 10 + 4 * t  # the square covers the cell centred on pixel 12 + 4t
        frame[14:18, x:x + 4] = (0, 0, 255)
        cv2.imwrite(str(folder / f'frame{t}.png'), frame)
    return folder


def test_davis_side_by_side_pngs_and_videos(davis, tmp_path, capsys):
    root, results = davis
    out = tmp_path / 'vis'
    assert visualize.main(['davis', str(results), str(root), '--out', str(out),
                           '--format', 'png']) == 0
    printed = capsys.readouterr().out
    assert 'seq-a: 4 frames, 4 with a result, with GT' in printed
    assert 'seq-b: 4 frames, 4 with a result ->' in printed
    with Image.open(out / 'seq-a' / '00001.png') as img:
        assert img.size == (48 * 2 + 4, 32)  # result | GT
    with Image.open(out / 'seq-b' / '00001.png') as img:
        assert img.size == (48, 32)  # no GT panel
    assert visualize.main(['davis', str(results), str(root), '--out', str(out),
                           '--sequences', 'seq-a']) == 0
    assert count_video_frames(out / 'seq-a.mp4') == 4
    assert visualize.main(['davis', str(results), str(root), '--out', str(out),
                           '--sequences', 'seq-a', '--format', 'gif']) == 0
    with Image.open(out / 'seq-a.gif') as gif:
        assert gif.n_frames == 4


def test_davis_scale_step_and_max_frames(davis, tmp_path, capsys):
    root, results = davis
    out = tmp_path / 'small'
    assert visualize.main(['davis', str(results), str(root), '--out', str(out), '--format', 'png',
                           '--sequences', 'seq-a', '--scale', '0.5', '--step', '2']) == 0
    assert 'seq-a: 2 frames, 2 with a result, with GT' in capsys.readouterr().out
    assert sorted(p.name for p in (out / 'seq-a').glob('*.png')) == ['00000.png', '00001.png']
    with Image.open(out / 'seq-a' / '00000.png') as img:
        assert img.size == (24 * 2 + 4, 16)  # both panels at half size
    assert visualize.main(['davis', str(results), str(root), '--out', str(out), '--format', 'gif',
                           '--sequences', 'seq-a', '--max-frames', '3']) == 0
    with Image.open(out / 'seq-a.gif') as gif:
        assert gif.n_frames <= 3  # identical consecutive frames may be merged
    assert 'seq-a: 3 frames' in capsys.readouterr().out
    assert visualize.main(['davis', str(results), str(root), '--out', str(out),
                           '--scale', '0']) == 1
    assert '--scale must be in (0, 4]' in capsys.readouterr().err


def test_davis_errors_are_one_line(davis, tmp_path, capsys):
    root, results = davis
    assert visualize.main(['davis', str(results), str(root), '--out', str(tmp_path),
                           '--sequences', 'nope']) == 1
    err = capsys.readouterr().err
    assert err.startswith('error: ') and 'nope: result folder missing' in err
    assert len(err.strip().splitlines()) == 1
    assert visualize.main(['davis', str(tmp_path / 'x'), str(root), '--out', str(tmp_path)]) == 1
    assert 'is not a folder' in capsys.readouterr().err


def test_features_with_a_checkpoint_and_random_weights(moving_square, tmp_path, capsys):
    ckpt = write_random_corrflow_checkpoint(tmp_path / 'random.pth')
    out = tmp_path / 'features'
    assert visualize.main(['features', str(moving_square), '--checkpoint', str(ckpt),
                           '--out', str(out), '--max-frames', '3']) == 0
    assert '3 frames, 64-d features on a 8x12 grid (stride 4)' in capsys.readouterr().out
    assert sorted(p.name for p in out.glob('*.png')) == ['00000.png', '00001.png', '00002.png']
    with Image.open(out / '00000.png') as img:
        assert img.size == (48 * 2 + 4, 32)  # frame | PCA
    assert count_video_frames(out / 'features.mp4') == 3
    assert visualize.main(['features', str(moving_square), '--checkpoint', 'none',
                           '--out', str(tmp_path / 'f2'), '--max-frames', '1']) == 0


def test_attention_follows_the_square(moving_square, tmp_path, capsys):
    config = tmp_path / 'pixel_rgb.py'  # L2-normalised RGB colour: red matches only red
    config.write_text(
        f"_base_ = ['{REPO_ROOT}/configs/test/corrflow_davis_topk.py']\n"
        "model = dict(backbone=dict(_delete_=True, type='PixelColourEncoder', stride=4,\n"
        "                           colour_space='rgb'),\n"
        "             neck=None, propagation=dict(radius=3), input_size=None)\n")
    out = tmp_path / 'attention'
    assert visualize.main(['attention', str(moving_square), '--checkpoint', 'none',
                           '--config', str(config), '--pixel', '12', '16', '--frames', '0', '1',
                           '2', '3', '--out', str(out)]) == 0
    assert '3 attention maps (R=3, stride 4, T=0.07)' in capsys.readouterr().out
    track = json.loads((out / 'track.json').read_text())
    assert [step['pixel'] for step in track['track']] == [[12, 16], [16, 16], [20, 16], [24, 16]]
    assert track['settings']['protocol']['feature_norm'] == 'L2'
    assert all(step['peak_weight'] > 0.9 for step in track['track'][1:])
    assert sorted(p.name for p in out.glob('*.png')) == \
        ['attention_00.png', 'attention_01.png', 'attention_02.png', 'attention_03.png',
         'attention_strip.png']
    assert visualize.main(['attention', str(moving_square), '--checkpoint', 'none',
                           '--pixel', '60', '5', '--out', str(out)]) == 1
    assert 'outside the 48x32 frame' in capsys.readouterr().err
    assert visualize.main(['attention', str(moving_square), '--checkpoint',
                           str(tmp_path / 'missing.pth'), '--pixel', '1', '1',
                           '--frames', '0', '1', '--out', str(out)]) == 1
    assert 'does not exist' in capsys.readouterr().err


def test_keypoint_trails_with_gt(tmp_path, capsys):
    root = tmp_path / 'jhmdb'
    frames = root / 'Rename_Images' / 'catch' / 'clip'
    frames.mkdir(parents=True)
    T = 4
    for t in range(T):
        cv2.imwrite(str(frames / f'{t + 1:05d}.png'), np.full((32, 40, 3), 40, np.uint8))
    points = np.stack([np.stack([np.linspace(5, 30, 15) + t, np.full(15, 10.0 + t)], 1)
                       for t in range(T)])  # (T, 15, 2)
    mat = root / 'joint_positions' / 'catch' / 'clip'
    mat.mkdir(parents=True)
    savemat(mat / 'joint_positions.mat', {'pos_img': points.transpose(2, 1, 0) + 1})
    results = tmp_path / 'work' / 'jhmdb'
    (results / 'keypoints' / 'catch').mkdir(parents=True)
    (results / 'keypoints' / 'catch' / 'clip.json').write_text(json.dumps(dict(
        video='catch/clip', frames=[f'{t + 1:05d}' for t in range(T)],
        keypoints=points.round(2).tolist())))
    out = tmp_path / 'vis'
    assert visualize.main(['keypoints', str(results), str(root), '--out', str(out),
                           '--format', 'png']) == 0
    assert 'catch/clip: 4 frames, 15 joints, GT rings' in capsys.readouterr().out
    drawn = cv2.imread(str(out / 'catch' / 'clip' / '00003.png'))
    assert drawn.shape == (32, 40, 3) and (drawn != 40).any()
    assert visualize.main(['keypoints', str(results / 'keypoints'), str(root), '--out', str(out),
                           '--videos', 'catch/clip']) == 0
    assert count_video_frames(out / 'catch' / 'clip.mp4') == T
    assert visualize.main(['keypoints', str(results), str(root), '--out', str(out),
                           '--videos', 'catch/other']) == 1
    assert 'no keypoint result for catch/other' in capsys.readouterr().err


def test_cli_reports_bad_input_without_traceback(tool, tmp_path):
    proc = tool(str(TOOL), 'features', str(tmp_path / 'nothing.mp4'), '--checkpoint', 'none',
                '--out', str(tmp_path / 'o'))
    assert proc.returncode == 1
    assert proc.stderr.strip() == f'error: {tmp_path / "nothing.mp4"} does not exist'
