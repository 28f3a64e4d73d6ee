"""JHMDB pose propagation: Gaussian seed heatmaps, top-k soft-argmax, PCK.

Pure numpy, no I/O. Shape shorthand: T frames, J joints, H height, W width,
A thresholds. Points are (x, y) pixel coordinates, 0-based (JHMDB's
``pos_img`` is 1-based: subtract 1 before use).

Default protocol (the lineages differ; this one is named in every output):
frame 0 is the given seed and is not scored; the normaliser of a frame is
0.6 x the diagonal of the tight box around that frame's GT joints; a joint is
correct when its distance to the GT is at most alpha x normaliser; PCK@alpha
is the share of correct frames per joint, then the mean over joints;
predictions are decoded with a top-k soft-argmax of the propagated heatmaps.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

__all__ = [
    'BOX_SCALE', 'DEFAULT_ALPHAS', 'DEFAULT_TOPK', 'accumulate_pck', 'gaussian_heatmaps',
    'pck', 'pck_hits', 'pck_protocol', 'soft_argmax_topk',
]

#: PCK thresholds reported by default.
DEFAULT_ALPHAS = (0.1, 0.2)
#: Number of heatmap locations the soft-argmax averages by default.
DEFAULT_TOPK = 5
#: The normaliser is this fraction of the GT joints' box diagonal.
BOX_SCALE = 0.6


def gaussian_heatmaps(points: np.ndarray, size: tuple[int, int], sigma: float) -> np.ndarray:
    """One unnormalised Gaussian per joint, peak 1 at the joint.

    Args:
        points (np.ndarray): (J, 2) joint positions (x, y), 0-based pixels.
        size (tuple[int, int]): heatmap size (H, W).
        sigma (float): standard deviation in pixels.

    Returns:
        np.ndarray: (J, H, W) float32, ``exp(-d² / (2 sigma²))``.
    """
    points = np.asarray(points, dtype=np.float64)
    if points.ndim != 2 or points.shape[1] != 2:
        raise ValueError(f'points must be (J, 2), got {points.shape}')
    if sigma <= 0:
        raise ValueError(f'sigma must be positive, got {sigma}')
    height, width = size
    xs = np.arange(width, dtype=np.float64)
    ys = np.arange(height, dtype=np.float64)
    dx2 = (xs[None, :] - points[:, :1]) ** 2  # (J, W)
    dy2 = (ys[None, :] - points[:, 1:]) ** 2  # (J, H)
    heatmaps = np.exp(-(dy2[:, :, None] + dx2[:, None, :]) / (2.0 * sigma**2))  # (J, H, W)
    return heatmaps.astype(np.float32)


def soft_argmax_topk(heatmaps: np.ndarray, topk: int = DEFAULT_TOPK) -> np.ndarray:
    """Decode joint positions as the weighted mean of each heatmap's top-k locations.

    The weights are the k heatmap values normalised to sum 1 (equal weights
    if they sum to 0). Ties are broken by raster order.

    Args:
        heatmaps (np.ndarray): (J, H, W) non-negative scores.
        topk (int): number of locations k, clipped to H * W.

    Returns:
        np.ndarray: (J, 2) float64 positions (x, y) in heatmap pixels.
    """
    heatmaps = np.asarray(heatmaps, dtype=np.float64)
    if heatmaps.ndim != 3:
        raise ValueError(f'heatmaps must be (J, H, W), got {heatmaps.shape}')
    if topk < 1:
        raise ValueError(f'topk must be >= 1, got {topk}')
    n_joints, _, width = heatmaps.shape
    flat = heatmaps.reshape(n_joints, -1)  # (J, H*W)
    k = min(topk, flat.shape[1])
    idx = np.argsort(-flat, axis=1, kind='stable')[:, :k]  # (J, k)
    values = np.take_along_axis(flat, idx, axis=1)  # (J, k)
    total = values.sum(axis=1, keepdims=True)  # (J, 1)
    weights = np.divide(values, total, out=np.full_like(values, 1.0 / k), where=total > 0)
    xs = (idx % width).astype(np.float64)
    ys = (idx // width).astype(np.float64)
    return np.stack([(weights * xs).sum(axis=1), (weights * ys).sum(axis=1)], axis=1)


def pck_protocol(skip_first: bool = True, topk: int = DEFAULT_TOPK) -> str:
    """Human-readable name of the PCK protocol, stored beside every number."""
    first = 'frame 0 skipped (given seed)' if skip_first else 'frame 0 counted'
    return (f'JHMDB PCK: {first}; normaliser {BOX_SCALE} x diagonal of the tight box around '
            f"each frame's GT joints; per-joint share of frames within alpha x normaliser, "
            f'then mean over joints; predictions decoded by top-{topk} soft-argmax')


def pck_hits(pred: np.ndarray, gt: np.ndarray, alphas: Sequence[float] = DEFAULT_ALPHAS,
             skip_first: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Per-joint correct-frame counts of one video, to be summed over videos.

    A GT joint with a non-finite coordinate is not scored (and not part of
    that frame's box); a non-finite prediction of a scored joint is a miss.

    Args:
        pred (np.ndarray): (T, J, 2) predicted positions (x, y).
        gt (np.ndarray): (T, J, 2) GT positions (x, y), same convention.
        alphas (Sequence[float]): A thresholds, fractions of the normaliser.
        skip_first (bool): leave frame 0 (the seed) out.

    Returns:
        tuple[np.ndarray, np.ndarray]: hits (A, J) int64 and counts (J,) int64.
    """
    pred = np.asarray(pred, dtype=np.float64)
    gt = np.asarray(gt, dtype=np.float64)
    if pred.shape != gt.shape or gt.ndim != 3 or gt.shape[2] != 2:
        raise ValueError(f'expected (T, J, 2) arrays of equal shape, got {pred.shape} '
                         f'and {gt.shape}')
    if skip_first:
        pred, gt = pred[1:], gt[1:]
    valid = np.isfinite(gt).all(axis=2)  # (T, J)
    lo = np.where(valid[..., None], gt, np.inf).min(axis=1)  # (T, 2)
    hi = np.where(valid[..., None], gt, -np.inf).max(axis=1)  # (T, 2)
    with np.errstate(invalid='ignore'):
        norm = BOX_SCALE * np.hypot(*(hi - lo).T)  # (T,), NaN for frames without joints
        dist = np.linalg.norm(pred - gt, axis=2)  # (T, J)
        thresholds = np.asarray(alphas, dtype=np.float64)[:, None, None] * norm[None, :, None]
        correct = (dist[None] <= thresholds) & valid[None]  # (A, T, J)
    return correct.sum(axis=1).astype(np.int64), valid.sum(axis=0).astype(np.int64)


def accumulate_pck(per_video: Iterable[tuple[np.ndarray, np.ndarray]],
                   alphas: Sequence[float] = DEFAULT_ALPHAS, skip_first: bool = True,
                   topk: int = DEFAULT_TOPK) -> dict:
    """PCK over many videos from their :func:`pck_hits`.

    Hits and counts are summed per joint over the videos, turned into a
    per-joint share, then averaged over joints (joints never scored are left
    out of the mean).

    Args:
        per_video (Iterable[tuple[np.ndarray, np.ndarray]]): (hits (A, J),
            counts (J,)) of each video, all with the same alphas.
        alphas (Sequence[float]): the thresholds the hits were counted at.
        skip_first (bool): whether frame 0 was skipped (for the protocol name).
        topk (int): soft-argmax k used to decode (for the protocol name).

    Returns:
        dict: ``'PCK@<alpha>'`` -> float for each alpha, ``'per_joint'`` ->
        {``'PCK@<alpha>'``: (J,) float64}, ``'protocol'`` -> str,
        ``'num_scored'`` -> (J,) int64 frames scored per joint.
    """
    hits_sum = None
    counts_sum = None
    for hits, counts in per_video:
        hits_sum = hits if hits_sum is None else hits_sum + hits
        counts_sum = counts if counts_sum is None else counts_sum + counts
    if hits_sum is None or counts_sum is None:
        raise ValueError('no video to accumulate')
    if hits_sum.shape[0] != len(alphas):
        raise ValueError(f'hits hold {hits_sum.shape[0]} thresholds, {len(alphas)} alphas given')
    with np.errstate(invalid='ignore', divide='ignore'):
        per_joint = hits_sum / counts_sum[None]  # (A, J), NaN where never scored
    result: dict = {'per_joint': {}}
    for alpha, shares in zip(alphas, per_joint):
        name = f'PCK@{alpha:g}'
        scored = shares[np.isfinite(shares)]
        result[name] = float(scored.mean()) if scored.size else float('nan')
        result['per_joint'][name] = shares
    result['protocol'] = pck_protocol(skip_first, topk)
    result['num_scored'] = counts_sum
    return result


def pck(pred: np.ndarray, gt: np.ndarray, alphas: Sequence[float] = DEFAULT_ALPHAS,
        skip_first: bool = True, topk: int = DEFAULT_TOPK) -> dict:
    """PCK of one video; see :func:`accumulate_pck` for the returned dict.

    Args:
        pred (np.ndarray): (T, J, 2) predicted positions (x, y).
        gt (np.ndarray): (T, J, 2) GT positions (x, y).
        alphas (Sequence[float]): thresholds, fractions of the normaliser.
        skip_first (bool): leave frame 0 (the seed) out.
        topk (int): soft-argmax k used to decode (for the protocol name).

    Returns:
        dict: PCK@alpha means, per-joint values, protocol name, counts.
    """
    return accumulate_pck([pck_hits(pred, gt, alphas, skip_first)], alphas, skip_first, topk)
