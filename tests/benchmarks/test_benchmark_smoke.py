"""Every benchmark script with a ``--smoke`` flag runs, prints a table and writes its JSON.

Discovers ``benchmarks/bench_*.py``; each is run as a subprocess from a
temporary folder with ``--smoke``, a few non-default arguments and an output
file, and must exit 0 within ``TIMEOUT_S``, print a table, leave
``benchmarks/results/`` untouched and write only the JSON it was asked for.
The JSON is then checked: its keys, that every number is finite and every time,
rate and speed-up positive, that the settings recorded are the arguments given
(and what ``--smoke`` implies), and that the derived numbers follow from the
measured ones. Scripts that read the shared real data are skipped when it is
absent.
"""
from __future__ import annotations

import datetime
import json
import math
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.common import results_path

REPO = Path(__file__).resolve().parents[2]
BENCH_DIR = REPO / 'benchmarks'
RESULTS_DIR = BENCH_DIR / 'results'
TIMEOUT_S = 600  # a hang guard, not a speed check (smoke runs take seconds on an idle CPU)
NUMBER = re.compile(r'^[-+]?(\d+\.?\d*|\.\d+)(e[-+]?\d+)?[x%s]?$', re.IGNORECASE)
RULE = re.compile(r'^[-=\s|+]+$')


def smoke_scripts() -> list[Path]:
    return sorted(p for p in BENCH_DIR.glob('bench_*.py')
                  if '--smoke' in p.read_text(encoding='utf-8'))


def uses_shared_data(script: Path) -> bool:
    text = script.read_text(encoding='utf-8')
    return 'CORRFLOW_SHARED_DATA' in text or 'shared_data_root' in text


def shared_data_root() -> Path:
    return Path(os.environ.get('CORRFLOW_SHARED_DATA', REPO.parent / 'shared' / 'data'))


def is_row(line: str) -> bool:
    """A table row: at least 3 cells, 2 or more of them (and a third or more) numbers."""
    cells = line.split()
    numbers = sum(bool(NUMBER.match(c)) for c in cells)
    return len(cells) >= 3 and numbers >= 2 and 3 * numbers >= len(cells)


def has_table(text: str) -> bool:
    """A header line of 3+ cells, an optional rule line, then a row (see :func:`is_row`)."""
    lines = [line for line in text.splitlines() if line.strip()]
    for i, line in enumerate(lines[1:], start=1):
        above = lines[i - 1]
        if RULE.match(above) and i >= 2:
            above = lines[i - 2]
        if is_row(line) and len(above.split()) >= 3 and not is_row(above):
            return True
    return False


def snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    if not folder.is_dir():
        return {}
    return {str(p.relative_to(folder)): (p.stat().st_mtime_ns, p.stat().st_size)
            for p in folder.rglob('*') if p.is_file()}


def test_table_detection():
    table = ('name  speed-up  ms\n----  --------  --\nours     4.92x  12\n'
             'base     1.00x  60\n')
    assert has_table(table)
    assert has_table('case  seqs objs  J&F\nfirst   2  2  0.2997\n')  # no rule line
    assert not has_table('11/22 05:40 - mmengine - INFO - 165 clips from 30 videos\nDone\n')


def test_benchmarks_are_discovered():
    names = {p.name for p in smoke_scripts()}
    assert {'bench_train_step.py', 'bench_dataloading.py'} <= names


# Keys of times, rates, speed-ups and ratios: positive wherever they are given.
POSITIVE = re.compile(r'(_s|_ms|per_s|fps|gflops?|speedup(_1proc)?|vs_\w+|_ratio)$')
# Keys of memory and of differences: never negative.
NON_NEGATIVE = re.compile(r'(_mib|_diff|_err)$')


def numbers(obj, path=''):
    """(path, key, value) of every number in a JSON document (lists of numbers item by item)."""
    if isinstance(obj, dict):
        for key, value in obj.items():
            yield from numbers(value, f'{path}.{key}')
    elif isinstance(obj, list):
        for i, value in enumerate(obj):
            yield from numbers(value, f'{path}[{i}]')
    elif isinstance(obj, (int, float)) and not isinstance(obj, bool):
        key = re.sub(r'(\[\d+\])+$', '', path).rsplit('.', 1)[-1]
        yield path, key, obj


def check_numbers(report: dict) -> None:
    for path, key, value in numbers(report):
        assert math.isfinite(value), f'{path} = {value}'
        if POSITIVE.search(key):
            assert value > 0, f'{path} = {value}'
        if NON_NEGATIVE.search(key):
            assert value >= 0, f'{path} = {value}'


def check_timing(timing: dict, repeat: int, warmup: int) -> None:
    assert (timing['repeat'], timing['warmup']) == (repeat, warmup)
    assert len(timing['times_s']) == repeat
    assert timing['min_s'] <= timing['median_s'] <= timing['max_s']
    assert timing['mean_s'] == pytest.approx(sum(timing['times_s']) / repeat)


def check_gemm(gemm: dict, precisions) -> None:
    assert list(gemm) == list(precisions)
    for entry in gemm.values():
        assert entry['size'] == 256  # --smoke
        assert entry['gflops'] == pytest.approx(2 * 256 ** 3 / entry['timing']['median_s'] / 1e9)


def check_common_report(report: dict, script: Path, argv: list[str], started, ended) -> None:
    """The keys every ``benchmarks.common.write_results`` report has, and their values."""
    assert {'benchmark', 'timestamp', 'command', 'machine', 'results', 'settings',
            'gemm'} <= set(report)
    assert report['benchmark'] == script.stem[len('bench_'):]
    stamp = datetime.datetime.fromisoformat(report['timestamp'])
    assert stamp.tzinfo is not None and started <= stamp <= ended
    assert shlex.split(report['command'])[1:] == [str(script), *argv]
    machine = report['machine']
    assert machine['device'] == 'cpu' and machine['torch_threads'] == 1
    assert machine['cpu_count'] >= 1 and machine['torch']


def check_train_step(report: dict) -> None:
    settings = report['settings']
    assert {k: settings[k] for k in ('size', 'batch', 'frames', 'device', 'precisions',
                                     'reference', 'repeat', 'warmup', 'seed', 'gemm_size')} == \
        dict(size=48, batch=2, frames=3, device='cpu', precisions=['fp32'], reference=True,
             repeat=1, warmup=0, seed=3, gemm_size=256)
    assert settings['model_config'] == 'configs/_base_/models/corrflow_r18.py'
    check_gemm(report['gemm'], ['fp32'])
    rows = report['results']
    assert [(r['arrangement'], r['precision'], r['backbone_passes']) for r in rows] == \
        [('ours', 'fp32', 3), ('reference', 'fp32', 16)]
    for row in rows:
        check_timing(row['timing'], 1, 0)
        assert row['s_per_iter'] == row['timing']['median_s']
        assert row['iter_per_s'] == pytest.approx(1 / row['s_per_iter'])
        assert row['clips_per_s'] == pytest.approx(2 / row['s_per_iter'])
        assert row['peak_mib'] == row['memory']['peak_mib'] > 0
    ours, ref = rows
    assert ours['vs_fp32'] == 1.0 and ref['speedup'] == 1.0
    assert ours['speedup'] == pytest.approx(ref['s_per_iter'] / ours['s_per_iter'])
    checks = report['loss_check']
    assert [c['draw'] for c in checks] == ['truth fed', 'prediction fed']
    for check in checks:
        for key in ('loss_short', 'loss_cycle'):
            assert check[f'{key}_ours'] > 0
            assert check[f'{key}_ours'] == pytest.approx(check[f'{key}_reference'], rel=1e-5)
        assert check['agree'] == 'yes' and check['max_rel_diff'] <= settings['loss_rtol']
    assert checks[0]['grad_max_rel_diff'] is None and checks[1]['grad_max_rel_diff'] >= 0
    assert report['precision_loss_check'] == [] and report['target'] is None
    assert report['losses_agree'] is True


def check_attention(report: dict) -> None:
    settings = report['settings']
    assert {k: settings[k] for k in ('repeat', 'warmup', 'seed', 'gemm_size', 'device',
                                     'precisions')} == \
        dict(repeat=1, warmup=0, seed=1, gemm_size=256, device='cpu', precisions=['fp32'])
    assert list(settings['configs']) == ['smoke']
    shape = settings['configs']['smoke']
    check_gemm(report['gemm'], ['fp32'])
    rows = report['results']
    assert {(r['config'], r['mode'], r['precision']) for r in rows} == \
        {('smoke', mode, 'fp32') for mode in shape['modes']}
    # useful_flop_fwd = B*H*W*(2R+1)^2*2*(C+L); fwd+bwd = 3x that
    fwd = (shape['batch'] * shape['height'] * shape['width'] * (2 * shape['radius'] + 1) ** 2
           * 2 * (shape['channels'] + shape['labels']))
    for row in rows:
        passes = 3 if row['mode'] == 'fwd+bwd' else 1
        assert row['useful_gflop'] == pytest.approx(passes * fwd / 1e9)
        assert row['ours_gflops'] == pytest.approx(row['useful_gflop'] / (row['ours_ms'] / 1e3))
        assert row['speedup'] == pytest.approx(row['unfold_ms'] / row['ours_ms'])
        assert row['vs_fp32'] == 1.0
        check_timing(row['timing']['ours_fp32'], 1, 0)
        assert row['ours_ms'] == pytest.approx(row['timing']['ours_fp32']['median_s'] * 1e3)
    assert [a['agree'] for a in report['agreement']] == ['yes']
    assert report['implementations_agree'] is True and report['precision_check'] == []


def check_dataloading(report: dict) -> None:
    settings = report['settings']
    assert {k: settings[k] for k in ('data', 'batch', 'batches', 'workers', 'decode_frames',
                                     'repeat', 'gpu_step_s')} == \
        dict(data='davis2016-train-256', batch=2, batches=2, workers=[0, 1], decode_frames=12,
             repeat=1, gpu_step_s=0.1)
    assert settings['clips_per_s_needed'] == pytest.approx(2 / 0.1)
    check_gemm(report['gemm'], ['fp32', 'bf16'])
    stages = {r['stage']: r for r in report['results']['stages']}
    parts = ['LoadClipFrames', 'ResizeClip', 'QuantiseColour', 'PackClipInputs']
    assert parts + ['total'] == list(stages)[:5]
    total = stages['total']['ms_per_clip']
    assert sum(stages[p]['ms_per_clip'] for p in parts) == pytest.approx(total)
    for part in parts:
        assert stages[part]['share'] == pytest.approx(stages[part]['ms_per_clip'] / total)
    assert stages['total']['clips_per_s'] == pytest.approx(1e3 / total)
    decoding = [r for r in report['results']['decoding'] if 'frames_per_s' in r]
    assert decoding[0]['decoder'] == 'OpenCV cv2.imdecode' and decoding[0]['vs_opencv'] == 1.0
    for row in decoding:
        assert row['frames_per_s'] == pytest.approx(1e3 / row['ms_per_frame'])
        assert row['mean_abs_diff'] == 0.0  # every decoder gives OpenCV's pixels
    loader = report['results']['dataloader']
    assert [(r['workers'], r['batches'], r['clips']) for r in loader] == [(0, 2, 4), (1, 2, 4)]
    for row in loader:
        assert row['vs_gpu_need'] == pytest.approx(row['steady_clips_per_s'] / 20)
        assert row['clips_per_s_per_process'] == pytest.approx(
            row['steady_clips_per_s'] / max(1, row['workers']))
    per_process = max(r['clips_per_s_per_process'] for r in loader)
    assert settings['clips_per_s_per_process'] == pytest.approx(per_process)
    assert settings['workers_needed'] == math.ceil(20 / per_process)


def check_propagation(report: dict) -> None:
    settings = report['settings']
    assert {k: settings[k] for k in ('widths', 'dense_widths', 'frames_a', 'frames_b',
                                     'labels', 'device', 'precisions', 'repeat',
                                     'warmup', 'seed', 'gemm_size')} == \
        dict(widths=[128], dense_widths=[128], frames_a=3, frames_b=3,
             labels=2, device='cpu', precisions=['fp32'], repeat=1, warmup=0, seed=1,
             gemm_size=256)
    assert list(settings['settings']) == ['B', 'B, CRW rules', 'B-lite, CRW rules']
    check_gemm(report['gemm'], ['fp32'])
    results = report['results']
    assert [(r['protocol'], r['width'], r['precision'], r['frames']) for r in
            results['pipeline']] == [('A', 128, 'fp32', 3), ('B', 128, 'fp32', 3)]
    steps = results['protocol_b_steps']
    assert [(r['setting'], r['context'], r['impl']) for r in steps] == [
        (s, c, impl) for s, c in (('B', 21), ('B, CRW rules', 21), ('B-lite, CRW rules', 6))
        for impl in ('reference', 'ours')]
    for row in results['pipeline']:
        assert row['vs_fp32'] == 1.0
    for row in results['pipeline'] + steps:
        assert row['fps'] == pytest.approx(1 / row['s_per_frame'])
    for ref, ours in zip(steps[::2], steps[1::2]):
        assert ours['vs_reference'] == pytest.approx(ref['s_per_frame'] / ours['s_per_frame'])
        assert ref['vs_reference'] == 1.0
        assert ref['layout'] < ours['layout'] + 1e-3  # only ours lays a map out
        for row in (ref, ours):
            assert sum(row[k] for k in ('backbone', 'attention', 'layout', 'read_out')) <= \
                row['timing']['max_s'] + 1e-6
    dense = results['dense']
    assert [r['protocol'] for r in dense] == ['A', 'B'] and all(r['agree'] for r in dense)
    for row in dense:
        assert row['speedup'] == pytest.approx(row['dense_ms'] / row['ours_ms'])
    assert report['outputs_agree'] is True


# Official-tool J and F means of the 2 smoke sequences of the first two cases (single objects):
# first-frame copy of blackswan and bmx-trees; OSVOS on blackswan and breakdance.
OFFICIAL_J_F = {'first-frame copy': ((0.545023 + 0.093581) / 2, (0.334033 + 0.226062) / 2),
                'OSVOS': ((0.943020 + 0.727206) / 2, (0.974096 + 0.755952) / 2)}


def check_davis_eval(report: dict) -> None:
    assert set(report) == {'benchmark', 'machine', 'gemm', 'precision', 'workers', 'repeat',
                           'cases'}
    assert report['benchmark'].startswith('DAVIS-2017 semi-supervised J&F evaluation')
    assert (report['workers'], report['repeat']) == (1, 1)
    check_gemm(report['gemm'], ['fp32', 'bf16'])
    cases = report['cases']
    assert [c['case'] for c in cases] == ['first-frame copy', 'OSVOS', 'multi-object']
    for case in cases:
        assert case['sequences'] == 2  # --smoke
        assert case['objects'] >= case['sequences'] and case['gt_frames'] > 0
        assert case['max_abs_diff'] == 0.0  # identical to the official pipeline
        for key in ('baseline', 'ours', 'ours_1proc'):
            assert case[f'{key}_s'] == min(case['times_s'][key]) and \
                len(case['times_s'][key]) == 1
        assert case['speedup'] == pytest.approx(case['baseline_s'] / case['ours_s'])
        assert case['speedup_1proc'] == pytest.approx(case['baseline_s'] / case['ours_1proc_s'])
        assert 0 <= case['j_mean'] <= 1 and 0 <= case['f_mean'] <= 1
        assert case['jf_mean'] == pytest.approx((case['j_mean'] + case['f_mean']) / 2)
        if case['case'] in OFFICIAL_J_F:
            assert case['objects'] == 2
            j, f = OFFICIAL_J_F[case['case']]
            assert case['j_mean'] == pytest.approx(j, abs=1e-6)
            assert case['f_mean'] == pytest.approx(f, abs=1e-6)


# Per script: the non-default arguments given, the output flag, whether the report is a
# benchmarks.common one, and its checks. A script not listed gets the common checks.
SMOKE_RUNS = {
    'bench_train_step': (['--seed', '3', '--precisions', 'fp32'], '--out', True,
                         check_train_step),
    'bench_attention': (['--seed', '1', '--precisions', 'fp32'], '--out', True,
                        check_attention),
    'bench_dataloading': (['--gpu-step-s', '0.1'], '--out', True, check_dataloading),
    'bench_propagation': (['--seed', '1', '--labels', '2', '--precisions', 'fp32'], '--out',
                          True, check_propagation),
    'bench_davis_eval': (['--workers', '1'], '--json', False, check_davis_eval),
}


def test_smoke_runs_write_json_only_when_asked():
    assert results_path('x', None, smoke=True) is None
    assert results_path('x', 'out.json', smoke=True) == Path('out.json')
    assert results_path('x') == RESULTS_DIR / 'x.json'


def test_report_checks_catch_bad_numbers():
    check_numbers({'a': {'ours_ms': 1.0, 'times_s': [0.5, 0.25], 'peak_mib': 0.0, 'n': -3}})
    for bad in ({'x': float('nan')}, {'ours_ms': 0.0}, {'times_s': [0.5, -1.0]},
                {'rows': [{'speedup': -2}]}, {'max_abs_diff': -1e-9}, {'vs_fp32': 0}):
        with pytest.raises(AssertionError):
            check_numbers(bad)


@pytest.mark.parametrize('script', smoke_scripts(), ids=lambda p: p.stem)
def test_smoke_run(script: Path, tmp_path: Path):
    if uses_shared_data(script) and not shared_data_root().is_dir():
        pytest.skip(f'shared data not found at {shared_data_root()}')
    args, out_flag, common, check = SMOKE_RUNS.get(script.stem, ([], '--out', True, None))
    out = tmp_path / 'report' / 'out.json'
    argv = ['--smoke', *args, out_flag, str(out)]
    env = dict(os.environ, PYTHONPATH=str(REPO), OMP_NUM_THREADS='1', OPENBLAS_NUM_THREADS='1',
               MKL_NUM_THREADS='1')
    before = snapshot(RESULTS_DIR)
    started = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    proc = subprocess.run([sys.executable, str(script), *argv], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=TIMEOUT_S)
    ended = datetime.datetime.now(datetime.timezone.utc)
    assert proc.returncode == 0, f'{script.name} --smoke failed:\n{proc.stdout}\n{proc.stderr}'
    assert has_table(proc.stdout), f'{script.name} --smoke printed no table:\n{proc.stdout}'
    assert snapshot(RESULTS_DIR) == before, f'{script.name} --smoke wrote into {RESULTS_DIR}'
    assert sorted(tmp_path.rglob('*.json')) == [out], \
        f'{script.name} --smoke wrote other JSON than {out_flag}'
    report = json.loads(out.read_text(encoding='utf-8'))
    check_numbers(report)
    if common:
        check_common_report(report, script, argv, started, ended)
    if check is not None:
        check(report)
