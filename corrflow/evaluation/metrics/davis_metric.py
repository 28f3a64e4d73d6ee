"""DAVIS-2017 semi-supervised J&F, identical to the official evaluation."""
from __future__ import annotations

import json
import os
import os.path as osp
from typing import Sequence

import numpy as np
from mmengine.evaluator import BaseMetric
from mmengine.logging import MMLogger

from corrflow.datasets.video_io import DataError
from corrflow.evaluation.davis_io import (GLOBAL_CSV, PER_SEQUENCE_CSV, summarise_davis,
                                          write_davis_csvs)
from corrflow.evaluation.functional.davis import evaluate_sequence
from corrflow.evaluation.png_io import read_gt_frame, write_indexed_png
from corrflow.registry import METRICS

__all__ = ['DAVISMetric', 'read_gt_volume']


def read_gt_volume(paths: Sequence[str | None]) -> np.ndarray | None:
    """(T, H, W) uint8 GT of a video, or None if some frame has no annotation."""
    if any(p is None or not osp.isfile(p) for p in paths):
        return None
    frames = []
    for path in paths:  # every frame of the size of the first
        frames.append(read_gt_frame(path, frames[0].shape if frames else None))
    return np.stack(frames)


@METRICS.register_module()
class DAVISMetric(BaseMetric):
    """J&F of propagated masks, written as the official tool writes it.

    For every video, the predicted masks are saved as indexed PNGs
    ``out_dir/<video>/<frame>.png`` (the GT's size, ids 0..N) and scored
    against the GT annotations named in the data sample (``ann_paths``), with
    the official semi-supervised protocol (first and last frames excluded,
    statistics per object, means over objects). :meth:`compute_metrics` writes
    ``global_results-val.csv``, ``per-sequence_results-val.csv`` and
    ``propagation.json`` (the settings that produced the numbers) to
    ``out_dir``.

    The ground truth is read here, from the paths the sample carries, and not
    by the dataset: that is the design. The model is given the first mask
    only, so no later annotation can reach it by mistake; a video's masks do
    not travel through the data loader, its workers and the collate function
    (a 480p video of 100 frames is 41 MB of masks); and the one reader of
    annotations (:func:`~corrflow.evaluation.png_io.read_gt_frame`, the official
    tool's rules) is the metric's. The cost is one read of each annotation
    PNG, after the video has been propagated.

    Samples that are not ``scored`` (a dataset in predict-only mode: DAVIS
    test-dev, own videos with a first-frame mask only) have their masks
    written and nothing else; ``propagation.json`` then says that no score was
    computed and the metrics are empty.

    Args:
        out_dir (str | None): where masks and CSVs go (None: nothing is written).
        save_masks (bool): write the predicted PNGs.
        collect_device (str): device for gathering results across ranks.
        prefix (str | None): metric-name prefix (default ``davis``).
    """

    default_prefix = 'davis'

    def __init__(self, out_dir: str | None = None, save_masks: bool = True,
                 collect_device: str = 'cpu', prefix: str | None = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.out_dir = out_dir
        self.save_masks = save_masks

    def process(self, data_batch: dict, data_samples: Sequence[dict]) -> None:
        metas = data_batch['data_samples']
        for out, meta in zip(data_samples, metas):
            video = meta['video']
            pred = out['pred_masks']  # (T, H, W) uint8
            names = meta['frame_names']
            if self.out_dir and self.save_masks:
                for name, mask in zip(names, pred):
                    write_indexed_png(osp.join(self.out_dir, video, f'{name}.png'), mask)
            if not meta.get('scored', True):
                self.results.append(dict(video=video, J=None, F=None, frames=len(pred),
                                         propagation=out.get('propagation')))
                continue
            gt = read_gt_volume(meta['ann_paths'])
            if gt is None:
                raise DataError(f'DAVIS video {video} lacks GT annotations for some frames, so '
                                'it cannot be scored')
            if gt.shape != pred.shape:
                raise DataError(f'video {video}: predictions {pred.shape} and GT {gt.shape} '
                                'differ in shape')
            j_res, f_res = evaluate_sequence(gt, pred)
            self.results.append(dict(video=video, J=j_res, F=f_res,
                                     propagation=out.get('propagation')))

    def compute_metrics(self, results: list) -> dict:
        results = sorted(results, key=lambda r: r['video'])
        seqs = [r['video'] for r in results]
        unscored = [r for r in results if r['J'] is None]
        if unscored:
            return self._predictions_only(results, unscored)
        global_row, rows = summarise_davis(seqs, {r['video']: (r['J'], r['F']) for r in results})
        if self.out_dir:
            os.makedirs(self.out_dir, exist_ok=True)
            self._remove_old_csvs()
            write_davis_csvs(self.out_dir, global_row, rows)
            settings = next((r['propagation'] for r in results if r['propagation']), None)
            with open(osp.join(self.out_dir, 'propagation.json'), 'w') as f:
                json.dump(dict(propagation=settings, sequences=seqs, objects=len(rows),
                               results=global_row), f, indent=2)
            MMLogger.get_current_instance().info(
                f'DAVIS: {len(seqs)} sequences, {len(rows)} objects; masks and CSVs in '
                f'{self.out_dir}')
        return {k: float(v) for k, v in global_row.items()}

    def _remove_old_csvs(self) -> None:
        """Never leave the numbers of an earlier run beside new masks."""
        for name in (GLOBAL_CSV, PER_SEQUENCE_CSV):
            if osp.exists(osp.join(self.out_dir, name)):
                os.remove(osp.join(self.out_dir, name))

    def _predictions_only(self, results: list, unscored: list) -> dict:
        """Predict-only mode: record what was written; no score."""
        if len(unscored) != len(results):
            raise DataError('DAVIS: some sequences were scored and others not; run with or '
                            'without predict-only for all of them')
        logger = MMLogger.get_current_instance()
        where = self.out_dir if self.out_dir and self.save_masks else None
        if self.out_dir:
            os.makedirs(self.out_dir, exist_ok=True)
            self._remove_old_csvs()
            settings = next((r['propagation'] for r in results if r['propagation']), None)
            with open(osp.join(self.out_dir, 'propagation.json'), 'w') as f:
                json.dump(dict(propagation=settings, sequences=[r['video'] for r in results],
                               masks_written=sum(r['frames'] for r in results) if where else 0,
                               results=None,
                               note='predict-only: no score computed (no ground truth)'),
                          f, indent=2)
        logger.info(f'DAVIS predict-only: {len(results)} sequences propagated'
                    + (f', masks in {where}' if where else '') + '; no score computed')
        return {}
