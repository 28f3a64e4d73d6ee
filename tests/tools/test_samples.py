"""The samples in demo/: drawn again identically by their script, and the documented
commands run on them as written."""
from __future__ import annotations

import csv
import importlib.util
import json
from pathlib import Path

import numpy as np
from PIL import Image
from scipy.io import loadmat

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / 'demo'


def _render_module():
    spec = importlib.util.spec_from_file_location('render_samples',
                                                  REPO / 'tools/data/render_samples.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_samples_are_what_the_script_draws(tmp_path):
    assert _render_module().main(['--out', str(tmp_path)]) == 0
    shipped = sorted(p.relative_to(DEMO) for p in DEMO.rglob('*') if p.is_file()
                     and p.name != 'README.md')
    drawn = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob('*') if p.is_file())
    assert shipped == drawn
    for rel in drawn:
        if rel.suffix in ('.png', '.txt'):  # lossless: the same bytes
            assert (DEMO / rel).read_bytes() == (tmp_path / rel).read_bytes(), rel
        elif rel.suffix == '.mat':  # its header holds the time it was written
            assert np.array_equal(loadmat(DEMO / rel)['pos_img'],
                                  loadmat(tmp_path / rel)['pos_img'])
    # labels: every DAVIS frame annotated, the first-frame mask holds the clip's objects
    ids = np.unique(np.array(Image.open(DEMO / 'sample_clip_mask.png')))
    assert ids[0] == 0 and len(ids) >= 3
    frames = sorted(DEMO.glob('davis_sample/JPEGImages/480p/*/*.jpg'))
    annotations = sorted(DEMO.glob('davis_sample/Annotations/480p/*/*.png'))
    assert len(frames) == len(annotations) == 16
    assert sum(p.stat().st_size for p in DEMO.rglob('*') if p.is_file()) < 1_000_000


def test_davis_sample_command_runs_as_written(tool, tmp_path):
    result = tool('tools/test.py', 'configs/test/corrflow_davis_crw_lite.py', 'davis',
                  'checkpoints/corrflow_r18_davis16.pth', '--data-root', 'demo/davis_sample',
                  '--work-dir', str(tmp_path))
    assert result.returncode == 0, result.stderr[-3000:]
    with open(tmp_path / 'davis' / 'global_results-val.csv') as f:
        rows = list(csv.reader(f))
    assert float(rows[1][0]) > 0.8  # easy scenes: a check of the set-up, not of a method


def test_jhmdb_sample_command_runs_as_written(tool, tmp_path):
    result = tool('tools/test.py', 'configs/test/corrflow_jhmdb_topk.py', 'jhmdb',
                  'checkpoints/corrflow_r18_davis16.pth', '--data-root', 'demo/jhmdb_sample',
                  '--cfg-options', 'test_dataloader.dataset.ann_file=', '--work-dir',
                  str(tmp_path))
    assert result.returncode == 0, result.stderr[-3000:]
    pck = json.loads((tmp_path / 'jhmdb' / 'pck.json').read_text())
    assert pck['metrics']['PCK@0.1'] > 0.8


def test_sample_clip_command_runs_as_written(tool, tmp_path):
    result = tool('tools/propagate.py', 'demo/sample_clip.mp4', 'demo/sample_clip_mask.png',
                  '--checkpoint', 'checkpoints/corrflow_r18_davis16.pth', '--config',
                  'configs/test/corrflow_davis_crw_lite.py', '--out', str(tmp_path),
                  '--no-video')
    assert result.returncode == 0, result.stderr[-3000:]
    masks = sorted((tmp_path / 'masks').glob('*.png'))
    assert len(masks) == 32
    first = np.array(Image.open(DEMO / 'sample_clip_mask.png'))
    last = np.array(Image.open(masks[-1]))
    assert set(np.unique(last)) <= set(np.unique(first)) and len(np.unique(last)) >= 3
