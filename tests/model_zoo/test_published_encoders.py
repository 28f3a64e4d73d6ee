"""The committed TimeCycle and Spa-then-Temp weights load safely and reproduce their scores."""
import csv
import hashlib
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch

from corrflow.apis import init_model

REPO_ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Published:
    """One model-zoo file: what it must hold and the result folder it must reproduce."""

    weights: str
    config: str          # the architecture config named in its .json
    eval_config: str     # the config its published per-sequence scores came from
    results: str
    prefixes: tuple[str, ...]

    def __str__(self) -> str:
        return Path(self.weights).stem


ENTRIES = [
    Published('checkpoints/timecycle_r18_davis16.pth', 'configs/test/timecycle_r18_davis.py',
              'configs/test/timecycle_r18_davis.py', 'benchmarks/results/timecycle_zoo/TC320',
              ('backbone.', 'neck.')),
    Published('checkpoints/spa_then_temp_r18_davis16.pth', 'configs/test/spa_then_temp_r18_d8.py',
              'configs/test/spa_then_temp_r18_d8_lite.py',
              'benchmarks/results/spa_then_temp_zoo/Blite', ('backbone.',)),
]


@pytest.mark.parametrize('entry', ENTRIES, ids=str)
def test_weights_are_a_small_fp16_state_dict_of_the_test_encoder(entry):
    weights = REPO_ROOT / entry.weights
    assert weights.stat().st_size <= 12 * 10**6
    state = torch.load(weights, weights_only=True)
    assert {v.dtype for v in state.values() if v.is_floating_point()} == {torch.float16}
    meta = json.loads(Path(f'{weights}.json').read_text())
    assert meta['sha256'] == hashlib.sha256(weights.read_bytes()).hexdigest()
    assert meta['iteration'] == 1000 and meta['architecture_config'] == entry.config
    assert all(k.startswith(entry.prefixes) for k in state)  # no training-only entries
    model = init_model(REPO_ROOT / entry.config, checkpoint=weights)
    loaded = model.state_dict()
    assert set(loaded) == set(state)
    for key, value in state.items():
        assert torch.equal(loaded[key].to(value.dtype), value), key


def _published(entry: Published, sequence: str) -> tuple[float, float]:
    with open(REPO_ROOT / entry.results / 'per-sequence_results-val.csv') as f:
        row = next(r for r in csv.DictReader(f) if r['Sequence'] == f'{sequence}_1')
    return float(row['J-Mean']), float(row['F-Mean'])


@pytest.mark.parametrize('entry', ENTRIES, ids=str)
def test_tools_test_reproduces_the_published_score_on_a_sequence(entry, shared_data, tmp_path):
    """tools/test.py with the config of the published scores, car-shadow (40 frames)."""
    data = shared_data / 'davis2016-val-subset'
    if not data.is_dir():
        pytest.skip(f'{data} is missing')
    env = dict(os.environ, OMP_NUM_THREADS='2')
    proc = subprocess.run(
        [sys.executable, 'tools/test.py', entry.eval_config, 'davis', entry.weights,
         '--data-root', str(data), '--work-dir', str(tmp_path),
         '--cfg-options', 'test_dataloader.dataset.sequences=[car-shadow]'],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-2000:]
    with open(tmp_path / 'davis' / 'per-sequence_results-val.csv') as f:
        row = next(csv.DictReader(f))
    j, f_score = float(row['J-Mean']), float(row['F-Mean'])
    pub_j, pub_f = _published(entry, 'car-shadow')
    # fp32 on another CPU may flip a few boundary pixels; the scores agree to 0.005
    assert abs(j - pub_j) < 5e-3 and abs(f_score - pub_f) < 5e-3, (j, f_score, pub_j, pub_f)
