"""Reading, scoring and writing DAVIS-2017 folders (semi-supervised task).

Layout read here, as in the official ``davis2017-evaluation`` tool::

    DAVIS_ROOT/Annotations/480p/<seq>/<frame>.png   GT, indexed PNGs (0 background,
                                                    1..N objects, 255 void)
    DAVIS_ROOT/ImageSets/2017/val.txt               default sequence list
    RESULTS_DIR/<seq>/<frame>.png                   predictions, indexed PNGs of the
                                                    GT's size, ids 0..N, never 255

The per-frame maths live in :mod:`corrflow.evaluation.functional.davis`; this
module adds the folder layout, the process pool over sequences and the official CSVs; the
PNG format is :mod:`corrflow.evaluation.png_io`.
"""
from __future__ import annotations

import csv
import math
import multiprocessing
import os
import os.path as osp
import shutil
from collections.abc import Sequence
from concurrent.futures import FIRST_EXCEPTION, ProcessPoolExecutor, wait

import cv2
import numpy as np

from corrflow.datasets.video_io import DataError, PngSizeError, read_png_ids  # noqa: F401
from corrflow.evaluation.functional.davis import (VOID_LABEL, db_statistics, evaluate_frame,
                                                  num_objects)
from corrflow.evaluation.png_io import (read_gt_frame, voc_palette,  # noqa: F401 (re-exported)
                                        write_indexed_png)

__all__ = [
    'DAVIS_GLOBAL_COLUMNS', 'DAVIS_PER_SEQUENCE_COLUMNS', 'DavisInputError', 'DavisResultError',
    'GLOBAL_CSV', 'PER_SEQUENCE_CSV', 'PngSizeError', 'evaluate_davis', 'read_davis_gt',
    'read_davis_results', 'read_gt_frame',
    'read_davis_sequences', 'read_png_ids', 'summarise_davis', 'voc_palette', 'write_davis_csvs',
    'write_first_frame_copy', 'write_indexed_png',
]

#: Columns of ``global_results-val.csv``, in the official order.
DAVIS_GLOBAL_COLUMNS = ('J&F-Mean', 'J-Mean', 'J-Recall', 'J-Decay', 'F-Mean', 'F-Recall',
                        'F-Decay')
#: Columns of ``per-sequence_results-val.csv``, in the official order.
DAVIS_PER_SEQUENCE_COLUMNS = ('Sequence', 'J-Mean', 'F-Mean')
GLOBAL_CSV = 'global_results-val.csv'
PER_SEQUENCE_CSV = 'per-sequence_results-val.csv'

_ANNOTATIONS = osp.join('Annotations', '480p')
_SEQUENCE_LIST = osp.join('ImageSets', '2017', 'val.txt')


class DavisResultError(DataError, ValueError):
    """A result folder that cannot be scored; the message names the file."""


class DavisInputError(DataError, ValueError):
    """An evaluation request that cannot be served (no sequences, one listed twice, ...)."""


def read_davis_sequences(davis_root: str) -> list[str]:
    """Sequence names of ``ImageSets/2017/val.txt`` under ``davis_root``.

    Raises:
        FileNotFoundError: if the list is missing.
    """
    list_file = osp.join(davis_root, _SEQUENCE_LIST)
    if not osp.isfile(list_file):
        raise FileNotFoundError(f'sequence list {list_file} not found: pass the sequences '
                                f'explicitly or use a DAVIS root that has it')
    with open(list_file, encoding='utf-8') as f:
        return [line.strip() for line in f if line.strip()]


def write_first_frame_copy(davis_root: str, out_dir: str, sequences: Sequence[str]) -> None:
    """The identity baseline: ``out_dir/<seq>/<frame>.png`` = the GT frame 0 file, for every
    GT frame of each sequence under ``davis_root``.

    Raises:
        DataError: a sequence has no annotation PNGs.
    """
    for seq in sequences:
        gt_folder = osp.join(davis_root, _ANNOTATIONS, seq)
        frames = _png_names(gt_folder)
        if not frames:
            raise DataError(f'{gt_folder}: no annotation PNGs to copy frame 0 from')
        os.makedirs(osp.join(out_dir, seq), exist_ok=True)
        for name in frames:
            shutil.copyfile(osp.join(gt_folder, frames[0] + '.png'),
                            osp.join(out_dir, seq, name + '.png'))


def read_davis_gt(davis_root: str, seq: str) -> tuple[np.ndarray, list[str]]:
    """All GT id maps of a sequence.

    Args:
        davis_root (str): DAVIS root.
        seq (str): sequence name.

    Returns:
        tuple[np.ndarray, list[str]]: (T, H, W) uint8 palette indices (void
        255 kept) and the frame names without extension, in sorted order.
    """
    folder = osp.join(davis_root, _ANNOTATIONS, seq)
    names = _png_names(folder)
    if not names:
        raise FileNotFoundError(f'no GT masks in {folder}')
    first = read_gt_frame(osp.join(folder, f'{names[0]}.png'))
    gt = np.empty((len(names), *first.shape), dtype=np.uint8)
    gt[0] = first
    for t in range(1, len(names)):
        gt[t] = read_gt_frame(osp.join(folder, f'{names[t]}.png'), first.shape)
    return gt, names


def read_davis_results(results_dir: str, seq: str, frame_names: Sequence[str],
                       gt_shape: Sequence[int], num_objects: int | None = None) -> np.ndarray:
    """Predicted id maps of a sequence, checked for the semi-supervised protocol.

    Only the scored frames 1..T-2 are read: the first and last result frames
    may be absent and are never looked at.

    Args:
        results_dir (str): folder holding ``<seq>/<frame>.png``.
        seq (str): sequence name.
        frame_names (Sequence[str]): the GT frame names (T of them).
        gt_shape (Sequence[int]): the GT volume shape (T, H, W) or frame size (H, W).
        num_objects (int, optional): the sequence's object count N; ids above
            it are rejected when given.

    Returns:
        np.ndarray: (T, H, W) uint8; frames 0 and T-1 are left at 0.

    Raises:
        DavisResultError: a scored frame is missing, unreadable, not an 8-bit
            indexed PNG, of the wrong size, or holds 255 or an id above N.
    """
    shape = tuple(int(v) for v in tuple(gt_shape)[-2:])
    pred = np.zeros((len(frame_names), *shape), dtype=np.uint8)
    for t in range(1, len(frame_names) - 1):
        pred[t] = _read_result_frame(results_dir, seq, frame_names, t, shape, num_objects)
    return pred


def evaluate_davis(davis_root: str, results_dir: str,
                   sequences: Sequence[str] | None = None,
                   num_workers: int | None = None) -> tuple[dict, list[dict]]:
    """Score a result folder with the DAVIS-2017 semi-supervised protocol.

    Sequences run in a process pool, largest first; the output order follows
    ``sequences``, and the global means are taken over objects in that order,
    so the numbers are identical to the official tool's.

    Args:
        davis_root (str): DAVIS root with ``Annotations/480p``.
        results_dir (str): folder holding ``<seq>/<frame>.png``.
        sequences (Sequence[str], optional): sequences to score; by default
            those of ``ImageSets/2017/val.txt``.
        num_workers (int, optional): worker processes; ``os.cpu_count()`` by
            default, 1 runs in this process.

    Returns:
        tuple[dict, list[dict]]: the global row (keys
        :data:`DAVIS_GLOBAL_COLUMNS`) and one row per object with
        ``Sequence`` (``<seq>_<k>``), ``J-Mean``, ``J-Recall``, ``J-Decay``,
        ``F-Mean``, ``F-Recall``, ``F-Decay``.

    Raises:
        DavisResultError: a result folder or frame cannot be scored.
        FileNotFoundError: the GT or the sequence list is missing.
        DavisInputError: no sequences, a sequence listed twice, ``num_workers`` < 1.
        DataError: a GT that cannot be read as 8-bit indices, GT frames of
            several sizes, a sequence of fewer than 3 GT frames.
    """
    if isinstance(sequences, str):
        sequences = [sequences]
    if num_workers is not None and num_workers < 1:
        raise DavisInputError(f'num_workers must be >= 1, got {num_workers}')
    seqs = list(read_davis_sequences(davis_root) if sequences is None else sequences)
    if not seqs:
        raise DavisInputError('no sequences to evaluate')
    duplicates = sorted({s for s in seqs if seqs.count(s) > 1})
    if duplicates:
        raise DavisInputError(f'sequences listed more than once: {", ".join(duplicates)}')
    sizes = {}
    for seq in seqs:
        gt_folder = osp.join(davis_root, _ANNOTATIONS, seq)
        if not osp.isdir(gt_folder):
            raise FileNotFoundError(f'GT folder {gt_folder} not found')
        if not osp.isdir(osp.join(results_dir, seq)):
            raise DavisResultError(f'{osp.join(results_dir, seq)}: result folder missing')
        sizes[seq] = len(_png_names(gt_folder))
    order = sorted(seqs, key=lambda s: -sizes[s])  # largest first balances the pool
    workers = min(num_workers or os.cpu_count() or 1, len(seqs))  # never more than sequences
    if workers <= 1:
        scores = {seq: _score_sequence(davis_root, results_dir, seq) for seq in order}
    else:
        scores = _score_in_pool(davis_root, results_dir, order, workers)
    return summarise_davis(seqs, scores)


def write_davis_csvs(out_dir: str, global_row: dict, per_object_rows: Sequence[dict],
                     decimals: int = 6) -> tuple[str, str]:
    """Write ``global_results-val.csv`` and ``per-sequence_results-val.csv``.

    Column names and order are the official ones; the official tool rounds to
    3 decimals, this writes ``decimals``. Existing files are replaced (each
    file is written to a temporary name, then renamed).

    Args:
        out_dir (str): output folder, created if needed.
        global_row (dict): as returned by :func:`evaluate_davis`.
        per_object_rows (Sequence[dict]): as returned by :func:`evaluate_davis`.
        decimals (int): digits after the decimal point.

    Returns:
        tuple[str, str]: the paths of the global and per-sequence CSVs.
    """
    os.makedirs(out_dir, exist_ok=True)

    def fmt(value: float) -> str:
        return '' if math.isnan(value) else f'{value:.{decimals}f}'

    global_path = osp.join(out_dir, GLOBAL_CSV)
    _write_csv(global_path, DAVIS_GLOBAL_COLUMNS,
               [[fmt(global_row[c]) for c in DAVIS_GLOBAL_COLUMNS]])
    per_seq_path = osp.join(out_dir, PER_SEQUENCE_CSV)
    _write_csv(per_seq_path, DAVIS_PER_SEQUENCE_COLUMNS,
               [[row['Sequence'], fmt(row['J-Mean']), fmt(row['F-Mean'])]
                for row in per_object_rows])
    return global_path, per_seq_path


def _write_csv(path: str, header: Sequence[str], rows: list[list[str]]) -> None:
    """Write a CSV atomically (temporary file, then rename)."""
    tmp_path = f'{path}.tmp{os.getpid()}'
    with open(tmp_path, 'w', newline='', encoding='utf-8') as f:
        writer = csv.writer(f, lineterminator='\n')
        writer.writerow(header)
        writer.writerows(rows)
    os.replace(tmp_path, path)


def _png_names(folder: str) -> list[str]:
    """Sorted names (no extension) of the PNG files in ``folder``."""
    if not osp.isdir(folder):
        return []
    return sorted(f[:-4] for f in os.listdir(folder) if f.endswith('.png'))


def _read_result_frame(results_dir: str, seq: str, frame_names: Sequence[str], t: int,
                       shape: tuple[int, ...], n_objects: int | None) -> np.ndarray:
    """Result id map of scored frame ``t``, checked; raises :class:`DavisResultError`."""
    path = osp.join(results_dir, seq, f'{frame_names[t]}.png')
    if not osp.isfile(path):
        raise DavisResultError(f'{path}: result frame missing (frames 1..{len(frame_names) - 2} '
                               f'of {seq} are scored and required)')
    try:
        frame = read_png_ids(path, shape)
    except PngSizeError as err:
        raise DavisResultError(f'{path}: size {err.size[1]}x{err.size[0]} differs from the GT '
                               f'size {shape[1]}x{shape[0]}; results must have the size of '
                               'their GT frames') from None
    except DataError as err:
        raise DavisResultError(str(err)) from None
    if frame is None:
        raise DavisResultError(f'{path}: not an 8-bit indexed (palette or grayscale) PNG')
    top = int(frame.max())
    if top == VOID_LABEL:
        raise DavisResultError(f'{path}: holds the void value 255, which predictions '
                               f'must not contain')
    if n_objects is not None and top > n_objects:
        raise DavisResultError(f'{path}: holds id {top} but {seq} has {n_objects} '
                               f'object(s) in GT frame 0')
    return frame


def _score_sequence(davis_root: str, results_dir: str,
                    seq: str) -> tuple[np.ndarray, np.ndarray]:
    """Per-object J and F ((N, T-2) each) of one sequence, one frame at a time."""
    folder = osp.join(davis_root, _ANNOTATIONS, seq)
    names = _png_names(folder)
    if len(names) < 3:
        raise DataError(f'{folder}: {len(names)} GT frames, at least 3 are needed (the '
                        f'first and last are not scored); leave {seq} out of the sequence list')
    first = read_gt_frame(osp.join(folder, f'{names[0]}.png'))
    n_obj = num_objects(first)
    j_res = np.zeros((n_obj, len(names) - 2))
    f_res = np.zeros((n_obj, len(names) - 2))
    for t in range(1, len(names) - 1):
        gt = read_gt_frame(osp.join(folder, f'{names[t]}.png'), first.shape)
        pred = _read_result_frame(results_dir, seq, names, t, first.shape, n_obj)
        j_res[:, t - 1], f_res[:, t - 1] = evaluate_frame(gt, pred, n_obj)
    return j_res, f_res


def _init_worker() -> None:
    """One OpenCV thread per worker process: the pool is the parallelism."""
    cv2.setNumThreads(1)


def _pool_context():
    """Workers forked from a fresh server process that has only this module loaded.

    Forking the caller directly can deadlock when it already runs OpenCV or
    OpenMP thread pools (e.g. inside a training process or a test session).
    """
    ctx = multiprocessing.get_context('forkserver')
    ctx.set_forkserver_preload([__name__])
    return ctx


def _score_in_pool(davis_root: str, results_dir: str, order: list[str],
                   workers: int) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Score sequences in a process pool; the first failure cancels the rest."""
    with ProcessPoolExecutor(max_workers=workers, initializer=_init_worker,
                             mp_context=_pool_context()) as pool:
        futures = {pool.submit(_score_sequence, davis_root, results_dir, seq): seq
                   for seq in order}
        done, pending = wait(futures, return_when=FIRST_EXCEPTION)
        for future in pending:
            future.cancel()
        failed = [f for f in futures if f in done and f.exception() is not None]
        if failed:  # the first failure in submission order
            raise failed[0].exception()
        return {futures[f]: f.result() for f in done}


def summarise_davis(seqs: Sequence[str],
                    scores: dict[str, tuple[np.ndarray, np.ndarray]]) -> tuple[dict, list[dict]]:
    """Per-object statistics and their means over objects (official order)."""
    rows = []
    for seq in seqs:
        j_res, f_res = scores[seq]
        for k in range(j_res.shape[0]):
            row: dict = {'Sequence': f'{seq}_{k + 1}'}
            for key, values in (('J', j_res[k]), ('F', f_res[k])):
                mean, recall, decay = db_statistics(values)
                row[f'{key}-Mean'] = mean
                row[f'{key}-Recall'] = recall
                row[f'{key}-Decay'] = decay
            rows.append(row)

    def mean_of(column: str) -> float:
        if not rows:  # no object at all
            return math.nan
        return float(np.mean(np.array([row[column] for row in rows], dtype=np.float64)))

    global_row = {column: mean_of(column) for column in DAVIS_GLOBAL_COLUMNS[1:]}
    global_row = {'J&F-Mean': (global_row['J-Mean'] + global_row['F-Mean']) / 2., **global_row}
    return global_row, rows
