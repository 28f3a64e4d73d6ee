"""Label propagation on a CUDA GPU with the model-zoo weights, on a real DAVIS sequence.

CUDA fp32 against CPU fp32 (the same masks up to summation order), and CUDA bf16/fp16
against CUDA fp32. The first 12 frames of car-shadow at half resolution (427x240), through
protocol A (``configs/test/corrflow_davis.py``: raw dot products, previous frame) and the
reduced protocol B (``configs/test/corrflow_davis_topk_lite.py``).
"""
from functools import cache
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from corrflow.apis import init_model, propagate
from corrflow.evaluation.davis_io import read_davis_gt
from corrflow.evaluation.functional.davis import evaluate_sequence

pytestmark = [
    pytest.mark.cuda,
    pytest.mark.skipif(not torch.cuda.is_available(),
                       reason='needs a CUDA GPU (torch.cuda.is_available() is False)'),
]

REPO_ROOT = Path(__file__).resolve().parents[2]
WEIGHTS = REPO_ROOT / 'checkpoints' / 'corrflow_r18_davis16.pth'
CONFIGS = {
    'A': 'configs/test/corrflow_davis.py',
    'B-lite': 'configs/test/corrflow_davis_topk_lite.py',
}
SEQUENCE, FRAMES, SCALE = 'car-shadow', 12, 0.5
#: Share of equal pixels over all frames. GPU and CPU fp32 differ only in summation order.
#: Under amp the backbone and the affinity products are bf16/fp16; the same clip under CPU
#: autocast of the same dtypes gave 99.97-100 % equal pixels and J&F within 1e-3 of fp32.
FP32_AGREEMENT = 0.995
AMP_AGREEMENT = 0.99
AMP_JF_TOLERANCE = 0.01


@pytest.fixture(scope='module')
def clip(shared_data):
    """(frames (T, H, W, 3) RGB uint8, GT (T, H, W) ids) of the sequence at half resolution."""
    root = shared_data / 'davis2016-val-subset'
    if not (root / 'JPEGImages' / '480p' / SEQUENCE).is_dir():
        pytest.skip(f'DAVIS sequence {SEQUENCE} not found under {root}')
    if not WEIGHTS.is_file():
        pytest.skip(f'model-zoo weights {WEIGHTS} not found')
    gt, names = read_davis_gt(str(root), SEQUENCE)
    frames = []
    for name in names[:FRAMES]:
        bgr = cv2.imread(str(root / 'JPEGImages' / '480p' / SEQUENCE / f'{name}.jpg'))
        small = cv2.resize(bgr, None, fx=SCALE, fy=SCALE, interpolation=cv2.INTER_AREA)
        frames.append(cv2.cvtColor(small, cv2.COLOR_BGR2RGB))
    video = np.stack(frames)
    size = video.shape[2], video.shape[1]
    small_gt = np.stack([cv2.resize(g, size, interpolation=cv2.INTER_NEAREST)
                         for g in gt[:FRAMES]])
    return video, small_gt


@cache
def _model(protocol: str, device: str, amp: str):
    return init_model(REPO_ROOT / CONFIGS[protocol], checkpoint=WEIGHTS, device=device,
                      cfg_options={'model.input_size': None}, amp=amp)  # keep the half size


@pytest.fixture(scope='module')
def masks(clip):
    """``masks(protocol, device, amp)`` -> (T, H, W) propagated ids, each computed once."""
    video, gt = clip
    cache = {}

    def run(protocol: str, device: str, amp: str) -> np.ndarray:
        key = protocol, device, amp
        if key not in cache:
            result = propagate(_model(*key), video, gt[0])
            assert result['propagation']['precision'].startswith(amp), result['propagation']
            cache[key] = result['masks']
        return cache[key]

    return run


def _jf(gt, pred) -> float:
    j, f = evaluate_sequence(gt, pred)
    return float((j.mean() + f.mean()) / 2)


@pytest.mark.parametrize('protocol', list(CONFIGS))
def test_cuda_fp32_masks_match_cpu_fp32(masks, clip, protocol):
    cpu = masks(protocol, 'cpu', 'fp32')
    cuda = masks(protocol, 'cuda', 'fp32')
    assert cuda.shape == cpu.shape == clip[1].shape
    equal = float((cuda == cpu).mean())
    assert equal >= FP32_AGREEMENT, (protocol, equal)


@pytest.mark.parametrize('amp', ['bf16', 'fp16'])
@pytest.mark.parametrize('protocol', list(CONFIGS))
def test_cuda_amp_masks_match_cuda_fp32(masks, clip, protocol, amp):
    if amp == 'bf16' and not torch.cuda.is_bf16_supported():
        pytest.skip(f'GPU {torch.cuda.get_device_name()} does not support bf16')
    ref = masks(protocol, 'cuda', 'fp32')
    low = masks(protocol, 'cuda', amp)
    equal = float((low == ref).mean())
    assert equal >= AMP_AGREEMENT, (protocol, amp, equal)
    gt = clip[1]
    assert _jf(gt, low) == pytest.approx(_jf(gt, ref), abs=AMP_JF_TOLERANCE)


def test_model_zoo_features_stay_far_below_the_fp16_limit(shared_data):
    """Protocol A multiplies raw features: an affinity above 65504 would overflow in fp16.

    The largest affinity of a query is at most max |f|^2 (Cauchy-Schwarz over its window);
    on DAVIS 480p frames the weights give max |f|^2 of about 775 (measured in fp32 on a CPU).
    """
    root = shared_data / 'davis2016-val-subset' / 'JPEGImages' / '480p'
    if not root.is_dir() or not WEIGHTS.is_file():
        pytest.skip('DAVIS frames or model-zoo weights not found')
    model = _model('A', 'cuda', 'fp16')
    largest = 0.0
    for seq in ('blackswan', 'bmx-trees', 'breakdance', SEQUENCE):
        bgr = cv2.imread(str(root / seq / '00000.jpg'))
        if bgr is None:
            continue
        rgb = torch.from_numpy(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)).permute(2, 0, 1)
        frame = rgb[None].float().div(255).cuda()
        with torch.no_grad(), model.precision.autocast():
            feat = model.embed(frame)
        assert feat.dtype == torch.float16
        largest = max(largest, float(feat.float().pow(2).sum(1).max()))
    assert 0 < largest < torch.finfo(torch.float16).max / 16, largest
