"""Key figures of the steps of ``tools/check_gpu.sh``, one markdown-safe line each.

Usage::

    python tools/analysis/check_gpu_figures.py env
    python tools/analysis/check_gpu_figures.py pytest LOG
    python tools/analysis/check_gpu_figures.py train WORK_DIR
    python tools/analysis/check_gpu_figures.py test OUT_DIR [--ref OUT_DIR]
    python tools/analysis/check_gpu_figures.py bench JSON

``env``: the GPU, torch / CUDA / cuDNN versions, bf16 support and what ``--amp`` picks
(markdown bullets). ``pytest``: the result line of ``pytest -q``, the failed and the xfailed tests.
``train``: precision, first and last logged loss, s/iter, data s/iter and peak GPU memory
from the newest mmengine run in WORK_DIR (``*/vis_data/scalars.json`` and its log).
``test``: J&F, J and F of a ``tools/test.py`` DAVIS output folder (``propagation.json``),
and the J&F difference to ``--ref``. ``bench``: the timings of a benchmark's JSON report.
A missing or unreadable input gives a line saying so (exit status 0: figures never fail
a step).
"""
from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

_PYTEST_RESULT = re.compile(r'\d+ (passed|failed|skipped|xfailed|xpassed|errors?|deselected)')


def env_lines() -> list[str]:
    """Markdown bullets describing the GPU and the software stack."""
    import torch

    from corrflow.utils.precision import PrecisionError, resolve_precision

    lines = [f'- torch {torch.__version__}, CUDA (torch build) {torch.version.cuda}, '
             f'cuDNN {torch.backends.cudnn.version()}']
    if not torch.cuda.is_available():
        return ['- GPU: none visible to PyTorch'] + lines
    count = torch.cuda.device_count()
    props = torch.cuda.get_device_properties(0)
    lines.insert(0, f'- GPU: {props.name} (compute capability {props.major}.{props.minor}, '
                    f'{props.total_memory / 2**30:.1f} GiB), {count} visible, device 0 used')
    native = props.major >= 8
    supported = torch.cuda.is_bf16_supported()
    bf16 = 'native (compute capability >= 8.0)' if native else (
        'emulated only (torch.cuda.is_bf16_supported() is True, but the GPU has no bf16 '
        'tensor cores: slow)' if supported else 'not supported')
    try:
        amp = resolve_precision('auto', 'cuda').describe()
    except PrecisionError as err:
        amp = f'error: {err}'
    lines.append(f'- bf16: {bf16}; `--amp` (auto) runs {amp}')
    return lines


def pytest_figures(log: Path) -> str:
    """The result line of ``pytest -q`` (counts, time), the first failed and xfailed tests."""
    text = _read(log)
    if text is None:
        return f'no log ({log})'
    lines = [line.strip(' =') for line in text.splitlines() if line.strip()]
    result = next((line for line in reversed(lines) if _PYTEST_RESULT.search(line)),
                  'no pytest result line')
    failed = [line.split()[1] for line in lines if line.startswith(('FAILED ', 'ERROR '))
              and len(line.split()) > 1]
    for label, tests in (('failed', failed), ('expected failures (known limitations)', [
            line.split()[1] for line in lines if line.startswith('XFAIL ')
            and len(line.split()) > 1])):
        if tests:
            shown = ', '.join(t.split('::')[-1] for t in tests[:5])
            result += f'; {label}: {shown}' + (f' and {len(tests) - 5} more'
                                               if len(tests) > 5 else '')
    return result


def train_figures(work_dir: Path) -> str:
    """Precision, first/last logged loss, s/iter, data s/iter and peak memory of a run."""
    runs = sorted(work_dir.glob('*/vis_data/scalars.json'), key=lambda p: p.stat().st_mtime)
    if not runs:
        return f'no scalars.json under {work_dir}'
    scalars = runs[-1]
    entries = []
    for line in scalars.read_text(encoding='utf-8').splitlines():
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:
            continue
        if 'loss' in entry:
            entries.append(entry)
    if not entries:
        return f'no loss logged in {scalars}'
    first, last = entries[0], entries[-1]
    # the first window holds the warm-up (cuDNN autotuning, workers starting)
    steady = entries[1:] or entries
    parts = [f'loss {first["loss"]:.4f} (iter {first.get("iter", "?")}) -> '
             f'{last["loss"]:.4f} (iter {last.get("iter", "?")})']
    times = [e['time'] for e in steady if 'time' in e]
    if times:
        data = [e['data_time'] for e in steady if 'data_time' in e]
        data_part = f', of which data {sum(data) / len(data):.3f}' if data else ''
        parts.append(f'{sum(times) / len(times):.3f} s/iter{data_part} (iter '
                     f'{steady[0].get("iter", "?")}-{last.get("iter", "?")})')
    memory = [e['memory'] for e in entries if 'memory' in e]
    if memory:
        parts.append(f'peak GPU memory {max(memory):.0f} MiB')
    precision = _log_precision(scalars.parent.parent)
    if precision:
        parts.insert(0, f'precision {precision}')
    return '; '.join(parts)


def _log_precision(run_dir: Path) -> str | None:
    """The ``precision: ...`` statement of the run's log (up to the CPU description)."""
    for log in sorted(run_dir.glob('*.log')):
        for line in (_read(log) or '').splitlines():
            if 'precision: ' in line:
                return line.split('precision: ', 1)[1].split(';')[0].strip()
    return None


def davis_scores(out_dir: Path) -> dict | None:
    """``propagation.json`` of a DAVIS output folder, or None."""
    text = _read(out_dir / 'propagation.json')
    if text is None:
        return None
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return None


def davis_figures(out_dir: Path, ref: Path | None = None) -> str:
    """J&F, J, F and the precision of a DAVIS run; the J&F difference to ``ref``."""
    report = davis_scores(out_dir)
    if report is None:
        return f'no propagation.json in {out_dir}'
    res = report.get('results', {})
    text = (f'J&F {res.get("J&F-Mean", float("nan")):.4f} (J {res.get("J-Mean", float("nan")):.4f}'
            f', F {res.get("F-Mean", float("nan")):.4f}) over {len(report.get("sequences", []))} '
            'sequences')
    precision = (report.get('propagation') or {}).get('precision')
    if precision:
        text += f'; precision {precision}'
    if ref is not None:
        other = davis_scores(ref)
        if other is not None and 'J&F-Mean' in res:
            diff = res['J&F-Mean'] - other.get('results', {}).get('J&F-Mean', float('nan'))
            text += f'; J&F minus that of {ref.parent.name}: {diff:+.4f}'
    return text


def bench_figures(path: Path) -> str:
    """The main timings of a benchmark report (train_step, attention, propagation)."""
    text = _read(path)
    if text is None:
        return f'no JSON report ({path})'
    try:
        report = json.loads(text)
    except json.JSONDecodeError as err:
        return f'unreadable JSON report {path} ({err})'
    name, results = report.get('benchmark'), report.get('results')
    parts = []
    if name == 'train_step' and isinstance(results, list):
        for r in results:
            parts.append(f'{r.get("arrangement", "?")} {r.get("precision", "fp32")} '
                         f'{r.get("s_per_iter", float("nan")):.3f} s/iter' + _mib(r, 'peak_mib'))
        parts.append(f'losses agree: {report.get("losses_agree")}')
    elif name == 'attention' and isinstance(results, list):
        for r in results:
            parts.append(f'{r.get("config", "?")} {r.get("mode", "?")} '
                         f'{r.get("precision", "fp32")} {r.get("ours_ms", float("nan")):.1f} ms'
                         + _mib(r, 'ours_mib'))
        parts.append(f'implementations agree: {report.get("implementations_agree")}')
    elif name == 'propagation' and isinstance(results, dict):
        for r in results.get('pipeline', []):
            parts.append(f'{r.get("protocol", "?")} {r.get("width", "?")}px '
                         f'{r.get("precision", "fp32")} {r.get("s_per_frame", float("nan")):.3f} '
                         's/frame' + _mib(r, 'case_mib'))
        parts.append(f'outputs agree: {report.get("outputs_agree")}')
    else:
        count = len(results) if isinstance(results, (list, dict)) else 0
        parts.append(f'{name}: {count} result rows (see the JSON)')
    return '; '.join(parts)


def _mib(row: dict, key: str) -> str:
    value = row.get(key)
    return f' {value:.0f} MiB' if isinstance(value, (int, float)) else ''


def _read(path: Path) -> str | None:
    try:
        return Path(path).read_text(encoding='utf-8', errors='replace')
    except OSError:
        return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest='what', required=True)
    sub.add_parser('env', help='GPU and software versions')
    sub.add_parser('pytest', help='a pytest -q log').add_argument('log', type=Path)
    sub.add_parser('train', help='a tools/train.py work dir').add_argument('work_dir', type=Path)
    test = sub.add_parser('test', help='a tools/test.py DAVIS output folder')
    test.add_argument('out_dir', type=Path)
    test.add_argument('--ref', type=Path, default=None, help='output folder to compare with')
    sub.add_parser('bench', help='a benchmark JSON report').add_argument('json', type=Path)
    args = parser.parse_args(argv)
    if args.what == 'env':
        lines = env_lines()
    elif args.what == 'pytest':
        lines = [pytest_figures(args.log)]
    elif args.what == 'train':
        lines = [train_figures(args.work_dir)]
    elif args.what == 'test':
        lines = [davis_figures(args.out_dir, args.ref)]
    else:
        lines = [bench_figures(args.json)]
    print('\n'.join(line.replace('|', '/') for line in lines))  # no table-breaking bars
    return 0


if __name__ == '__main__':
    sys.exit(main())
