"""tools/analysis/affinity_sharpness.py: hand-computed figures, real runs, one-line errors.

The window affinities are :func:`local_affinity`'s, tested against brute force in
tests/models/test_local_attention.py.
"""
import importlib.util
import json
import math
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

REPO_ROOT = Path(__file__).resolve().parents[2]
TOOL = REPO_ROOT / 'tools' / 'analysis' / 'affinity_sharpness.py'
PIXEL_RAW = str(REPO_ROOT / 'configs' / 'test' / 'pixel_lab_raw_davis.py')
PIXEL_B = str(REPO_ROOT / 'configs' / 'test' / 'pixel_lab_davis_topk_lite.py')
TIMECYCLE = str(REPO_ROOT / 'configs' / 'test' / 'timecycle_r18_davis.py')

_spec = importlib.util.spec_from_file_location('affinity_sharpness_tool', TOOL)
sharpness_tool = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(sharpness_tool)


def test_sharpness_hand_computed():
    # one cell, three keys (one outside the image): logits 0, log 3, -inf
    logits = torch.tensor([0.0, math.log(3.0), float('-inf')]).view(3, 1, 1)
    figures = sharpness_tool.sharpness(logits, temperature=1.0)
    p = torch.tensor([0.25, 0.75])
    entropy = float(-(p * p.log()).sum())
    assert figures['perplexity'].item() == pytest.approx(math.exp(entropy), rel=1e-5)
    assert figures['top1'].item() == pytest.approx(0.75, rel=1e-6)
    assert figures['logit_range'].item() == pytest.approx(math.log(3.0), rel=1e-6)
    # equal logits: a uniform softmax over the keys inside the image
    flat = sharpness_tool.sharpness(torch.tensor([1.0, 1.0, float('-inf')]).view(3, 1, 1), 0.5)
    assert flat['perplexity'].item() == pytest.approx(2.0, rel=1e-5)
    # a lower temperature sharpens the same affinities
    sharp = sharpness_tool.sharpness(logits, temperature=0.1)
    assert sharp['perplexity'].item() < figures['perplexity'].item()


@pytest.fixture
def frames_dir(tmp_path):
    """Six 64x48 frames of a textured square moving right by 2 px per frame."""
    rng = np.random.default_rng(0)
    texture = rng.integers(0, 255, size=(16, 16, 3), dtype=np.uint8)
    folder = tmp_path / 'video'
    folder.mkdir()
    for t in range(6):
        frame = np.full((48, 64, 3), 40, dtype=np.uint8)
        frame[16:32, 10 + 2 * t:26 + 2 * t] = texture
        cv2.imwrite(str(folder / f'{t:05d}.png'), frame)
    return folder


def test_raw_colour_is_sharp_and_unit_length_colour_is_not(frames_dir, tmp_path, capsys):
    """Raw Lab dot products pick the brightest key; under B the softmax spreads."""
    out = tmp_path / 'raw.json'
    assert sharpness_tool.main([str(frames_dir), '--config', PIXEL_RAW, '--max-frames', '4',
                                '--cfg-options', 'model.input_size=None', '--out',
                                str(out)]) == 0
    raw = json.loads(out.read_text())
    assert raw['radius'] == 6 and raw['window'] == 169 and raw['temperature'] == 1.0
    assert raw['videos'][0]['frames'] == 4
    assert raw['videos'][0]['top1'] > 0.99
    printed = capsys.readouterr().out
    assert 'median over videos' in printed and 'perplexity' in printed
    out_b = tmp_path / 'b.json'
    assert sharpness_tool.main([str(frames_dir), '--config', PIXEL_B, '--cfg-options',
                                'model.input_size=None', '--out', str(out_b)]) == 0
    lite = json.loads(out_b.read_text())
    assert lite['radius'] == 12 and lite['temperature'] == pytest.approx(0.07)
    assert lite['propagation']['feature_norm'] == 'L2'
    assert lite['videos'][0]['perplexity'] > raw['videos'][0]['perplexity']
    assert lite['videos'][0]['frames'] == 6


@pytest.mark.parametrize('args, message', [
    (['missing_dir'], 'does not exist'),
    (['{video}', '--max-frames', '1'], '--max-frames must be at least 2'),
    (['{video}', '--config', 'nope.py'], 'config nope.py does not exist'),
    (['{video}', '--config', PIXEL_RAW, '--cfg-options', 'model.input_sise=3'],
     'did you mean model.input_size'),
    (['{video}', '--config', TIMECYCLE], 'give a window radius with --radius'),
])
def test_bad_input_one_line(frames_dir, capsys, args, message):
    args = [a.format(video=frames_dir) for a in args]
    assert sharpness_tool.main(args) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith('error: ') and '\n' not in err and message in err
