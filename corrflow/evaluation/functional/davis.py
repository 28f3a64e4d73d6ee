"""DAVIS-2017 semi-supervised measures: region similarity J and boundary F.

Pure numpy / OpenCV functions, no I/O. The numbers are bit-identical to the
official ``davis2017-evaluation`` tool (semi-supervised task); the work is
restricted to the bounding box of each object's masks, which is what makes it
fast.

Shape shorthand: T frames, H height, W width, N objects.

Protocol (that of the official tool):

* the object count N of a sequence is the maximum id of GT frame 0 once the
  void value 255 has been set to background; objects are the ids 1..N;
* GT 255 (void) is background in every frame;
* predictions must not hold ids above N (255 included); an id that is never
  predicted is an empty mask;
* the first and the last frame are not scored;
* J = |P ∩ G| / |P ∪ G|, and 1 when the union is empty;
* F compares one-pixel-wide boundary maps with a tolerance disk of radius
  ``ceil(0.008 * image diagonal)``.
"""
from __future__ import annotations

import functools
import warnings

import cv2
import numpy as np

__all__ = [
    'DEFAULT_BOUND_TH', 'boundary_radius', 'db_iou', 'db_statistics', 'disk_kernel',
    'evaluate_frame', 'evaluate_sequence', 'f_measure', 'num_objects', 'score_objects',
    'seg_to_boundary',
]

#: Boundary tolerance as a fraction of the image diagonal (official default).
DEFAULT_BOUND_TH = 0.008

VOID_LABEL = 255

# A box (y0, y1, x0, x1) with exclusive ends.
Box = tuple[int, int, int, int]


def boundary_radius(shape: tuple[int, int], bound_th: float = DEFAULT_BOUND_TH) -> int:
    """Radius in pixels of the boundary tolerance disk.

    Args:
        shape (tuple[int, int]): image size (H, W).
        bound_th (float): below 1, a fraction of the image diagonal (rounded
            up); from 1 on, the radius itself, which must then be a whole number.

    Returns:
        int: the radius, e.g. 8 for 480x854.
    """
    if bound_th >= 1:
        if bound_th != int(bound_th):
            raise ValueError(f'a pixel tolerance must be a whole number, got {bound_th}')
        return int(bound_th)
    return int(np.ceil(bound_th * np.linalg.norm(shape)))


def disk_kernel(radius: int) -> np.ndarray:
    """Disk structuring element: the (x, y) on [-r, r]² with x² + y² <= r².

    This is the footprint ``skimage.morphology.disk`` returns.

    Args:
        radius (int): r.

    Returns:
        np.ndarray: (2r+1, 2r+1) uint8 of 0/1.
    """
    offsets = np.arange(-radius, radius + 1)
    return (offsets[None, :]**2 + offsets[:, None]**2 <= radius**2).astype(np.uint8)


@functools.lru_cache(maxsize=8)
def _disk(radius: int) -> np.ndarray:
    """Cached, read-only :func:`disk_kernel`."""
    kernel = disk_kernel(radius)
    kernel.flags.writeable = False
    return kernel


def db_iou(gt: np.ndarray, pred: np.ndarray) -> np.ndarray:
    """Region similarity J (Jaccard index), 1 where the union is empty.

    Args:
        gt (np.ndarray): (..., H, W) binary GT masks.
        pred (np.ndarray): (..., H, W) binary predicted masks.

    Returns:
        np.ndarray: (...) float64; a 0-d array for a single pair of masks.
    """
    if gt.shape != pred.shape:
        raise ValueError(f'shape mismatch: GT {gt.shape} vs prediction {pred.shape}')
    gt = gt.astype(bool, copy=False)
    pred = pred.astype(bool, copy=False)
    inter = np.count_nonzero(gt & pred, axis=(-2, -1))
    union = np.count_nonzero(gt | pred, axis=(-2, -1))
    j = np.ones(np.shape(union), dtype=np.float64)
    np.divide(inter, union, out=j, where=union > 0)
    return j


def seg_to_boundary(seg: np.ndarray) -> np.ndarray:
    """One-pixel-wide boundary map of a binary mask (the official ``seg2bmap``).

    A pixel is boundary if it differs from its right, lower or lower-right
    neighbour. In the last row only the right neighbour counts, in the last
    column only the lower one, and the bottom-right pixel is never boundary:
    exactly what comparing against an edge-replicated copy of the mask gives.

    Args:
        seg (np.ndarray): (H, W) binary mask.

    Returns:
        np.ndarray: (H, W) bool.
    """
    seg = seg.astype(bool, copy=False)
    return _boundary_of_window(seg, (0, seg.shape[0], 0, seg.shape[1]))


def f_measure(pred: np.ndarray, gt: np.ndarray, bound_th: float = DEFAULT_BOUND_TH) -> float:
    """Boundary F-measure of one frame.

    Special cases (as the official tool): no predicted boundary but a GT
    boundary gives P=1, R=0; a predicted boundary but none in the GT gives
    P=0, R=1; neither gives F=1; F = 2PR / (P + R), or 0 when P + R = 0.

    Args:
        pred (np.ndarray): (H, W) binary predicted mask.
        gt (np.ndarray): (H, W) binary GT mask.
        bound_th (float): tolerance, see :func:`boundary_radius`.

    Returns:
        float: F.
    """
    if gt.shape != pred.shape or gt.ndim != 2:
        raise ValueError(f'expected two (H, W) masks, got {pred.shape} and {gt.shape}')
    kernel = _disk(boundary_radius(gt.shape, bound_th))
    pred = pred.astype(bool, copy=False)
    gt = gt.astype(bool, copy=False)
    box = _union_box(_mask_box(pred), _mask_box(gt))
    if box is None:
        return 1.0
    return _f_in_window(pred, gt, _boundary_window(box), kernel)


def db_statistics(per_frame_values: np.ndarray) -> tuple[float, float, float]:
    """Mean, recall and decay of one object's per-frame J or F values.

    Mean is ``nanmean``; recall is the share of frames above 0.5 (NaN counts
    as a miss); decay is the mean of the first of four bins minus the mean of
    the last. The bin edges are ``round(linspace(1, T, 5) + 1e-10) - 1`` cast
    to uint8 as the official tool does (so edges and bin ends wrap modulo 256
    from 256 scored frames on), and neighbouring bins share their edge frame.

    Args:
        per_frame_values (np.ndarray): (T,) float values.

    Returns:
        tuple[float, float, float]: mean, recall, decay.
    """
    values = np.asarray(per_frame_values, dtype=np.float64)
    edges = np.round(np.linspace(1, len(values), 5) + 1e-10) - 1
    # The official casts the edges to uint8 and slices up to edge + 1 in uint8
    # arithmetic: both wrap modulo 256 (kept so that long sequences match too).
    edges = edges.astype(np.int64) % 256
    bins = [values[edges[i]:(edges[i + 1] + 1) % 256] for i in range(4)]
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', category=RuntimeWarning)
        mean = np.nanmean(values)
        recall = np.nanmean(values > 0.5)
        decay = np.nanmean(bins[0]) - np.nanmean(bins[3])
    return float(mean), float(recall), float(decay)


def num_objects(gt_first_frame: np.ndarray) -> int:
    """Object count of a sequence: the maximum id of GT frame 0, void excluded.

    Args:
        gt_first_frame (np.ndarray): (H, W) uint8 id map of frame 0.

    Returns:
        int: N.
    """
    ids = np.where(gt_first_frame == VOID_LABEL, 0, gt_first_frame)
    return int(ids.max()) if ids.size else 0


def evaluate_frame(gt: np.ndarray, pred: np.ndarray, n_objects: int,
                   bound_th: float = DEFAULT_BOUND_TH) -> tuple[np.ndarray, np.ndarray]:
    """J and F of every object in one scored frame.

    Args:
        gt (np.ndarray): (H, W) uint8 GT id map (255 = void = background).
        pred (np.ndarray): (H, W) uint8 predicted id map, ids 0..N.
        n_objects (int): N, from GT frame 0 (:func:`num_objects`).
        bound_th (float): boundary tolerance, see :func:`boundary_radius`.

    Returns:
        tuple[np.ndarray, np.ndarray]: J and F, each (N,) float64 (object k at k-1).

    Raises:
        ValueError: on shape mismatch or a predicted id above N.
    """
    gt = _as_uint8(gt, 'GT')
    pred = _as_uint8(pred, 'prediction')
    if gt.ndim != 2 or gt.shape != pred.shape:
        raise ValueError(f'expected two (H, W) id maps of equal shape, got GT {gt.shape} '
                         f'and prediction {pred.shape}')
    top = int(pred.max(initial=0))
    if top > n_objects:
        raise ValueError(f'predicted id {top} above the object count {n_objects}')
    return _score_frame(gt, pred, n_objects, _disk(boundary_radius(gt.shape, bound_th)))


def evaluate_sequence(gt: np.ndarray, pred: np.ndarray,
                      bound_th: float = DEFAULT_BOUND_TH) -> tuple[np.ndarray, np.ndarray]:
    """Per-object J and F of one sequence, semi-supervised protocol.

    Args:
        gt (np.ndarray): (T, H, W) uint8 GT id maps, all frames.
        pred (np.ndarray): (T, H, W) uint8 predicted id maps; frames 0 and T-1
            are not scored and not looked at.
        bound_th (float): boundary tolerance, see :func:`boundary_radius`.

    Returns:
        tuple[np.ndarray, np.ndarray]: J and F, each (N, T-2) float64: row k-1
        holds object k over frames 1..T-2.

    Raises:
        ValueError: on shape mismatch, fewer than 3 frames, or a predicted id
            above N in a scored frame.
    """
    gt = _as_uint8(gt, 'GT')
    pred = _as_uint8(pred, 'prediction')
    if gt.ndim != 3 or gt.shape != pred.shape:
        raise ValueError(f'expected two (T, H, W) volumes of equal shape, got GT {gt.shape} '
                         f'and prediction {pred.shape}')
    n_frames = gt.shape[0]
    if n_frames < 3:
        raise ValueError(f'a sequence needs at least 3 frames (first and last are not '
                         f'scored), got {n_frames}')
    n_obj = num_objects(gt[0])
    top = pred[1:-1].reshape(n_frames - 2, -1).max(axis=1)  # (T-2,)
    if (top > n_obj).any():
        t = int(np.argmax(top > n_obj))
        raise ValueError(f'frame {t + 1}: predicted id {top[t]} above the object count '
                         f'{n_obj} of GT frame 0')
    kernel = _disk(boundary_radius(gt.shape[1:], bound_th))
    j_res = np.zeros((n_obj, n_frames - 2))
    f_res = np.zeros((n_obj, n_frames - 2))
    for t in range(1, n_frames - 1):
        j_res[:, t - 1], f_res[:, t - 1] = _score_frame(gt[t], pred[t], n_obj, kernel)
    return j_res, f_res


def _score_frame(gt: np.ndarray, pred: np.ndarray, n_obj: int,
                 kernel: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """J and F (N,) of one frame; ids already validated."""
    j_res = np.ones(n_obj)
    f_res = np.ones(n_obj)
    # With a single object and 0/1 maps, the id maps are the masks already. GT void
    # (255) never equals an object id, so it is background without a rewrite.
    binary = n_obj == 1 and int(gt.max(initial=0)) <= 1
    for k in range(1, n_obj + 1):
        gt_k = gt.view(bool) if binary else gt == k  # (H, W)
        pred_k = pred.view(bool) if binary else pred == k  # (H, W)
        box = _union_box(_mask_box(gt_k), _mask_box(pred_k))
        if box is not None:  # else both masks are empty: J = F = 1
            j_res[k - 1], f_res[k - 1] = _j_and_f(pred_k, gt_k, box, kernel)
    return j_res, f_res


def _as_uint8(ids: np.ndarray, what: str) -> np.ndarray:
    """Id maps as uint8, rejecting non-integer dtypes and values outside 0..255."""
    ids = np.asarray(ids)
    if ids.dtype == np.uint8:
        return ids
    if ids.dtype == bool:
        return ids.view(np.uint8)
    if ids.dtype.kind not in 'ui':
        raise ValueError(f'{what} id maps must be integers, got {ids.dtype}')
    if ids.size and (ids.min() < 0 or ids.max() > 255):
        raise ValueError(f'{what} ids must lie in 0..255')
    return ids.astype(np.uint8)


def _j_and_f(pred: np.ndarray, gt: np.ndarray, box: Box,
             kernel: np.ndarray) -> tuple[float, float]:
    """J and F of one frame whose masks lie within ``box``."""
    y0, y1, x0, x1 = box
    pred_win = pred[y0:y1, x0:x1]
    gt_win = gt[y0:y1, x0:x1]
    if np.array_equal(pred_win, gt_win):  # identical non-empty masks: P = R = 1
        return 1.0, 1.0
    inter = np.count_nonzero(pred_win & gt_win)
    union = np.count_nonzero(pred_win | gt_win)
    j = inter / union
    return j, _f_in_window(pred, gt, _boundary_window(box), kernel)


def _f_in_window(pred: np.ndarray, gt: np.ndarray, window: Box, kernel: np.ndarray) -> float:
    """F of full-frame masks whose boundary pixels all lie within ``window``.

    A dilation value at a pixel only depends on the boundary pixels within
    the kernel radius, and all of them are inside the window, so dilating the
    window alone (OpenCV treats the outside as empty) matches the full-frame
    dilation on every boundary pixel.
    """
    pred_b = _boundary_of_window(pred, window).view(np.uint8)
    gt_b = _boundary_of_window(gt, window).view(np.uint8)
    n_pred = cv2.countNonZero(pred_b)
    n_gt = cv2.countNonZero(gt_b)
    if n_pred == 0 and n_gt > 0:
        precision, recall = 1.0, 0.0
    elif n_pred > 0 and n_gt == 0:
        precision, recall = 0.0, 1.0
    elif n_pred == 0 and n_gt == 0:
        precision, recall = 1.0, 1.0
    else:
        pred_dil = cv2.dilate(pred_b, kernel)
        gt_dil = cv2.dilate(gt_b, kernel)
        precision = cv2.countNonZero(pred_b & gt_dil) / float(n_pred)
        recall = cv2.countNonZero(gt_b & pred_dil) / float(n_gt)
    if precision + recall == 0:
        return 0.0
    return 2 * precision * recall / (precision + recall)


def _boundary_of_window(seg: np.ndarray, window: Box) -> np.ndarray:
    """Boundary map of the full-frame bool mask ``seg``, evaluated on ``window``.

    Identical to ``seg_to_boundary(seg)[y0:y1, x0:x1]``: the row below and the
    column right of the window are read from the mask, or replicated from its
    last row / column at the image border.
    """
    y0, y1, x0, x1 = window
    height, width = seg.shape
    ext = seg[y0:min(y1 + 1, height), x0:min(x1 + 1, width)]  # (h+1, w+1) inside the image
    pad_bottom = int(y1 + 1 > height)
    pad_right = int(x1 + 1 > width)
    if pad_bottom or pad_right:
        ext = np.pad(ext, ((0, pad_bottom), (0, pad_right)), mode='edge')
    centre = ext[:-1, :-1]
    return (centre ^ ext[:-1, 1:]) | (centre ^ ext[1:, :-1]) | (centre ^ ext[1:, 1:])


def _boundary_window(box: Box) -> Box:
    """Window holding every boundary pixel of masks inside ``box``.

    A background pixel is boundary only if its right, lower or lower-right
    neighbour is foreground, so the box grows by one row on top and one
    column on the left.
    """
    y0, y1, x0, x1 = box
    return max(y0 - 1, 0), y1, max(x0 - 1, 0), x1


def _mask_box(mask: np.ndarray) -> Box | None:
    """Bounding box (exclusive ends) of the nonzero pixels, None if empty."""
    rows = np.flatnonzero(mask.any(axis=1))
    if rows.size == 0:
        return None
    cols = np.flatnonzero(mask.any(axis=0))
    return int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1


def _union_box(a: Box | None, b: Box | None) -> Box | None:
    """Smallest box holding both boxes (either may be None)."""
    if a is None:
        return b
    if b is None:
        return a
    return min(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), max(a[3], b[3])


def score_objects(pred: np.ndarray, gt: np.ndarray, first: dict[int, int]) -> dict[int, dict]:
    """J and F of each object over the frames after its first frame.

    Args:
        pred (np.ndarray): (T, H, W) predicted ids of the scored frames.
        gt (np.ndarray): (T, H, W) GT ids of the same frames.
        first (dict[int, int]): object id -> index (in these frames) of its
            first frame; frames after it are scored.

    Returns:
        dict[int, dict]: id -> ``J``, ``F`` (means) and ``frames`` (how many);
        an object whose first frame is the last has no entry.
    """
    out = {}
    for obj, start in sorted(first.items()):
        frames = range(start + 1, len(pred))
        if not frames:
            continue
        j = [float(db_iou(gt[t] == obj, pred[t] == obj)) for t in frames]
        f = [f_measure(pred[t] == obj, gt[t] == obj) for t in frames]
        out[obj] = dict(J=float(np.mean(j)), F=float(np.mean(f)), frames=len(frames))
    return out
