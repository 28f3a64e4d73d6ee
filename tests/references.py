"""Straightforward reference implementations that tests compare corrflow against.

* :func:`recompute_per_call_loss`: CorrFlow's training loss arranged as the
  original release computes it, recomputing both embeddings inside every
  attend call (16 backbone passes for a 3-frame clip); ``RecursiveFlow.loss``
  must give the same values and gradients. ``benchmarks/bench_train_step.py``
  times it as its ``reference`` arrangement.
* :func:`evaluate_baseline`: single-process DAVIS-2017 semi-supervised
  evaluation that re-implements the pipeline structure of the official
  ``davis2017-evaluation`` tool step by step, without its console output:

  - every GT mask of a sequence is read with PIL into a float64 volume, void
    (255) is zeroed, and the objects are split with a broadcast comparison
    against an all-ones ``(N, F, H, W)`` float64 volume;
  - every result frame 1..F-2 is read the same way; the object count of the
    results is their maximum id, and a count different from the GT's is an
    error (the official tool calls ``sys.exit`` there; this raises
    ``ValueError``);
  - J is computed per object over all frames at once, F per object and per
    frame on the full frame: boundary maps of both masks, two full-frame
    ``cv2.dilate`` with a disk, products and sums;
  - per object Mean / Recall / Decay, then means over objects.

  ``corrflow.evaluation`` must give identical numbers;
  ``benchmarks/bench_davis_eval.py`` measures how much faster it is.

Benchmark scripts import this module as ``tests.references`` (the repository
root is on their ``sys.path``); tests import it as ``references``.
"""
from __future__ import annotations

import glob
import math
import os
import warnings

import cv2
import numpy as np
import torch
from PIL import Image
from torch import Tensor

from corrflow.models.algorithms.recursive_flow import colour_cross_entropy

__all__ = ['evaluate_baseline', 'recompute_per_call_loss']


# ---------------------------------------------------------------------------- training loss
def recompute_per_call_loss(model, inputs: Tensor, data_samples: list[dict],
                            use_truth: bool) -> dict[str, Tensor]:
    """CorrFlow's loss arranged as the original release computes it (3-frame clips).

    Every attend call recomputes both embeddings from the frames (16 backbone
    passes per iteration): 2 short-term calls, 2 for the cycle 0-1-0 and 4 for
    0-1-2-1-0. ``use_truth`` fixes the scheduled-sampling draw.

    Args:
        model (RecursiveFlow): provides backbone, neck, head; its bottleneck is
            not applied (pass already-bottlenecked frames).
        inputs (Tensor): (B, 3, 3, H, W).
        data_samples (list[dict]): ``colour_labels`` (3, H, W) per clip.
        use_truth (bool): feed frame 1's true colours to the second step.
    """
    targets = torch.stack([s['colour_labels'] for s in data_samples]).long()  # (B, 3, H, W)
    x = [inputs[:, t] for t in range(3)]

    def attend(src: int, dst: int, labels: Tensor) -> Tensor:
        ref = model.embed(x[src])
        tgt = model.embed(x[dst])
        return model.head(tgt, ref, labels)

    stride = model.backbone.stride
    size = (math.ceil(inputs.shape[-2] / stride), math.ceil(inputs.shape[-1] / stride))
    num_classes = model.colour_classes(data_samples, targets)
    onehot = [model.head.downsample_labels(targets[:, t], num_classes, size).to(inputs)
              for t in range(3)]
    p1 = attend(0, 1, onehot[0])
    p2 = attend(1, 2, onehot[1] if use_truth else p1)
    loss_short = colour_cross_entropy(p1, targets[:, 1]) + colour_cross_entropy(p2, targets[:, 2])
    c1 = attend(1, 0, attend(0, 1, onehot[0]))
    c2 = attend(1, 0, attend(2, 1, attend(1, 2, attend(0, 1, onehot[0]))))
    loss_cycle = colour_cross_entropy(c1, targets[:, 0]) + colour_cross_entropy(c2, targets[:, 0])
    return dict(loss_short=loss_short, loss_cycle=model.cycle_weight * loss_cycle)


# ---------------------------------------------------------------------------- DAVIS J&F
def _disk(radius: float) -> np.ndarray:
    """Disk footprint as ``skimage.morphology.disk`` builds it (x² + y² <= r²)."""
    coords = np.arange(-radius, radius + 1)
    xx, yy = np.meshgrid(coords, coords)
    return (xx**2 + yy**2 <= radius**2).astype(np.uint8)


def boundary_map(seg: np.ndarray) -> np.ndarray:
    """One-pixel-wide boundary map of a binary mask, the official way."""
    seg = seg.astype(bool)
    east = np.zeros_like(seg)
    south = np.zeros_like(seg)
    south_east = np.zeros_like(seg)
    east[:, :-1] = seg[:, 1:]
    south[:-1, :] = seg[1:, :]
    south_east[:-1, :-1] = seg[1:, 1:]
    bmap = seg ^ east | seg ^ south | seg ^ south_east
    bmap[-1, :] = seg[-1, :] ^ east[-1, :]
    bmap[:, -1] = seg[:, -1] ^ south[:, -1]
    bmap[-1, -1] = 0
    return bmap


def frame_f_measure(foreground_mask: np.ndarray, gt_mask: np.ndarray, void_pixels: np.ndarray,
               bound_th: float = 0.008) -> float:
    """Boundary F of one frame on the full frame (official structure)."""
    void_pixels = void_pixels.astype(bool)
    bound_pix = bound_th if bound_th >= 1 else np.ceil(
        bound_th * np.linalg.norm(foreground_mask.shape))
    fg_boundary = boundary_map(foreground_mask * np.logical_not(void_pixels))
    gt_boundary = boundary_map(gt_mask * np.logical_not(void_pixels))
    footprint = _disk(bound_pix)
    fg_dil = cv2.dilate(fg_boundary.astype(np.uint8), footprint)
    gt_dil = cv2.dilate(gt_boundary.astype(np.uint8), footprint)
    gt_match = gt_boundary * fg_dil
    fg_match = fg_boundary * gt_dil
    n_fg = np.sum(fg_boundary)
    n_gt = np.sum(gt_boundary)
    if n_fg == 0 and n_gt > 0:
        precision, recall = 1, 0
    elif n_fg > 0 and n_gt == 0:
        precision, recall = 0, 1
    elif n_fg == 0 and n_gt == 0:
        precision, recall = 1, 1
    else:
        precision = np.sum(fg_match) / float(n_fg)
        recall = np.sum(gt_match) / float(n_gt)
    if precision + recall == 0:
        return 0
    return 2 * precision * recall / (precision + recall)


def _eval_iou(annotation: np.ndarray, segmentation: np.ndarray,
              void_pixels: np.ndarray) -> np.ndarray:
    """J over all frames of one object (official structure)."""
    annotation = annotation.astype(bool)
    segmentation = segmentation.astype(bool)
    void_pixels = void_pixels.astype(bool)
    inters = np.sum((segmentation & annotation) & np.logical_not(void_pixels), axis=(-2, -1))
    union = np.sum((segmentation | annotation) & np.logical_not(void_pixels), axis=(-2, -1))
    j = inters / union
    j[np.isclose(union, 0)] = 1
    return j


def _eval_boundary(annotation: np.ndarray, segmentation: np.ndarray,
                   void_pixels: np.ndarray) -> np.ndarray:
    """F over all frames of one object, one frame at a time."""
    f_res = np.zeros(annotation.shape[0])
    for frame_id in range(annotation.shape[0]):
        f_res[frame_id] = frame_f_measure(segmentation[frame_id], annotation[frame_id],
                                     void_pixels[frame_id])
    return f_res


def db_statistics(per_frame_values: np.ndarray) -> tuple[float, float, float]:
    """Mean, recall and decay of per-frame values (official structure)."""
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', category=RuntimeWarning)
        mean = np.nanmean(per_frame_values)
        recall = np.nanmean(per_frame_values > 0.5)
    n_bins = 4
    ids = np.round(np.linspace(1, len(per_frame_values), n_bins + 1) + 1e-10) - 1
    ids = ids.astype(np.uint8)
    with warnings.catch_warnings():  # the uint8 bin edges wrap for long sequences, as official
        warnings.simplefilter('ignore', category=RuntimeWarning)
        bins = [per_frame_values[ids[i]:ids[i + 1] + 1] for i in range(0, 4)]
        decay = np.nanmean(bins[0]) - np.nanmean(bins[3])
    return mean, recall, decay


def _read_gt(davis_root: str, seq: str) -> tuple[np.ndarray, list[str]]:
    """All GT masks of a sequence split per object: (N, F, H, W) bool and frame ids."""
    mask_paths = np.sort(glob.glob(os.path.join(davis_root, 'Annotations', '480p', seq,
                                                '*.png'))).tolist()
    first = np.array(Image.open(mask_paths[0]))
    masks = np.zeros((len(mask_paths), *first.shape))
    frame_ids = []
    for i, path in enumerate(mask_paths):
        masks[i, ...] = np.array(Image.open(path))
        masks[i, masks[i, ...] == 255] = 0
        frame_ids.append(''.join(path.split('/')[-1].split('.')[:-1]))
    num_objects = int(np.max(masks[0, ...]))
    tmp = np.ones((num_objects, *masks.shape))
    tmp = tmp * np.arange(1, num_objects + 1)[:, None, None, None]
    masks = tmp == masks[None, ...]
    return masks > 0, frame_ids


def _read_results(results_dir: str, seq: str, frame_ids: list[str]) -> np.ndarray:
    """Result masks of the given frames split per object: (N', F', H, W) bool."""
    first = np.array(Image.open(os.path.join(results_dir, seq, f'{frame_ids[0]}.png')))
    masks = np.zeros((len(frame_ids), *first.shape))
    for i, frame_id in enumerate(frame_ids):
        masks[i, ...] = np.array(Image.open(os.path.join(results_dir, seq, f'{frame_id}.png')))
    num_objects = int(np.max(masks))
    tmp = np.ones((num_objects, *masks.shape))
    tmp = tmp * np.arange(1, num_objects + 1)[:, None, None, None]
    return (tmp == masks[None, ...]) > 0


def evaluate_baseline(davis_root: str, results_dir: str,
                      sequences: list[str]) -> tuple[dict, list[dict]]:
    """Score a result folder the way the official tool does, in one process.

    Args:
        davis_root (str): DAVIS root holding ``Annotations/480p/<seq>/``.
        results_dir (str): folder holding ``<seq>/<frame>.png``.
        sequences (list[str]): sequences to score, in output order.

    Returns:
        tuple[dict, list[dict]]: the global row (official column names) and one
        row per object (``Sequence``, ``J-Mean``, ``F-Mean``).
    """
    stats: dict[str, dict[str, list]] = {
        'J': {'M': [], 'R': [], 'D': []}, 'F': {'M': [], 'R': [], 'D': []}}
    per_object = []
    for seq in sequences:
        gt_masks, frame_ids = _read_gt(davis_root, seq)
        gt_masks, frame_ids = gt_masks[:, 1:-1], frame_ids[1:-1]
        res_masks = _read_results(results_dir, seq, frame_ids)
        if res_masks.shape[0] != gt_masks.shape[0]:
            raise ValueError(f'{seq}: {res_masks.shape[0]} objects in the results, '
                             f'{gt_masks.shape[0]} in the GT')
        j_res = np.zeros(gt_masks.shape[:2])
        f_res = np.zeros(gt_masks.shape[:2])
        for obj in range(gt_masks.shape[0]):
            void = gt_masks[obj] == 255
            j_res[obj] = _eval_iou(gt_masks[obj], res_masks[obj], void)
            f_res[obj] = _eval_boundary(gt_masks[obj], res_masks[obj], void)
        for obj in range(gt_masks.shape[0]):
            row = {'Sequence': f'{seq}_{obj + 1}'}
            for key, values in (('J', j_res[obj]), ('F', f_res[obj])):
                mean, recall, decay = db_statistics(values)
                stats[key]['M'].append(mean)
                stats[key]['R'].append(recall)
                stats[key]['D'].append(decay)
                row[f'{key}-Mean'] = mean
            per_object.append(row)
    j_stats, f_stats = stats['J'], stats['F']
    global_row = {
        'J&F-Mean': (np.mean(j_stats['M']) + np.mean(f_stats['M'])) / 2.,
        'J-Mean': np.mean(j_stats['M']),
        'J-Recall': np.mean(j_stats['R']),
        'J-Decay': np.mean(j_stats['D']),
        'F-Mean': np.mean(f_stats['M']),
        'F-Recall': np.mean(f_stats['R']),
        'F-Decay': np.mean(f_stats['D']),
    }
    return global_row, per_object
