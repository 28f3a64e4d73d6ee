import json
import math
from pathlib import Path

import numpy as np

import colour_statistics

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_entropies_of_hand_made_labels():
    # frame 0: half class 0, half class 1; frame 1 copies frame 0 exactly; frame 2 is all class 0
    f0 = np.array([[0, 0, 1, 1]])
    volume = np.stack([f0, f0, np.zeros_like(f0)])
    stats = colour_statistics.statistics([volume], num_classes=4)
    # prior over the 12 labels: 8 of class 0, 4 of class 1
    assert stats['prior'] == [round(8 / 12, 6), round(4 / 12, 6), 0.0, 0.0]
    assert stats['unused_classes'] == [2, 3]
    assert math.isclose(stats['entropy'], -(2 / 3 * math.log(2 / 3) + 1 / 3 * math.log(1 / 3)))
    assert math.isclose(stats['max_entropy'], math.log(4))
    # frame 1 is determined by frame 0 (0 nats); frame 2 is constant (0 nats)
    assert stats['identity_bound'] == [0.0, 0.0]
    noisy = np.stack([f0, np.array([[0, 1, 0, 1]])])  # c1 independent of c0: H = log 2
    assert math.isclose(colour_statistics.statistics([noisy], 2)['identity_bound'][0],
                        math.log(2))


def test_demo_config_end_to_end(tmp_path, capsys):
    out = tmp_path / 'stats.json'
    assert colour_statistics.main([
        str(REPO_ROOT / 'configs/train/corrflow_r18_demo.py'), '--clips', '3', '--json', str(out),
        '--cfg-options', 'train_dataloader.dataset.datasets.0.size=[32,32]']) == 0
    printed = capsys.readouterr().out
    assert '3 clips of' in printed and '16 colour classes' in printed
    stats = json.loads(out.read_text())
    assert len(stats['prior']) == 16 and math.isclose(sum(stats['prior']), 1, abs_tol=1e-4)
    assert len(stats['identity_bound']) == 2  # 3-frame clips
    assert all(0 <= b <= stats['entropy'] + 1e-9 for b in stats['identity_bound'])
    assert colour_statistics.main([str(REPO_ROOT / 'configs/train/corrflow_r18_demo.py'),
                                   '--clips', '0']) == 1
    assert capsys.readouterr().err.strip() == 'error: --clips must be >= 1, got 0'
