"""YouTube-VOS: masks in the server's format, and local J / F where ground truth exists."""
from __future__ import annotations

import json
import os
import os.path as osp
import zipfile
from typing import Sequence

import numpy as np
from mmengine.evaluator import BaseMetric
from mmengine.logging import MMLogger

from corrflow.datasets.video_io import DataError
from corrflow.evaluation.png_io import read_gt_frame, write_indexed_png
from corrflow.evaluation.functional.davis import score_objects
from corrflow.registry import METRICS

__all__ = ['YouTubeVOSMetric', 'write_submission_zip']

#: Fixed entry time of the zip, so that the same masks always give the same bytes.
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)


def write_submission_zip(out_dir: str, entries: Sequence[str], name: str) -> str:
    """Zip ``out_dir/<entry>`` for each entry (e.g. ``Annotations/<video>/<frame>.png``).

    Entries are stored sorted, with a fixed time stamp and fixed compression,
    so equal masks give a byte-identical zip.

    Returns:
        str: the zip's path.
    """
    path = osp.join(out_dir, name)
    tmp = path + '.part'
    with zipfile.ZipFile(tmp, 'w') as archive:
        for entry in sorted(entries):
            info = zipfile.ZipInfo(entry, date_time=_ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            with open(osp.join(out_dir, entry), 'rb') as f:
                archive.writestr(info, f.read(), compresslevel=6)
    os.replace(tmp, path)
    return path


@METRICS.register_module()
class YouTubeVOSMetric(BaseMetric):
    """Write YouTube-VOS predictions for the evaluation server; score them where GT exists.

    For every video, ``out_dir/Annotations/<video>/<frame>.png`` is written
    for every listed frame (8-bit palette, original size, pixel value = the
    object's id). :meth:`compute_metrics` scores (where it can) and records in
    ``propagation.json`` the settings, which frames were propagated and at what
    frame rate; it leaves in :attr:`submission` what
    :class:`~corrflow.engine.hooks.SubmissionZipHook` zips at the end of the test
    run (entries ``Annotations/...`` in ``out_dir/<zip_name>``, the file the
    server takes): a metric scores, the run's end writes the deliverable.

    The val ground truth is withheld, so its scores come from the server.
    Where the data samples are ``scored`` (every listed frame annotated, e.g.
    a held-out part of the train split), each object gets J (region IoU) and
    F (boundary measure, as DAVIS) averaged over the listed frames after its
    first frame; means are over objects. With ``seen_categories``, objects
    are split into seen and unseen categories and ``overall`` is the mean of
    the four seen / unseen J and F, as on the server.

    Args:
        out_dir (str | None): where PNGs, the zip and the json go.
        zip_name (str): name of the zip.
        seen_categories (str | Sequence[str] | None): the categories of the
            training split (a text file with one per line, or a list).
        collect_device (str): device for gathering results across ranks.
        prefix (str | None): metric-name prefix (default ``ytvos``).
    """

    default_prefix = 'ytvos'

    def __init__(self, out_dir: str | None = None, zip_name: str = 'submission.zip',
                 seen_categories: str | Sequence[str] | None = None,
                 collect_device: str = 'cpu', prefix: str | None = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.out_dir = out_dir
        self.zip_name = zip_name
        self.seen_categories = self._categories(seen_categories)
        #: ``(out_dir, entries, zip_name)`` of the last :meth:`compute_metrics`, for
        #: :func:`write_submission_zip`; None before it or without ``out_dir``.
        self.submission: tuple[str, list[str], str] | None = None

    @staticmethod
    def _categories(source) -> set[str] | None:
        if source is None:
            return None
        if isinstance(source, str):
            if not osp.isfile(source):
                raise DataError(f'seen_categories file {source} does not exist; give a text '
                                'file with one category per line, or a list')
            with open(source, encoding='utf-8') as f:
                return {line.strip() for line in f if line.strip()}
        return {str(c) for c in source}

    def process(self, data_batch: dict, data_samples: Sequence[dict]) -> None:
        for out, meta in zip(data_samples, data_batch['data_samples']):
            video = meta['video']
            pred = out['pred_masks']  # (T, H, W) uint8 of every propagated frame
            index = {name: t for t, name in enumerate(meta['frame_names'])}
            listed = [index[name] for name in meta['output_names']]
            written = []
            for name, t in zip(meta['output_names'], listed):
                entry = f'Annotations/{video}/{name}.png'
                if self.out_dir:
                    write_indexed_png(osp.join(self.out_dir, entry), pred[t])
                written.append(entry)
            result = dict(video=video, written=written, frames_propagated=len(pred),
                          frames_listed=len(listed),
                          frames=meta.get('frames_propagated'), fps=meta.get('fps'),
                          objects=meta['objects'], propagation=out.get('propagation'),
                          scores=None)
            if meta.get('scored'):
                result['scores'] = self._score(video, pred[listed], meta)
            self.results.append(result)

    def _score(self, video: str, pred: np.ndarray, meta: dict) -> dict:
        gt = np.stack([read_gt_frame(p, pred.shape[1:]) for p in meta['ann_paths']])
        position = {name: i for i, name in enumerate(meta['output_names'])}
        first = {}
        for key, obj in meta['objects'].items():
            if obj['first_frame'] not in position:
                raise DataError(f'video {video}: object {key} starts at frame '
                                f'{obj["first_frame"]}, which is not a listed frame, so it '
                                'cannot be scored on the listed frames')
            first[int(key)] = position[obj['first_frame']]
        return {str(k): v for k, v in score_objects(pred, gt, first).items()}

    def compute_metrics(self, results: list) -> dict:
        results = sorted(results, key=lambda r: r['video'])
        logger = MMLogger.get_current_instance()
        scored = [r for r in results if r['scores'] is not None]
        if scored and len(scored) != len(results):
            raise DataError('YouTube-VOS: some videos were scored and others not; score a '
                            'split with ground truth for every video, or none')
        metrics, per_object = {}, []
        for r in scored:
            for key, s in r['scores'].items():
                per_object.append(dict(video=r['video'], object=int(key),
                                       category=r['objects'][key].get('category'), **s))
        if scored:
            metrics = self._summarise(per_object)
        info = dict(
            propagation=next((r['propagation'] for r in results if r['propagation']), None),
            frames_propagated=sorted({r['frames'] for r in results if r['frames']}),
            fps=sorted({r['fps'] for r in results if r['fps'] is not None}),
            videos=[r['video'] for r in results],
            objects=sum(len(r['objects']) for r in results),
            pngs_written=sum(len(r['written']) for r in results))
        if self.out_dir:
            os.makedirs(self.out_dir, exist_ok=True)
            entries = [e for r in results for e in r['written']]
            info['zip'] = self.zip_name
            self.submission = (self.out_dir, entries, self.zip_name)
            if scored:
                info['scores'] = metrics
                info['per_object'] = per_object
            else:
                info['scores'] = None
                info['note'] = ('no score computed: this split has no ground truth beyond '
                                "each object's first mask; submit the zip to the evaluation "
                                'server')
            with open(osp.join(self.out_dir, 'propagation.json'), 'w') as f:
                json.dump(info, f, indent=2)
            logger.info(f'YouTube-VOS: {len(results)} videos, {info["pngs_written"]} masks in '
                        f'{osp.join(self.out_dir, "Annotations")}, to be zipped in '
                        f'{osp.join(self.out_dir, self.zip_name)} (frames: '
                        f'{", ".join(map(str, info["frames_propagated"]))}, fps '
                        f'{", ".join(f"{v:g}" for v in info["fps"])})')
        if not scored:
            logger.info('YouTube-VOS: no score computed (no ground truth beyond the first '
                        'masks); the server scores the zip')
        return metrics

    def _summarise(self, per_object: list[dict]) -> dict:
        if not per_object:
            raise DataError('YouTube-VOS: no object has a frame after its first one to score')
        j = np.array([o['J'] for o in per_object])
        f = np.array([o['F'] for o in per_object])
        metrics = {'J&F-Mean': float((j.mean() + f.mean()) / 2), 'J-Mean': float(j.mean()),
                   'F-Mean': float(f.mean()), 'objects': float(len(per_object))}
        if self.seen_categories is not None:
            seen = np.array([o['category'] in self.seen_categories for o in per_object])
            for name, sel in (('seen', seen), ('unseen', ~seen)):
                if sel.any():
                    metrics[f'J-{name}'] = float(j[sel].mean())
                    metrics[f'F-{name}'] = float(f[sel].mean())
            if seen.any() and (~seen).any():
                metrics['overall'] = float(np.mean([metrics['J-seen'], metrics['F-seen'],
                                                    metrics['J-unseen'], metrics['F-unseen']]))
        return metrics
