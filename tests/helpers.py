"""Tiny data written on the fly for the tool tests, and the training model of the AMP tests."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import torch

from corrflow.datasets.synthetic import render_synthetic_video
from corrflow.evaluation.png_io import write_indexed_png

REPO = Path(__file__).resolve().parents[1]


def run_tool(*args, env=None, timeout=600, cwd=REPO):
    """Run a command of the repository; returns the CompletedProcess."""
    full_env = dict(os.environ, PYTHON=sys.executable, OMP_NUM_THREADS='1',
                    PYTHONPATH=str(REPO))
    full_env.update(env or {})
    cmd = [sys.executable, *args] if str(args[0]).endswith('.py') else list(args)
    return subprocess.run(cmd, cwd=cwd, env=full_env, capture_output=True, text=True,
                          timeout=timeout)


def write_davis_layout(root: Path, sequences=('seq-a', 'seq-b', 'seq-c'), frames: int = 5,
                       size=(96, 64)) -> Path:
    """A DAVIS-layout folder made of synthetic videos with their GT masks."""
    for i, name in enumerate(sequences):
        video, masks = render_synthetic_video(100 + i, frames, size)
        img_dir = root / 'JPEGImages' / '480p' / name
        ann_dir = root / 'Annotations' / '480p' / name
        img_dir.mkdir(parents=True, exist_ok=True)
        for t in range(frames):
            cv2.imwrite(str(img_dir / f'{t:05d}.jpg'), cv2.cvtColor(video[t], cv2.COLOR_RGB2BGR))
            write_indexed_png(str(ann_dir / f'{t:05d}.png'), np.minimum(masks[t], 2))
    (root / 'ImageSets' / '2017').mkdir(parents=True, exist_ok=True)
    (root / 'ImageSets' / '2017' / 'val.txt').write_text('\n'.join(sequences) + '\n')
    return root


def write_random_corrflow_checkpoint(path: Path, seed: int = 0) -> Path:
    """Weights of a randomly initialised CorrFlow encoder, as a corrflow checkpoint."""
    from corrflow.registry import MODELS

    torch.manual_seed(seed)
    model = MODELS.build(dict(type='LabelPropagator', backbone=dict(type='CorrFlowResNet'),
                              neck=dict(type='EmbeddingProjection')))
    torch.save(dict(state_dict=model.state_dict(), meta=dict(note='random')), path)
    return path


def build_training_model():
    """CorrFlow's training model (ResNet-18 variant, 64-d embedding, R 6, colour bottleneck)."""
    from corrflow.registry import MODELS

    return MODELS.build(dict(
        type='RecursiveFlow',
        backbone=dict(type='CorrFlowResNet'),
        neck=dict(type='EmbeddingProjection', in_channels=256, out_channels=64),
        head=dict(type='RestrictedAttentionHead', radius=6, stride=4),
        bottleneck=dict(type='ColourBottleneck')))
