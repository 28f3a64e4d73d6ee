"""The committed model-zoo weights load safely and beat the identity baseline."""
import json
from pathlib import Path

import cv2
import numpy as np
import torch

from corrflow.apis import init_model, propagate
from corrflow.evaluation.davis_io import read_davis_gt
from corrflow.evaluation.functional.davis import evaluate_sequence

REPO_ROOT = Path(__file__).resolve().parents[2]
WEIGHTS = REPO_ROOT / 'checkpoints' / 'corrflow_r18_davis16.pth'


def test_weights_are_a_small_fp16_state_dict():
    assert WEIGHTS.stat().st_size <= 12 * 10**6
    state = torch.load(WEIGHTS, weights_only=True)
    assert all(isinstance(v, torch.Tensor) for v in state.values())
    assert {v.dtype for v in state.values() if v.is_floating_point()} == {torch.float16}
    meta = json.loads(Path(f'{WEIGHTS}.json').read_text())
    assert meta['sha256'] and meta['iteration'] > 0


def _downscaled(davis_root: Path, seq: str, frames: int, scale: float):
    gt, names = read_davis_gt(str(davis_root), seq)
    gt = gt[:frames]
    imgs = []
    for name in names[:frames]:
        bgr = cv2.imread(str(davis_root / 'JPEGImages' / '480p' / seq / f'{name}.jpg'))
        imgs.append(cv2.cvtColor(cv2.resize(bgr, None, fx=scale, fy=scale,
                                            interpolation=cv2.INTER_AREA), cv2.COLOR_BGR2RGB))
    video = np.stack(imgs)
    size = video.shape[2], video.shape[1]
    small_gt = np.stack([cv2.resize(g, size, interpolation=cv2.INTER_NEAREST) for g in gt])
    return video, small_gt


def test_trained_weights_beat_identity_on_a_davis_sequence(shared_data):
    """Protocol B (reduced context) on the first 25 frames of car-shadow at half resolution.

    The weights beat identity on this 15-sequence subset under protocol B (see the
    README model zoo); under protocol A (hard labels, raw dot products) masks of
    this short run erode from frame to frame.
    """
    davis_root = shared_data / 'davis2016-val-subset'
    torch.set_num_threads(min(2, torch.get_num_threads()))
    video, gt = _downscaled(davis_root, 'car-shadow', frames=25, scale=0.5)
    model = init_model(REPO_ROOT / 'configs/test/corrflow_davis_topk_lite.py', checkpoint=WEIGHTS,
                       cfg_options={'model.input_size': None})  # keep the half resolution
    pred = propagate(model, video, gt[0])['masks']
    assert pred.shape == gt.shape

    def jf(masks):
        j, f = evaluate_sequence(gt, masks)
        return (j.mean() + f.mean()) / 2

    identity = jf(np.repeat(gt[:1], len(gt), axis=0))
    trained = jf(pred)
    assert trained > identity + 0.1, (trained, identity)
