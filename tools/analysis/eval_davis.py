"""Score a DAVIS-2017 result folder (semi-supervised J&F), like the official tool.

Usage::

    python tools/analysis/eval_davis.py DAVIS_ROOT RESULTS_DIR \
        [--sequences a b ...] [--workers N] [--out DIR]

``RESULTS_DIR/<seq>/<frame>.png`` are indexed PNGs of any method. The two
official CSVs (``global_results-val.csv``, ``per-sequence_results-val.csv``)
are written to ``--out`` (default ``RESULTS_DIR``); old ones there are deleted
before scoring starts, so a failed run never leaves stale numbers behind.
Bad input is reported as one ``error: ...`` line and exit code 1; anything else
is a bug and keeps its traceback.
"""
from __future__ import annotations

import argparse
import os
import os.path as osp
import sys
import time

from corrflow.datasets.video_io import DataError
from corrflow.evaluation.davis_io import (DAVIS_GLOBAL_COLUMNS, GLOBAL_CSV, PER_SEQUENCE_CSV,
                                          evaluate_davis, write_davis_csvs)
from corrflow.utils.launch import run_with_one_line_errors


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line arguments (``sys.argv[1:]`` by default)."""
    parser = argparse.ArgumentParser(
        description='DAVIS-2017 semi-supervised evaluation (J&F) of a result folder')
    parser.add_argument('davis_root', help='DAVIS root holding Annotations/480p and ImageSets')
    parser.add_argument('results_dir', help='folder holding <seq>/<frame>.png')
    parser.add_argument('--sequences', nargs='+', default=None,
                        help='sequences to score (default: ImageSets/2017/val.txt)')
    parser.add_argument('--workers', type=int, default=None,
                        help='worker processes (default: number of CPUs)')
    parser.add_argument('--out', default=None, help='folder for the CSVs (default: RESULTS_DIR)')
    return parser.parse_args(argv)


def run(args: argparse.Namespace) -> None:
    """Score, write the CSVs and print the table."""
    out_dir = args.out or args.results_dir
    for name in (GLOBAL_CSV, PER_SEQUENCE_CSV):  # never leave stale numbers behind
        stale = osp.join(out_dir, name)
        if osp.lexists(stale):
            os.remove(stale)
    start = time.perf_counter()
    global_row, per_object_rows = evaluate_davis(
        args.davis_root, args.results_dir, args.sequences, args.workers)
    elapsed = time.perf_counter() - start
    global_path, per_seq_path = write_davis_csvs(out_dir, global_row, per_object_rows)
    header = ' '.join(f'{c:>9}' for c in DAVIS_GLOBAL_COLUMNS)
    values = ' '.join(f'{global_row[c]:>9.6f}' for c in DAVIS_GLOBAL_COLUMNS)
    print(f'DAVIS-2017 semi-supervised, {len(per_object_rows)} objects')
    print(header)
    print(values)
    print(f'Time taken: {elapsed:.2f} s')
    print(f'Wrote {global_path} and {per_seq_path}')


def main(argv: list[str] | None = None) -> int:
    """Run the tool; returns the exit code (1 with one error line for bad input)."""
    args = parse_args(argv)
    # bad input (missing or malformed files, unwritable output) is one line; a bug keeps
    # its traceback
    return run_with_one_line_errors(lambda: run(args), (DataError, OSError))


if __name__ == '__main__':
    sys.exit(main())
