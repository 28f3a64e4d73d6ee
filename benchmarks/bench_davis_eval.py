"""Benchmark: corrflow's DAVIS J&F evaluation vs. the official tool's pipeline.

Runs ``tests.references.evaluate_baseline`` (single process, the official
structure) and ``corrflow.evaluation.davis_io.evaluate_davis`` (process pool,
bounding-box restricted) on the same result folders, checks that every number
is identical, and prints a table. Default cases, from the shared data
(env ``CORRFLOW_SHARED_DATA``, default ``../shared/data`` next to the repo):

* ``first-frame copy``: GT frame 0 copied to every frame (15 sequences),
  generated in a temporary folder;
* ``OSVOS``: the official OSVOS results of the 10 single-object sequences;
* ``multi-object``: the OSVOS results of the 5 multi-object sequences used as
  pseudo-GT, scored against a copy of their frame 0 (exercises N > 1).

corrflow is timed with its process pool and in a single process (the
per-frame gain alone); every file is read once before timing. ``--smoke``
scores 2 sequences per case and writes no JSON (for CI); a full run writes
``benchmarks/results/davis_eval.json``. ``--davis-root`` and ``--results``
benchmark any other folder instead. Exit code 1 if the numbers of the two
implementations differ.

Precision: not applicable. J&F are pixel counts on boolean masks (OpenCV /
numpy region and boundary matching) with float64 ratios, identical in an fp32
and a bf16 run, so no precision column is given. The header names the CPU, its flags and
whether bf16 is native or emulated on it, and the fp32 / bf16 GEMM rates
measured in the same run (``benchmarks.common.gemm_rates``), to compare
machines.

Usage::

    python benchmarks/bench_davis_eval.py [--smoke] [--workers N] [--repeat K]
"""
from __future__ import annotations

import argparse
import json
import os
import os.path as osp
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(REPO_ROOT))

from benchmarks.common import gemm_line, gemm_rates, machine_info, machine_line  # noqa: E402
from corrflow.evaluation.davis_io import (evaluate_davis, read_davis_sequences,  # noqa: E402
                                          write_first_frame_copy)
from tests.references import evaluate_baseline  # noqa: E402

SINGLE_OBJECT = ('blackswan', 'breakdance', 'car-roundabout', 'car-shadow', 'dance-twirl', 'dog',
                 'drift-chicane', 'drift-straight', 'libby', 'parkour')
MULTI_OBJECT = ('bmx-trees', 'horsejump-high', 'kite-surf', 'motocross-jump', 'scooter-black')
DEFAULT_JSON = REPO_ROOT / 'benchmarks' / 'results' / 'davis_eval.json'
PRECISION_NOTE = ('precision: not applicable (J&F are pixel counts on boolean masks with '
                  'float64 ratios, the same in an fp32 and a bf16 run)')


def shared_data_root() -> Path:
    """Shared data folder: env ``CORRFLOW_SHARED_DATA`` or ``../shared/data``."""
    return Path(os.environ.get('CORRFLOW_SHARED_DATA', REPO_ROOT.parent / 'shared' / 'data'))


def build_cases(data: Path, tmp: Path, smoke: bool) -> list[dict]:
    """The default cases, generating their temporary folders."""
    davis = data / 'davis2016-val-subset'
    osvos = data / 'davis2017-osvos-results' / 'semi-supervised' / 'osvos'
    for path in (davis, osvos):
        if not path.is_dir():
            raise FileNotFoundError(f'{path} not found (set CORRFLOW_SHARED_DATA)')
    all_seqs = read_davis_sequences(str(davis))
    single = list(SINGLE_OBJECT)
    multi = list(MULTI_OBJECT)
    if smoke:
        all_seqs, single, multi = all_seqs[:2], single[:2], multi[:2]

    first_copy = tmp / 'first_frame_copy'
    write_first_frame_copy(str(davis), str(first_copy), all_seqs)
    # OSVOS multi-object results as a pseudo-GT DAVIS root, and their frame-0 copy.
    pseudo_root = tmp / 'pseudo_gt'
    for seq in multi:
        shutil.copytree(osvos / seq, pseudo_root / 'Annotations' / '480p' / seq)
    pseudo_copy = tmp / 'pseudo_gt_first_frame_copy'
    write_first_frame_copy(str(pseudo_root), str(pseudo_copy), multi)
    return [
        dict(name='first-frame copy', davis_root=davis, results=first_copy, sequences=all_seqs),
        dict(name='OSVOS', davis_root=davis, results=osvos, sequences=single),
        dict(name='multi-object', davis_root=pseudo_root, results=pseudo_copy, sequences=multi),
    ]


def warm_cache(case: dict) -> int:
    """Read every PNG of a case once (neither timing pays cold I/O); returns the GT frames."""
    gt_frames = 0
    for seq in case['sequences']:
        gt_pngs = list((Path(case['davis_root']) / 'Annotations' / '480p' / seq).glob('*.png'))
        gt_frames += len(gt_pngs)
        for png in gt_pngs + list((Path(case['results']) / seq).glob('*.png')):
            png.read_bytes()
    return gt_frames


def max_abs_diff(ours: tuple[dict, list[dict]], baseline: tuple[dict, list[dict]]) -> float:
    """Largest difference over the global row and the per-object J/F means."""
    (g_ours, rows_ours), (g_base, rows_base) = ours, baseline
    if [r['Sequence'] for r in rows_ours] != [r['Sequence'] for r in rows_base]:
        return float('inf')
    diffs = [abs(float(g_ours[k]) - float(g_base[k])) for k in g_base]
    for r_ours, r_base in zip(rows_ours, rows_base):
        diffs += [abs(float(r_ours[k]) - float(r_base[k])) for k in ('J-Mean', 'F-Mean')]
    return max(diffs)


def run_case(case: dict, workers: int | None, repeat: int) -> dict:
    """Time both implementations on one case and compare their numbers.

    corrflow is timed twice: with its process pool (``workers``) and in one
    process, which shows the per-frame gain apart from the parallelism.
    """
    root, results, seqs = str(case['davis_root']), str(case['results']), case['sequences']
    frames = warm_cache(case)
    times: dict[str, list[float]] = {'baseline': [], 'ours': [], 'ours_1proc': []}
    for _ in range(repeat):
        start = time.perf_counter()
        baseline = evaluate_baseline(root, results, seqs)
        times['baseline'].append(time.perf_counter() - start)
        start = time.perf_counter()
        ours = evaluate_davis(root, results, seqs, num_workers=workers)
        times['ours'].append(time.perf_counter() - start)
        start = time.perf_counter()
        ours_1proc = evaluate_davis(root, results, seqs, num_workers=1)
        times['ours_1proc'].append(time.perf_counter() - start)
    best = {key: min(values) for key, values in times.items()}
    return {
        'case': case['name'], 'sequences': len(seqs), 'objects': len(ours[1]),
        'gt_frames': frames, 'baseline_s': best['baseline'], 'ours_s': best['ours'],
        'ours_1proc_s': best['ours_1proc'], 'speedup': best['baseline'] / best['ours'],
        'speedup_1proc': best['baseline'] / best['ours_1proc'],
        'max_abs_diff': max(max_abs_diff(ours, baseline), max_abs_diff(ours_1proc, baseline)),
        'jf_mean': ours[0]['J&F-Mean'], 'j_mean': ours[0]['J-Mean'], 'f_mean': ours[0]['F-Mean'],
        'times_s': times,
    }


def print_table(rows: list[dict]) -> None:
    """Human-readable summary."""
    print(f'{"case":<17} {"seqs":>4} {"objs":>4} {"frames":>6} {"baseline s":>10} '
          f'{"ours s":>7} {"speed-up":>8} {"1-proc s":>8} {"speed-up":>8} {"max|diff|":>9} '
          f'{"J&F":>9}')
    for r in rows:
        print(f'{r["case"]:<17} {r["sequences"]:>4} {r["objects"]:>4} {r["gt_frames"]:>6} '
              f'{r["baseline_s"]:>10.2f} {r["ours_s"]:>7.2f} {r["speedup"]:>7.1f}x '
              f'{r["ours_1proc_s"]:>8.2f} {r["speedup_1proc"]:>7.1f}x '
              f'{r["max_abs_diff"]:>9.1e} {r["jf_mean"]:>9.6f}')


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--smoke', action='store_true', help='2 sequences per case, no JSON')
    parser.add_argument('--workers', type=int, default=None,
                        help='worker processes of the corrflow evaluation (default: CPUs)')
    parser.add_argument('--repeat', type=int, default=1, help='runs per timing (the best is kept)')
    parser.add_argument('--davis-root', default=None, help='custom case: DAVIS root')
    parser.add_argument('--results', default=None, help='custom case: result folder')
    parser.add_argument('--sequences', nargs='+', default=None, help='custom case: sequences')
    parser.add_argument('--gemm-size', type=int, default=2048,
                        help='side of the torch.mm of the header\'s fp32 / bf16 GEMM rates '
                             '(256 with --smoke)')
    parser.add_argument('--json', default=None,
                        help=f'output JSON (default {DEFAULT_JSON.relative_to(REPO_ROOT)}; '
                             'none with --smoke)')
    args = parser.parse_args(argv)

    load_before = os.getloadavg()  # other jobs on the machine slow both sides down
    machine = machine_info('cpu')
    print(machine_line(machine))
    gemm = gemm_rates(['fp32', 'bf16'], 256 if args.smoke else args.gemm_size, repeat=3,
                      warmup=1)
    print(gemm_line(gemm, machine['torch_threads']))
    print(PRECISION_NOTE + '\n')
    with tempfile.TemporaryDirectory(prefix='bench_davis_') as tmp:
        if args.davis_root or args.results:
            if not (args.davis_root and args.results):
                parser.error('--davis-root and --results go together')
            seqs = args.sequences or read_davis_sequences(args.davis_root)
            cases = [dict(name='custom', davis_root=args.davis_root, results=args.results,
                          sequences=seqs[:2] if args.smoke else seqs)]
        else:
            cases = build_cases(shared_data_root(), Path(tmp), args.smoke)
        rows = [run_case(case, args.workers, args.repeat) for case in cases]
    print_table(rows)

    json_path = args.json or (None if args.smoke else str(DEFAULT_JSON))
    if json_path:
        os.makedirs(osp.dirname(osp.abspath(json_path)), exist_ok=True)
        report = {
            'benchmark': 'DAVIS-2017 semi-supervised J&F evaluation: corrflow vs. a '
                         'single-process re-implementation of the official pipeline',
            'machine': dict(machine, platform=platform.platform(), numpy=np.__version__,
                            opencv=cv2.__version__,
                            load_average_1_5_15min_before=load_before,
                            load_average_1_5_15min_after=os.getloadavg()),
            'gemm': gemm, 'precision': PRECISION_NOTE,
            'workers': args.workers or os.cpu_count(), 'repeat': args.repeat, 'cases': rows,
        }
        with open(json_path, 'w', encoding='utf-8') as f:
            json.dump(report, f, indent=2)
        print(f'wrote {json_path}')
    if any(r['max_abs_diff'] != 0 for r in rows):
        print('numbers differ between the baseline and corrflow', file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
