"""tools/test.py and tools/dist_test.sh end to end on tiny data and the JHMDB sample."""
import csv
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from helpers import write_davis_layout, write_random_corrflow_checkpoint

from corrflow.evaluation.png_io import write_indexed_png

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope='module')
def davis_root(tmp_path_factory):
    return write_davis_layout(tmp_path_factory.mktemp('davis'))


@pytest.fixture(scope='module')
def checkpoint(tmp_path_factory):
    return write_random_corrflow_checkpoint(tmp_path_factory.mktemp('ckpt') / 'random.pth')


def pixel_topk_config(tmp_path):
    """The DAVIS protocol-B config with a parameter-free Lab encoder (no checkpoint)."""
    path = tmp_path / 'pixel_davis_topk.py'
    path.write_text(
        f"_base_ = ['{REPO}/configs/test/corrflow_davis_topk.py']\n"
        "model = dict(backbone=dict(_delete_=True, type='PixelColourEncoder', stride=4),\n"
        "             neck=None, propagation=dict(radius=6), input_size=None)\n")
    return path


def test_davis_outputs(tool, tmp_path, davis_root, checkpoint):
    result = tool('tools/test.py', 'configs/test/corrflow_davis.py', 'davis', str(checkpoint),
                  '--data-root', str(davis_root), '--work-dir', str(tmp_path))
    assert result.returncode == 0, result.stderr[-3000:]
    out = tmp_path / 'davis'
    for seq in ('seq-a', 'seq-b', 'seq-c'):
        pngs = sorted((out / seq).glob('*.png'))
        assert [p.name for p in pngs] == [f'{t:05d}.png' for t in range(5)]
        with Image.open(pngs[2]) as img:
            assert img.mode == 'P' and img.size == (96, 64)
            assert np.asarray(img).max() <= 2
    with open(out / 'global_results-val.csv') as f:
        rows = list(csv.reader(f))
    assert rows[0] == ['J&F-Mean', 'J-Mean', 'J-Recall', 'J-Decay', 'F-Mean', 'F-Recall',
                       'F-Decay']
    # the run ends on its score and where the outputs are
    jf, j, f = (float(rows[1][i]) for i in (0, 1, 4))
    last = result.stdout.strip().splitlines()[-2:]
    assert last[0] == f'davis: J&F-Mean {jf:.4f}, J-Mean {j:.4f}, F-Mean {f:.4f}'
    assert last[1] == f'results in {out} (the settings that produced them: ' \
                      f'{out / "test_config.py"})'
    with open(out / 'per-sequence_results-val.csv') as f:
        rows = list(csv.reader(f))
    assert rows[0] == ['Sequence', 'J-Mean', 'F-Mean'] and len(rows) == 1 + 6  # 3 seqs x 2 obj
    settings = json.loads((out / 'propagation.json').read_text())
    assert settings['propagation']['protocol'].startswith('A') and \
        settings['propagation']['radius'] == 6
    assert (out / 'test_config.py').is_file()
    # throughput and memory of the run: 3 videos of 5 frames
    log = result.stdout + result.stderr
    assert '3 videos, 15 frames in' in log and 'frames/s; process peak RSS' in log


def test_two_ranks_give_identical_outputs(tool, tmp_path, davis_root):
    config = pixel_topk_config(tmp_path)
    one = tool('tools/test.py', str(config), 'davis', 'none', '--data-root', str(davis_root),
               '--work-dir', str(tmp_path / 'one'))
    assert one.returncode == 0, one.stderr[-3000:]
    two = tool('bash', 'tools/dist_test.sh', str(config), '2', 'davis', 'none', '--data-root',
               str(davis_root), '--work-dir', str(tmp_path / 'two'), env=dict(PORT='29641'))
    assert two.returncode == 0, two.stderr[-3000:]
    files = sorted(p.relative_to(tmp_path / 'one' / 'davis')
                   for p in (tmp_path / 'one' / 'davis').rglob('*')
                   if p.is_file() and p.name != 'test_config.py')
    assert len(files) > 15
    for rel in files:
        a = (tmp_path / 'one' / 'davis' / rel).read_bytes()
        b = (tmp_path / 'two' / 'davis' / rel).read_bytes()
        assert a == b, rel
    # the propagation really does something on this data
    j_f = float(list(csv.reader(open(tmp_path / 'one' / 'davis' / 'global_results-val.csv')))[1][0])
    assert j_f > 0.3


def test_jhmdb_sample_end_to_end(tool, tmp_path, shared_data, checkpoint):
    result = tool('tools/test.py', 'configs/test/corrflow_jhmdb_topk.py', 'jhmdb',
                  str(checkpoint), '--data-root', str(shared_data / 'jhmdb-sample'),
                  '--work-dir', str(tmp_path), '--cfg-options', 'test_dataloader.dataset.ann_file=',
                  'test_evaluator.save_overlays=True')
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads((tmp_path / 'jhmdb' / 'pck.json').read_text())
    assert set(report['metrics']) == {'PCK@0.1', 'PCK@0.2'}
    assert 'frame 0' in report['protocol']
    assert report['videos'] == ['catch/Goal_Keeping_Tips_catch_f_cm_np1_fr_med_2']
    kp = json.loads(next((tmp_path / 'jhmdb' / 'keypoints').rglob('*.json')).read_text())
    assert np.asarray(kp['keypoints']).shape == (40, 15, 2)
    assert len(list((tmp_path / 'jhmdb' / 'overlays').rglob('*.jpg'))) == 40


def test_jhmdb_full_list_on_the_sample_explains_itself(tool, tmp_path, shared_data, checkpoint):
    result = tool('tools/test.py', 'configs/test/corrflow_jhmdb_topk.py', 'jhmdb',
                  str(checkpoint), '--data-root', str(shared_data / 'jhmdb-sample'),
                  '--work-dir', str(tmp_path))
    assert result.returncode == 1 and 'Traceback' not in result.stderr
    assert '268 videos listed' in result.stderr and 'ann_file' in result.stderr


def test_vip_end_to_end(tool, tmp_path):
    """A static VIP video whose mIoU is worked out by hand.

    The 48x64 frames have three flat colours: hat (1) top-left, hair (2)
    bottom-right, background (0) in the other two quadrants. The later GT frames
    ignore (255) a 16-px band around the quadrant borders, so the scored pixels
    are four 16x24 corners (384 px each), far enough from any border that every
    frame propagates them unchanged. In video a, frame 2's GT calls 4x6 hat pixels
    hair and 4x10 background pixels dress (5), and frame 3 has no GT; video b's
    frames 1-3 match. Summed over 2 + 3 scored frames (I / U):
    background 3800 / 3840, hat 1896 / 1920, hair 1920 / 1944, dress 0 / 40.
    """
    H, W = 48, 64
    labels = np.zeros((H, W), np.uint8)
    labels[:24, :32] = 1
    labels[24:, 32:] = 2
    frame = np.array([(128, 128, 128), (220, 30, 30), (30, 200, 40)], np.uint8)[labels]
    gt = labels.copy()
    gt[16:32] = 255
    gt[:, 24:40] = 255
    planted = gt.copy()
    planted[2:6, 2:8] = 2  # inside the hat corner
    planted[40:44, 2:12] = 5  # inside the bottom-left background corner
    root = tmp_path / 'VIP_Fine'
    videos = {'vid-a': [labels, gt, planted, None], 'vid-b': [labels, gt, gt, gt]}
    for video, gts in videos.items():
        (root / 'Images' / video).mkdir(parents=True)
        ann = root / 'Annotations' / 'Category_ids' / video
        ann.mkdir(parents=True)
        for t, ids in enumerate(gts):
            Image.fromarray(frame).save(root / 'Images' / video / f'{t:05d}.png')
            if ids is not None:
                write_indexed_png(str(ann / f'{t:05d}.png'), ids)
    (root / 'lists').mkdir()
    (root / 'lists' / 'val_videos.txt').write_text('vid-a\nvid-b\n')
    config = tmp_path / 'pixel_vip_topk.py'  # the VIP protocol-B config, Lab colour features
    config.write_text(
        f"_base_ = ['{REPO}/configs/test/corrflow_vip_topk.py']\n"
        "model = dict(backbone=dict(_delete_=True, type='PixelColourEncoder', stride=4),\n"
        "             neck=None, input_size=None)\n")
    result = tool('tools/test.py', str(config), 'vip', 'none', '--data-root', str(root),
                  '--work-dir', str(tmp_path / 'out'), '--cfg-options',
                  'test_evaluator.save_masks=True')
    assert result.returncode == 0, result.stderr[-3000:]
    out = tmp_path / 'out' / 'vip'
    report = json.loads((out / 'miou.json').read_text())
    assert report['frames'] == 2 + 3  # frame 0 is given and frames without GT are not scored
    assert report['videos'] == ['vid-a', 'vid-b']
    assert report['propagation']['encoder'] == 'PixelColourEncoder'
    expected = {'background': 3800 / 3840, 'hat': 1896 / 1920, 'hair': 1920 / 1944,
                'dress': 0.0}
    assert {k: v for k, v in report['per_class'].items() if v is not None} == \
        pytest.approx(expected, abs=1e-12)
    assert report['mIoU'] == pytest.approx(sum(expected.values()) / 4, abs=1e-12)
    # the saved predictions: every scored pixel is the frame-0 label, and scoring them
    # pixel by pixel gives the numbers above
    scored = gt != 255
    inter, union = np.zeros(20), np.zeros(20)
    for video, gts in videos.items():
        for t, ids in enumerate(gts):
            with Image.open(out / video / f'{t:05d}.png') as img:
                pred = np.asarray(img)
            assert pred.shape == (H, W)
            assert (pred[scored] == labels[scored]).all()
            if t == 0 or ids is None:
                continue
            valid = ids != 255
            for c in range(20):
                inter[c] += ((pred == c) & (ids == c) & valid).sum()
                union[c] += (((pred == c) | (ids == c)) & valid).sum()
    assert [int(v) for v in inter[[0, 1, 2, 5]]] == [3800, 1896, 1920, 0]
    assert [int(v) for v in union[[0, 1, 2, 5]]] == [3840, 1920, 1944, 40]
    assert union.sum() == union[[0, 1, 2, 5]].sum()


def test_sequences_option_scores_only_those(tool, tmp_path, davis_root, checkpoint):
    result = tool('tools/test.py', 'configs/test/corrflow_davis.py', 'davis', str(checkpoint),
                  '--data-root', str(davis_root), '--work-dir', str(tmp_path),
                  '--sequences', 'seq-c,seq-a')
    assert result.returncode == 0, result.stderr[-3000:]
    with open(tmp_path / 'davis' / 'per-sequence_results-val.csv') as f:
        names = sorted({row[0].rsplit('_', 1)[0] for row in list(csv.reader(f))[1:]})
    assert names == ['seq-a', 'seq-c'] and not (tmp_path / 'davis' / 'seq-b').exists()


@pytest.mark.parametrize('args,message', [
    (['configs/test/corrflow_davis.py', 'jhmdb', 'none'], 'evaluates task "davis"'),
    (['configs/test/corrflow_davis.py', 'davis', 'missing.pth'], 'does not exist'),
    (['configs/test/corrflow_davis.py', 'davis', 'none', '--sequences', 'seq-a,nope'],
     'DAVIS sequence "nope"'),
    (['configs/test/corrflow_jhmdb_topk.py', 'jhmdb', 'none', '--sequences', 'a'],
     '--sequences is for davis and ytvos, not jhmdb'),
])
def test_bad_arguments(tool, tmp_path, davis_root, args, message):
    result = tool('tools/test.py', *args, '--data-root', str(davis_root), '--work-dir',
                  str(tmp_path))
    assert result.returncode == 1 and 'Traceback' not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and message in result.stderr


def test_wrong_architecture_checkpoint(tool, tmp_path, davis_root):
    import torch
    torch.save(dict(state_dict={'backbone.conv1.weight': torch.zeros(8, 3, 3, 3)}),
               tmp_path / 'other.pth')
    result = tool('tools/test.py', 'configs/test/corrflow_davis.py', 'davis',
                  str(tmp_path / 'other.pth'), '--data-root', str(davis_root), '--work-dir',
                  str(tmp_path))
    assert result.returncode == 1 and 'Traceback' not in result.stderr
    assert 'does not fit LabelPropagator' in result.stderr


def test_text_file_as_checkpoint_is_one_line_before_the_runner(tool, tmp_path, davis_root):
    (tmp_path / 'notes.pth').write_text('not weights\n')
    result = tool('tools/test.py', 'configs/test/corrflow_davis.py', 'davis',
                  str(tmp_path / 'notes.pth'), '--data-root', str(davis_root), '--work-dir',
                  str(tmp_path))
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        f'error: checkpoint {tmp_path / "notes.pth"} is a text file (it starts with "not '
        'weights"); expected a PyTorch checkpoint (torch.save)']
    # refused before the runner was built: nothing of its set-up reached the console
    assert 'System environment' not in result.stdout + result.stderr


def test_amp_bf16_propagation_matches_fp32(tool, tmp_path, davis_root, checkpoint):
    """tools/test.py --amp: bf16 backbone and affinity products, masks as in fp32."""
    masks = {}
    for name, extra in (('fp32', []), ('bf16', ['--amp', 'bf16'])):
        result = tool('tools/test.py', 'configs/test/corrflow_davis_topk_lite.py', 'davis',
                      str(checkpoint), '--data-root', str(davis_root), '--work-dir',
                      str(tmp_path / name), *extra)
        assert result.returncode == 0, result.stderr[-3000:]
        out = tmp_path / name / 'davis'
        settings = json.loads((out / 'propagation.json').read_text())
        assert settings['propagation']['precision'].startswith(name)
        masks[name] = np.stack([np.asarray(Image.open(p)) for p in sorted(out.rglob('*.png'))])
    assert (masks['bf16'] == masks['fp32']).mean() > 0.98


def test_amp_fp16_on_a_cpu_is_refused(tool, tmp_path, davis_root, checkpoint):
    result = tool('tools/test.py', 'configs/test/corrflow_davis.py', 'davis', str(checkpoint),
                  '--data-root', str(davis_root), '--work-dir', str(tmp_path), '--amp', 'fp16')
    assert result.returncode == 1 and 'Traceback' not in result.stderr
    assert 'fp16 autocast needs a CUDA GPU' in result.stderr


def test_a_checkpoint_holding_nan_is_one_error_line(tool, tmp_path, davis_root, checkpoint):
    state = torch.load(checkpoint, weights_only=True)
    weights = state.get('state_dict', state)
    name = next(k for k, v in weights.items() if v.is_floating_point())
    weights[name] = torch.full_like(weights[name], float('nan'))
    broken = tmp_path / 'diverged.pth'
    torch.save(state, broken)
    result = tool('tools/test.py', 'configs/test/corrflow_davis.py', 'davis', str(broken),
                  '--data-root', str(davis_root), '--work-dir', str(tmp_path / 'out'))
    assert result.returncode == 1 and 'Traceback' not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f'error: checkpoint {broken} holds weights '
                                                   'that are not finite')
    assert not (tmp_path / 'out' / 'davis').exists() or not any((tmp_path / 'out' / 'davis')
                                                               .rglob('*.png'))


def test_a_davis_sequence_of_two_frames_is_one_error_line_before_any_work(tool, tmp_path,
                                                                          checkpoint):
    root = write_davis_layout(tmp_path / 'davis', sequences=('short',), frames=2)
    result = tool('tools/test.py', 'configs/test/corrflow_davis.py', 'davis', str(checkpoint),
                  '--data-root', str(root), '--work-dir', str(tmp_path / 'out'))
    assert result.returncode == 1 and 'Traceback' not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith('error: DAVIS sequence "short" has 2 frame(s) in ')
    assert 'needs at least 3' in lines[0]
    assert not list((tmp_path / 'out').rglob('*.png'))  # refused before propagating
