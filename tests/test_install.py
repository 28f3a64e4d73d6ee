"""A non-editable install: the wheel carries the configs, and the package finds them without
the source tree (corrflow.apis.inference.config_roots)."""
from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_wheel_carries_configs_and_runs_one_from_outside_the_tree(tmp_path):
    wheels, target = tmp_path / 'wheels', tmp_path / 'site'
    had_build = (REPO / 'build').exists()
    build = subprocess.run([sys.executable, '-m', 'pip', 'wheel', '--no-deps',
                            '--no-build-isolation', '-q', '-w', str(wheels), str(REPO)],
                           cwd=tmp_path, capture_output=True, text=True)
    if not had_build:  # pip builds in the tree; leave it as it was
        shutil.rmtree(REPO / 'build', ignore_errors=True)
    assert build.returncode == 0, build.stderr[-2000:]
    wheel = next(wheels.glob('corrflow-*.whl'))
    names = zipfile.ZipFile(wheel).namelist()
    configs = sorted(n for n in names if n.startswith('corrflow/.mim/configs/'))
    shipped = sorted(f'corrflow/.mim/{p.relative_to(REPO)}' for p in (REPO / 'configs').rglob('*')
                     if p.is_file() and '__pycache__' not in p.parts)
    assert configs == shipped
    install = subprocess.run([sys.executable, '-m', 'pip', 'install', '-q', '--no-deps',
                              '--target', str(target), str(wheel)], cwd=tmp_path,
                             capture_output=True, text=True)
    assert install.returncode == 0, install.stderr[-2000:]
    script = (
        'import corrflow, numpy as np\n'
        'from corrflow.apis import init_model, propagate\n'
        'from corrflow.apis.inference import config_roots\n'
        'print(corrflow.__file__)\n'
        'print(config_roots())\n'
        "model = init_model('configs/test/corrflow_davis_crw_lite.py')\n"
        'frames = np.zeros((3, 32, 48, 3), np.uint8)\n'
        'mask = np.zeros((32, 48), np.uint8); mask[8:20, 10:30] = 1\n'
        "print(propagate(model, frames, mask)['masks'].shape)\n")
    run = subprocess.run([sys.executable, '-c', script], cwd=tmp_path, capture_output=True,
                         text=True, env={'PYTHONPATH': str(target), 'OMP_NUM_THREADS': '1',
                                         'PATH': '/usr/bin:/bin'})
    assert run.returncode == 0, run.stderr[-3000:]
    lines = run.stdout.strip().splitlines()
    assert lines[0] == str(target / 'corrflow' / '__init__.py')
    assert lines[1] == f"[PosixPath('{target / 'corrflow' / '.mim'}')]"  # no source tree
    assert lines[2] == '(3, 32, 48)'
