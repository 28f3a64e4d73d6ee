"""JHMDB keypoint propagation: PCK@alpha."""
from __future__ import annotations

import json
import os
import os.path as osp
from typing import Sequence

import cv2
import numpy as np
from mmengine.evaluator import BaseMetric
from mmengine.logging import MMLogger

from corrflow.datasets.video_io import DataError
from corrflow.evaluation.functional.keypoints import (accumulate_pck, keypoint_decoding,
                                                     pck_hits)
from corrflow.registry import METRICS

__all__ = ['JHMDBMetric']


@METRICS.register_module()
class JHMDBMetric(BaseMetric):
    """PCK of propagated keypoints, accumulated over all videos.

    Protocol (named in the output): frame 0 (the seed) is not scored; the
    normaliser of a frame is 0.6 x the diagonal of the tight box around its GT
    joints; PCK@alpha per joint is the share of scored frames whose error is
    within alpha x normaliser, then the mean over joints.

    Args:
        alphas (Sequence[float]): thresholds.
        out_dir (str | None): where ``pck.json`` and per-video keypoints go.
        save_overlays (bool): also draw predicted (and GT) joints on the frames.
        collect_device (str): device for gathering results across ranks.
        prefix (str | None): metric-name prefix (default ``jhmdb``).
    """

    default_prefix = 'jhmdb'

    def __init__(self, alphas: Sequence[float] = (0.1, 0.2), out_dir: str | None = None,
                 save_overlays: bool = False, collect_device: str = 'cpu',
                 prefix: str | None = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.alphas = tuple(alphas)
        self.out_dir = out_dir
        self.save_overlays = save_overlays

    def process(self, data_batch: dict, data_samples: Sequence[dict]) -> None:
        for out, meta in zip(data_samples, data_batch['data_samples']):
            pred = np.asarray(out['pred_keypoints'], dtype=np.float32)  # (T, J, 2)
            gt = np.asarray(meta['gt_keypoints'], dtype=np.float32)  # (T, J, 2)
            if pred.shape != gt.shape:
                raise ValueError(f'video {meta["video"]}: predicted keypoints {pred.shape} and '
                                 f'GT {gt.shape} differ in shape')
            if self.out_dir:
                path = osp.join(self.out_dir, 'keypoints', meta['video'] + '.json')
                os.makedirs(osp.dirname(path), exist_ok=True)
                with open(path, 'w') as f:
                    json.dump(dict(video=meta['video'], frames=meta.get('frame_names'),
                                   keypoints=pred.round(2).tolist()), f)
                if self.save_overlays:
                    self._draw(meta, pred, gt)
            self.results.append(dict(video=meta['video'],
                                     hits=pck_hits(pred, gt, self.alphas, skip_first=True),
                                     propagation=out.get('propagation')))

    def _draw(self, meta: dict, pred: np.ndarray, gt: np.ndarray) -> None:
        folder = osp.join(self.out_dir, 'overlays', meta['video'])
        os.makedirs(folder, exist_ok=True)
        for t, path in enumerate(meta.get('frame_paths', [])):
            img = cv2.imread(path)
            if img is None:
                continue
            for (gx, gy), (px, py) in zip(gt[t], pred[t]):
                if np.isfinite([gx, gy]).all():
                    cv2.circle(img, (int(round(gx)), int(round(gy))), 3, (0, 255, 0), 1)
                cv2.circle(img, (int(round(px)), int(round(py))), 3, (0, 0, 255), -1)
            cv2.imwrite(osp.join(folder, f'{t:05d}.jpg'), img)

    def compute_metrics(self, results: list) -> dict:
        results = sorted(results, key=lambda r: r['video'])
        decodings = {keypoint_decoding(r['propagation']) for r in results}
        if len(decodings) > 1:
            raise DataError(f'JHMDB: the videos were decoded in different ways '
                            f'({sorted(map(str, decodings))}); score one setting at a time')
        summary = accumulate_pck([r['hits'] for r in results], self.alphas, skip_first=True,
                                 decoding=decodings.pop())
        metrics = {f'PCK@{a:g}': float(summary[f'PCK@{a:g}']) for a in self.alphas}
        logger = MMLogger.get_current_instance()
        logger.info(f'JHMDB protocol: {summary["protocol"]}')
        if self.out_dir:
            os.makedirs(self.out_dir, exist_ok=True)
            settings = next((r['propagation'] for r in results if r['propagation']), None)
            with open(osp.join(self.out_dir, 'pck.json'), 'w') as f:
                json.dump(dict(metrics=metrics, protocol=summary['protocol'],
                               per_joint={k: np.asarray(v).tolist()
                                          for k, v in summary['per_joint'].items()},
                               frames_scored_per_joint=summary['num_scored'].tolist(),
                               videos=[r['video'] for r in results], propagation=settings),
                          f, indent=2)
        return metrics
