"""A training run killed with SIGKILL and resumed computes the uninterrupted run's losses."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DEMO = 'configs/train/corrflow_r18_demo.py'


def options(workers: int, iters: int) -> list[str]:
    return [f'train_cfg.max_iters={iters}', 'train_dataloader.batch_size=2',
            f'train_dataloader.num_workers={workers}',
            f'train_dataloader.persistent_workers={workers > 0}',
            'train_dataloader.dataset.datasets.0.size=[64,64]',
            'default_hooks.logger.interval=1', 'log_processor.window_size=1',
            'default_hooks.checkpoint.interval=2', 'default_hooks.checkpoint.max_keep_ckpts=5']


def command(work: Path, workers: int, *extra: str, iters: int = 6) -> list[str]:
    return [sys.executable, 'tools/train.py', DEMO, '--work-dir', str(work), *extra,
            '--cfg-options', *options(workers, iters)]


def environment() -> dict:
    return dict(os.environ, OMP_NUM_THREADS='1', PYTHONPATH=str(REPO))


def logged_losses(work: Path) -> dict[int, float]:
    """Iteration -> loss of every scalars.json of a work dir (later runs override)."""
    out = {}
    for path in sorted(work.rglob('scalars.json')):
        for line in path.read_text().splitlines():
            record = json.loads(line)
            if 'iter' in record and 'loss' in record:
                out[record['iter']] = record['loss']
    return out


def run(cmd: list[str]) -> subprocess.CompletedProcess:
    result = subprocess.run(cmd, cwd=REPO, env=environment(), capture_output=True, text=True,
                            timeout=600)
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    return result


def kill_after_checkpoint(cmd: list[str], work: Path, iteration: int) -> None:
    """Start a run and SIGKILL it as soon as it has recorded the checkpoint of ``iteration``."""
    proc = subprocess.Popen(cmd, cwd=REPO, env=environment(), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    marker = work / 'last_checkpoint'
    deadline = time.monotonic() + 300
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            if marker.is_file() and marker.read_text().strip().endswith(f'iter_{iteration}.pth'):
                break
            time.sleep(0.02)
        assert proc.poll() is None, 'the run ended before it could be killed'
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # the trainer and its data workers
        proc.wait()


@pytest.mark.parametrize('workers', [0, 2])
def test_killed_run_resumes_bit_exactly(tmp_path, workers):
    whole = tmp_path / 'whole'
    run(command(whole, workers))
    expected = logged_losses(whole)
    assert sorted(expected) == [1, 2, 3, 4, 5, 6]

    killed = tmp_path / 'killed'
    kill_after_checkpoint(command(killed, workers), killed, iteration=4)
    assert not (killed / 'iter_6.pth').exists()
    resumed = run(command(killed, workers, '--resume'))
    assert 'resumed epoch: 0, iter: 4' in resumed.stdout + resumed.stderr
    got = logged_losses(killed)
    assert sorted(got) == [1, 2, 3, 4, 5, 6]
    for it in range(1, 7):
        assert abs(got[it] - expected[it]) <= 1e-6, (it, got[it], expected[it])


def test_the_data_of_an_iteration_does_not_depend_on_the_number_of_workers(tmp_path):
    with_workers, without = tmp_path / 'w2', tmp_path / 'w0'
    run(command(with_workers, 2, iters=2))
    run(command(without, 0, iters=2))
    a, b = logged_losses(with_workers), logged_losses(without)
    assert sorted(a) == sorted(b) == [1, 2]
    assert all(abs(a[i] - b[i]) <= 1e-6 for i in a), (a, b)
