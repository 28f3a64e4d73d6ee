"""Every benchmark script with a ``--smoke`` flag runs, prints a table and writes nothing.

Discovers ``benchmarks/bench_*.py``; each is run as a subprocess from a
temporary folder with ``--smoke`` and must exit 0 within ``TIMEOUT_S``, print a
table and leave ``benchmarks/results/`` untouched. Scripts that read the shared
real data are skipped when it is absent.
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BENCH_DIR = REPO / 'benchmarks'
RESULTS_DIR = BENCH_DIR / 'results'
TIMEOUT_S = 120
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


@pytest.mark.parametrize('script', smoke_scripts(), ids=lambda p: p.stem)
def test_smoke_run(script: Path, tmp_path: Path):
    if uses_shared_data(script) and not shared_data_root().is_dir():
        pytest.skip(f'shared data not found at {shared_data_root()}')
    env = dict(os.environ, PYTHONPATH=str(REPO), OMP_NUM_THREADS='1', OPENBLAS_NUM_THREADS='1',
               MKL_NUM_THREADS='1')
    before = snapshot(RESULTS_DIR)
    proc = subprocess.run([sys.executable, str(script), '--smoke'], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=TIMEOUT_S)
    assert proc.returncode == 0, f'{script.name} --smoke failed:\n{proc.stdout}\n{proc.stderr}'
    assert has_table(proc.stdout), f'{script.name} --smoke printed no table:\n{proc.stdout}'
    assert snapshot(RESULTS_DIR) == before, f'{script.name} --smoke wrote into {RESULTS_DIR}'
    assert not list(tmp_path.rglob('*.json')), f'{script.name} --smoke wrote JSON in its cwd'
