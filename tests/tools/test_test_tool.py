"""tools/test.py and tools/dist_test.sh end to end on tiny data and the JHMDB sample."""
import csv
import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from helpers import write_davis_layout, write_random_corrflow_checkpoint  # noqa: E402

from corrflow.evaluation.davis_io import write_indexed_png  # noqa: E402

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


def test_vip_end_to_end(tool, tmp_path, davis_root, checkpoint):
    # a VIP_Fine layout made of the synthetic DAVIS-layout videos (ids 0..2)
    root = tmp_path / 'VIP_Fine'
    for seq in ('seq-a', 'seq-b'):
        (root / 'Images').mkdir(parents=True, exist_ok=True)
        (root / 'Images' / seq).symlink_to(davis_root / 'JPEGImages' / '480p' / seq)
        ann = root / 'Annotations' / 'Category_ids' / seq
        ann.mkdir(parents=True)
        for png in sorted((davis_root / 'Annotations' / '480p' / seq).glob('*.png')):
            with Image.open(png) as img:
                ids = np.asarray(img).copy()
            ids[:2] = 255  # ignored pixels
            write_indexed_png(str(ann / png.name), ids)
    (root / 'lists').mkdir()
    (root / 'lists' / 'val_videos.txt').write_text('seq-a\nseq-b\n')
    result = tool('tools/test.py', 'configs/test/corrflow_vip_topk.py', 'vip', str(checkpoint),
                  '--data-root', str(root), '--work-dir', str(tmp_path / 'out'),
                  '--cfg-options', 'model.input_size=[96,64]', 'model.propagation.radius=6')
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads((tmp_path / 'out' / 'vip' / 'miou.json').read_text())
    assert report['frames'] == 2 * 4  # frame 0 is given, not scored
    assert 0 <= report['mIoU'] <= 1 and report['per_class']['hat'] is not None


@pytest.mark.parametrize('args,message', [
    (['configs/test/corrflow_davis.py', 'jhmdb', 'none'], 'evaluates task "davis"'),
    (['configs/test/corrflow_davis.py', 'davis', 'missing.pth'], 'does not exist'),
])
def test_bad_arguments(tool, tmp_path, davis_root, args, message):
    result = tool('tools/test.py', *args, '--data-root', str(davis_root), '--work-dir',
                  str(tmp_path))
    assert result.returncode == 1 and 'Traceback' not in result.stderr
    assert message in result.stderr


def test_wrong_architecture_checkpoint(tool, tmp_path, davis_root):
    import torch
    torch.save(dict(state_dict={'backbone.conv1.weight': torch.zeros(8, 3, 3, 3)}),
               tmp_path / 'other.pth')
    result = tool('tools/test.py', 'configs/test/corrflow_davis.py', 'davis',
                  str(tmp_path / 'other.pth'), '--data-root', str(davis_root), '--work-dir',
                  str(tmp_path))
    assert result.returncode == 1 and 'Traceback' not in result.stderr
    assert 'does not fit LabelPropagator' in result.stderr


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
