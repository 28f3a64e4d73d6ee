"""VIP human-part propagation: mIoU over the 20 classes."""
from __future__ import annotations

import json
import os
import os.path as osp
from typing import Sequence

import numpy as np
from mmengine.evaluator import BaseMetric

from corrflow.datasets.video_io import DataError
from corrflow.evaluation.png_io import PngSizeError, read_png_ids, write_indexed_png
from corrflow.evaluation.functional.segmentation import (VIP_CLASSES, intersect_and_union,
                                                         per_class_iou)
from corrflow.registry import METRICS

__all__ = ['VIPMetric']


@METRICS.register_module()
class VIPMetric(BaseMetric):
    """mIoU of propagated part labels, accumulated over all frames of all videos.

    Intersections and unions are summed per class over every annotated frame
    except the given first one; the GT value 255 is ignored; mIoU is the mean
    over classes that occur (union > 0).

    Args:
        num_classes (int): 20 for VIP.
        ignore_index (int): GT value not scored.
        out_dir (str | None): where ``miou.json`` (and masks) go.
        save_masks (bool): write the predicted label PNGs.
        collect_device (str): device for gathering results across ranks.
        prefix (str | None): metric-name prefix (default ``vip``).
    """

    default_prefix = 'vip'

    def __init__(self, num_classes: int = 20, ignore_index: int = 255,
                 out_dir: str | None = None, save_masks: bool = False,
                 collect_device: str = 'cpu', prefix: str | None = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.num_classes = num_classes
        self.ignore_index = ignore_index
        self.out_dir = out_dir
        self.save_masks = save_masks

    def process(self, data_batch: dict, data_samples: Sequence[dict]) -> None:
        for out, meta in zip(data_samples, data_batch['data_samples']):
            pred = out['pred_masks']  # (T, H, W)
            inter = np.zeros(self.num_classes, dtype=np.int64)
            union = np.zeros(self.num_classes, dtype=np.int64)
            scored = 0
            for t, path in enumerate(meta['ann_paths']):
                if self.out_dir and self.save_masks:
                    write_indexed_png(osp.join(self.out_dir, meta['video'],
                                               f'{meta["frame_names"][t]}.png'), pred[t])
                if t == 0 or path is None:  # the given frame, or no annotation
                    continue
                try:
                    gt = read_png_ids(path, pred[t].shape)
                except PngSizeError as err:
                    raise DataError(f'{path}: the GT is {err.size[1]}x{err.size[0]} but its '
                                    f'frame is {err.expected[1]}x{err.expected[0]}') from None
                if gt is None:
                    raise DataError(f'{path}: GT must be an 8-bit label PNG')
                i, u = intersect_and_union(pred[t], gt, self.num_classes, self.ignore_index)
                inter += i
                union += u
                scored += 1
            self.results.append(dict(video=meta['video'], intersect=inter, union=union,
                                     frames=scored, propagation=out.get('propagation')))

    def compute_metrics(self, results: list) -> dict:
        inter = np.sum([r['intersect'] for r in results], axis=0)
        union = np.sum([r['union'] for r in results], axis=0)
        ious = per_class_iou(inter, union)
        valid = ious[np.isfinite(ious)]
        miou = float(valid.mean()) if valid.size else float('nan')
        if self.out_dir:
            os.makedirs(self.out_dir, exist_ok=True)
            names = VIP_CLASSES if self.num_classes == len(VIP_CLASSES) else \
                tuple(str(i) for i in range(self.num_classes))
            settings = next((r['propagation'] for r in results if r['propagation']), None)
            with open(osp.join(self.out_dir, 'miou.json'), 'w') as f:
                json.dump(dict(mIoU=miou, per_class={n: (None if not np.isfinite(v) else float(v))
                                                     for n, v in zip(names, ious)},
                               frames=int(sum(r['frames'] for r in results)),
                               videos=sorted(r['video'] for r in results),
                               propagation=settings), f, indent=2)
        return dict(mIoU=miou)
