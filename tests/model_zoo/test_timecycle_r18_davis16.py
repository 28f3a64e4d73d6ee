"""The committed TimeCycle weights load safely and reproduce their published score."""
import csv
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from corrflow.apis import init_model

REPO_ROOT = Path(__file__).resolve().parents[2]
WEIGHTS = REPO_ROOT / 'checkpoints' / 'timecycle_r18_davis16.pth'
CONFIG = REPO_ROOT / 'configs' / 'test' / 'timecycle_r18_davis.py'
RESULTS = REPO_ROOT / 'benchmarks' / 'results' / 'timecycle_zoo' / 'TC320'


def test_weights_are_a_small_fp16_state_dict_of_the_test_encoder():
    assert WEIGHTS.stat().st_size <= 12 * 10**6
    state = torch.load(WEIGHTS, weights_only=True)
    assert {v.dtype for v in state.values() if v.is_floating_point()} == {torch.float16}
    meta = json.loads(Path(f'{WEIGHTS}.json').read_text())
    assert meta['sha256'] == hashlib.sha256(WEIGHTS.read_bytes()).hexdigest()
    assert meta['iteration'] == 1000 and meta['architecture_config'] == str(
        CONFIG.relative_to(REPO_ROOT))
    assert all(k.startswith(('backbone.', 'neck.')) for k in state)  # no training-only entries
    model = init_model(CONFIG, checkpoint=WEIGHTS)
    loaded = model.state_dict()
    assert set(loaded) == set(state)
    for key, value in state.items():
        assert torch.equal(loaded[key].to(value.dtype), value), key


def _published(sequence: str) -> tuple[float, float]:
    with open(RESULTS / 'per-sequence_results-val.csv') as f:
        row = next(r for r in csv.DictReader(f) if r['Sequence'] == f'{sequence}_1')
    return float(row['J-Mean']), float(row['F-Mean'])


def test_tools_test_reproduces_the_published_score_on_a_sequence(shared_data, tmp_path):
    """tools/test.py, TimeCycle's protocol, car-shadow (40 frames): the committed J and F."""
    data = shared_data / 'davis2016-val-subset'
    if not data.is_dir():
        pytest.skip(f'{data} is missing')
    env = dict(os.environ, OMP_NUM_THREADS='2')
    proc = subprocess.run(
        [sys.executable, 'tools/test.py', str(CONFIG), 'davis', str(WEIGHTS), '--data-root',
         str(data), '--work-dir', str(tmp_path),
         '--cfg-options', 'test_dataloader.dataset.sequences=[car-shadow]'],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-2000:]
    with open(tmp_path / 'davis' / 'per-sequence_results-val.csv') as f:
        row = next(csv.DictReader(f))
    j, f_score = float(row['J-Mean']), float(row['F-Mean'])
    pub_j, pub_f = _published('car-shadow')
    # fp32 on another CPU may flip a few boundary pixels; the scores agree to 0.005
    assert abs(j - pub_j) < 5e-3 and abs(f_score - pub_f) < 5e-3, (j, f_score, pub_j, pub_f)
