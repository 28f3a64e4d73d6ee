"""VIP human-part propagation: per-class intersection / union and mIoU.

Pure numpy, no I/O. Intersections and unions are summed over all scored
frames of all videos first, then IoU = intersection / union per class, and
mIoU is the mean over the classes whose union is not empty.

Shape shorthand: H height, W width, C classes.
"""
from __future__ import annotations

import numpy as np

__all__ = ['VIP_CLASSES', 'intersect_and_union', 'mean_iou', 'per_class_iou']

#: The 20 VIP classes, in label order.
VIP_CLASSES = (
    'background', 'hat', 'hair', 'sun-glasses', 'upper-clothes', 'dress', 'coat', 'socks',
    'pants', 'gloves', 'scarf', 'skirt', 'torso-skin', 'face', 'right-arm', 'left-arm',
    'right-leg', 'left-leg', 'right-shoe', 'left-shoe',
)


def intersect_and_union(pred: np.ndarray, gt: np.ndarray, num_classes: int = len(VIP_CLASSES),
                        ignore_index: int = 255) -> tuple[np.ndarray, np.ndarray]:
    """Per-class pixel counts of intersection and union for one frame.

    Pixels whose GT is ``ignore_index`` are left out.

    Args:
        pred (np.ndarray): (H, W) predicted class ids in [0, C).
        gt (np.ndarray): (H, W) GT class ids in [0, C) or ``ignore_index``.
        num_classes (int): C.
        ignore_index (int): GT value that is not scored.

    Returns:
        tuple[np.ndarray, np.ndarray]: intersection (C,) and union (C,), int64.

    Raises:
        ValueError: on shape mismatch or ids outside [0, C) where scored.
    """
    pred = np.asarray(pred)
    gt = np.asarray(gt)
    if pred.shape != gt.shape:
        raise ValueError(f'shape mismatch: prediction {pred.shape} vs GT {gt.shape}')
    scored = gt != ignore_index
    pred = pred[scored].astype(np.int64)
    gt = gt[scored].astype(np.int64)
    for name, ids in (('prediction', pred), ('GT', gt)):
        if ids.size and (ids.min() < 0 or ids.max() >= num_classes):
            raise ValueError(f'{name} ids must lie in [0, {num_classes}) on scored pixels, '
                             f'got {ids.min()}..{ids.max()}')
    intersect = np.bincount(gt[pred == gt], minlength=num_classes)  # (C,)
    area_pred = np.bincount(pred, minlength=num_classes)  # (C,)
    area_gt = np.bincount(gt, minlength=num_classes)  # (C,)
    return intersect, area_pred + area_gt - intersect


def per_class_iou(total_intersect: np.ndarray, total_union: np.ndarray) -> np.ndarray:
    """IoU per class; NaN for classes whose union is empty (absent everywhere).

    Args:
        total_intersect (np.ndarray): (C,) summed intersections.
        total_union (np.ndarray): (C,) summed unions.

    Returns:
        np.ndarray: (C,) float64.
    """
    total_intersect = np.asarray(total_intersect, dtype=np.float64)
    total_union = np.asarray(total_union, dtype=np.float64)
    iou = np.full(total_union.shape, np.nan)
    np.divide(total_intersect, total_union, out=iou, where=total_union > 0)
    return iou


def mean_iou(total_intersect: np.ndarray, total_union: np.ndarray) -> float:
    """mIoU: mean of :func:`per_class_iou` over the classes with a non-empty union.

    Args:
        total_intersect (np.ndarray): (C,) summed intersections.
        total_union (np.ndarray): (C,) summed unions.

    Returns:
        float: mIoU, NaN if no class was ever present.
    """
    iou = per_class_iou(total_intersect, total_union)
    present = iou[~np.isnan(iou)]
    return float(present.mean()) if present.size else float('nan')
