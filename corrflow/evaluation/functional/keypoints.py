"""JHMDB pose propagation: PCK.

Pure numpy, no I/O. The keypoint seeds and their read-out belong to the
propagator (:func:`corrflow.models.layers.propagation.gaussian_heatmaps` and
:func:`~corrflow.models.layers.propagation.soft_argmax_topk`); the decoding
they used is named in every PCK result, from the propagation settings.

Shape shorthand: T frames, J joints, A thresholds. Points are (x, y) pixel
coordinates, 0-based (JHMDB's ``pos_img`` is 1-based: subtract 1 before use).

Default protocol (the lineages differ; this one is named in every output):
frame 0 is the given seed and is not scored; the normaliser of a frame is
0.6 x the diagonal of the tight box around that frame's GT joints; a joint is
correct when its distance to the GT is at most alpha x normaliser; PCK@alpha
is the share of correct frames per joint, then the mean over joints.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

__all__ = [
    'BOX_SCALE', 'DEFAULT_ALPHAS', 'accumulate_pck', 'keypoint_decoding', 'pck', 'pck_hits',
    'pck_protocol',
]

#: PCK thresholds reported by default.
DEFAULT_ALPHAS = (0.1, 0.2)
#: The normaliser is this fraction of the GT joints' box diagonal.
BOX_SCALE = 0.6


def keypoint_decoding(propagation: dict | None) -> str | None:
    """How a propagator decoded keypoints, from its recorded settings (None if unrecorded)."""
    if not propagation or 'keypoint_topk' not in propagation:
        return None
    text = f"top-{propagation['keypoint_topk']} soft-argmax"
    if propagation.get('keypoint_sigma') is not None:
        text += f" of Gaussian seeds (sigma {propagation['keypoint_sigma']:g} px)"
    return text


def pck_protocol(skip_first: bool = True, decoding: str | None = None) -> str:
    """Human-readable name of the PCK protocol, stored beside every number.

    Args:
        skip_first (bool): whether frame 0 (the seed) is left out.
        decoding (str | None): how the predictions were decoded (see
            :func:`keypoint_decoding`); None when it was not recorded.
    """
    first = 'frame 0 skipped (given seed)' if skip_first else 'frame 0 counted'
    decoded = (f'predictions decoded by {decoding}' if decoding
               else 'decoding of the predictions not recorded')
    return (f'JHMDB PCK: {first}; normaliser {BOX_SCALE} x diagonal of the tight box around '
            f"each frame's GT joints; per-joint share of frames within alpha x normaliser, "
            f'then mean over joints; {decoded}')


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
                   decoding: str | None = None) -> dict:
    """PCK over many videos from their :func:`pck_hits`.

    Hits and counts are summed per joint over the videos, turned into a
    per-joint share, then averaged over joints (joints never scored are left
    out of the mean).

    Args:
        per_video (Iterable[tuple[np.ndarray, np.ndarray]]): (hits (A, J),
            counts (J,)) of each video, all with the same alphas.
        alphas (Sequence[float]): the thresholds the hits were counted at.
        skip_first (bool): whether frame 0 was skipped (for the protocol name).
        decoding (str | None): how the predictions were decoded (for the
            protocol name).

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
    result['protocol'] = pck_protocol(skip_first, decoding)
    result['num_scored'] = counts_sum
    return result


def pck(pred: np.ndarray, gt: np.ndarray, alphas: Sequence[float] = DEFAULT_ALPHAS,
        skip_first: bool = True, decoding: str | None = None) -> dict:
    """PCK of one video; see :func:`accumulate_pck` for the returned dict.

    Args:
        pred (np.ndarray): (T, J, 2) predicted positions (x, y).
        gt (np.ndarray): (T, J, 2) GT positions (x, y).
        alphas (Sequence[float]): thresholds, fractions of the normaliser.
        skip_first (bool): leave frame 0 (the seed) out.
        decoding (str | None): how the predictions were decoded (for the
            protocol name).

    Returns:
        dict: PCK@alpha means, per-joint values, protocol name, counts.
    """
    return accumulate_pck([pck_hits(pred, gt, alphas, skip_first)], alphas, skip_first,
                          decoding)
