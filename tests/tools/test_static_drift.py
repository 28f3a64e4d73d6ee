"""tools/analysis/static_drift.py: drift figures, a run on a tiny image, one-line errors."""
import importlib.util
import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from corrflow.evaluation.png_io import voc_palette, write_indexed_png

REPO_ROOT = Path(__file__).resolve().parents[2]
TOOL = REPO_ROOT / 'tools' / 'analysis' / 'static_drift.py'
PIXEL_A = str(REPO_ROOT / 'configs' / 'test' / 'pixel_lab_raw_davis.py')
PIXEL_B = str(REPO_ROOT / 'configs' / 'test' / 'pixel_lab_davis_topk_lite.py')

_spec = importlib.util.spec_from_file_location('static_drift_tool', TOOL)
drift_tool = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(drift_tool)


def test_mask_drift_hand_computed():
    masks = np.zeros((3, 4, 4), dtype=np.uint8)
    masks[0, :2, :2] = 1          # 4 px of id 1
    masks[0, 3, 3] = 2            # 1 px of id 2
    masks[1, :2, :1] = 1          # 2 px of id 1 inside the reference
    masks[1, 3, 3] = 2
    masks[2, 2:, :2] = 1          # 4 px, disjoint from the reference foreground
    rows = drift_tool.mask_drift(masks)
    assert [r['areas'] for r in rows] == [{1: 4, 2: 1}, {1: 2, 2: 1}, {1: 4, 2: 0}]
    assert rows[0]['iou'] == 1.0
    assert rows[1]['iou'] == pytest.approx(3 / 5)
    assert rows[2]['iou'] == pytest.approx(0 / 9)


def test_mask_drift_empty_reference_counts_as_kept():
    rows = drift_tool.mask_drift(np.zeros((2, 3, 3), dtype=np.uint8))
    assert [r['iou'] for r in rows] == [1.0, 1.0] and rows[0]['areas'] == {}


@pytest.fixture
def image_and_mask(tmp_path):
    """A 64x48 textured frame and a mask of a bright square on it."""
    rng = np.random.default_rng(0)
    frame = rng.integers(0, 120, size=(48, 64, 3), dtype=np.uint8)
    frame[12:36, 16:40] = rng.integers(150, 255, size=(24, 24, 3), dtype=np.uint8)
    mask = np.zeros((48, 64), dtype=np.uint8)
    mask[12:36, 16:40] = 1
    cv2.imwrite(str(tmp_path / 'frame.png'), frame)
    write_indexed_png(tmp_path / 'mask.png', mask, voc_palette())
    return tmp_path / 'frame.png', tmp_path / 'mask.png'


@pytest.mark.parametrize('config', [PIXEL_A, PIXEL_B])
def test_runs_and_writes_figures(image_and_mask, tmp_path, capsys, config):
    frame, mask = image_and_mask
    out = tmp_path / 'drift.json'
    code = drift_tool.main([str(frame), str(mask), '--config', config, '--frames', '4',
                            '--cfg-options', 'model.input_size=None', '--out', str(out)])
    assert code == 0
    record = json.loads(out.read_text())
    assert [r['frame'] for r in record['drift']] == [0, 1, 2, 3]
    assert record['drift'][0] == dict(frame=0, areas={'1': 24 * 24}, iou=1.0)
    assert all(0.0 <= r['iou'] <= 1.0 for r in record['drift'])
    printed = capsys.readouterr().out
    assert '4 copies of' in printed and 'IoU with frame 0' in printed


@pytest.mark.parametrize('args, message', [
    (['missing.png', '{mask}'], 'does not exist'),
    (['{frame}', '{frame}'], 'colours'),
    (['{frame}', '{mask}', '--frames', '1'], '--frames must be at least 2'),
    (['{frame}', '{mask}', '--config', 'nope.py'], 'config nope.py does not exist'),
    (['{frame}', '{mask}', '--config', PIXEL_A, '--cfg-options', 'model.input_sise=3'],
     'did you mean model.input_size'),
    (['{frame}', '{mask}', '--scale', '0.01'], 'nothing is labelled'),
])
def test_bad_input_one_line(image_and_mask, capsys, args, message):
    frame, mask = image_and_mask
    args = [a.format(frame=frame, mask=mask) for a in args]
    assert drift_tool.main(args) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith('error: ') and '\n' not in err and message in err
