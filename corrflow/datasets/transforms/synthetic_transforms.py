"""Rendering of synthetic training clips (see :mod:`corrflow.datasets.synthetic`)."""
from __future__ import annotations

import numpy as np
from mmcv.transforms import BaseTransform

from corrflow.datasets.synthetic import SyntheticScene
from corrflow.registry import TRANSFORMS

__all__ = ['LoadSyntheticClip']


@TRANSFORMS.register_module()
class LoadSyntheticClip(BaseTransform):
    """Render the frames of a :class:`~corrflow.datasets.SyntheticVideos` clip.

    Reads ``synthetic_seed``, ``synthetic_size`` (W, H), ``synthetic_num_objects``
    and ``frame_indices``; renders only those frames (frame t is a function of
    the seed and t) into ``results['frames']`` (list of (H, W, 3) uint8 RGB) and
    their visible-instance masks into ``results['gt_masks']`` ((T, H, W) uint8,
    0 background, 1..N objects). Takes the place of ``LoadClipFrames``.
    """

    def transform(self, results: dict) -> dict:
        scene = SyntheticScene(results['synthetic_seed'], results['synthetic_size'],
                               results.get('synthetic_num_objects'))
        rendered = [scene.render(int(t)) for t in results['frame_indices']]
        results['frames'] = [frame for frame, _ in rendered]
        results['gt_masks'] = np.stack([mask for _, mask in rendered])  # (T, H, W)
        results['ori_shape'] = (scene.height, scene.width)
        return results
