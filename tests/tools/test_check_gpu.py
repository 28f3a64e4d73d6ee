"""tools/check_gpu.sh without a GPU, and the figures it takes from each step's output."""
import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import check_gpu_figures as figures

REPO = Path(__file__).resolve().parents[2]


SCRIPT = REPO / 'tools' / 'check_gpu.sh'


def test_script_parses():
    subprocess.run(['bash', '-n', str(SCRIPT)], check=True)


@pytest.mark.skipif(torch.cuda.is_available(), reason='a GPU is visible: the script would run')
def test_script_stops_at_once_without_a_gpu(tmp_path):
    out = tmp_path / 'check'
    proc = subprocess.run(['bash', str(SCRIPT)], capture_output=True, text=True, timeout=120,
                          env=dict(PATH='/usr/bin:/bin', PYTHON=sys.executable,
                                   CHECK_GPU_DIR=str(out)))
    assert proc.returncode == 2
    assert 'no CUDA GPU is visible to PyTorch' in proc.stderr
    assert '--dry-run' in proc.stderr
    assert not out.exists()  # nothing was run, nothing written


def test_pytest_figures(tmp_path):
    log = tmp_path / 'pytest.log'
    log.write_text('..F.x\nFAILED tests/cuda/test_cuda_amp_training.py::test_two[float16] - '
                   'assert\nXFAIL tests/cuda/test_cuda_local_attention.py::test_beyond[fp16] - '
                   'known\n= 1 failed, 30 passed, 1 xfailed, 468 deselected in 61.02s =\n')
    line = figures.pytest_figures(log)
    assert line == ('1 failed, 30 passed, 1 xfailed, 468 deselected in 61.02s; failed: '
                    'test_two[float16]; expected failures (known limitations): test_beyond[fp16]')
    assert figures.pytest_figures(tmp_path / 'absent.log').startswith('no log')


def test_train_figures(tmp_path):
    run = tmp_path / '20260101_000000'
    (run / 'vis_data').mkdir(parents=True)
    entries = [dict(loss=5.0, time=0.9, data_time=0.5, iter=10, memory=2000),
               dict(loss=4.0, time=0.10, data_time=0.01, iter=20, memory=2100),
               dict(loss=3.0, time=0.12, data_time=0.03, iter=30, memory=2050)]
    (run / 'vis_data' / 'scalars.json').write_text(
        '\n'.join(json.dumps(e) for e in entries) + '\n')
    (run / '20260101_000000.log').write_text(
        'x - INFO - precision: bf16 (GPU NVIDIA H200 supports bf16); CPU ...\n')
    line = figures.train_figures(tmp_path)
    assert line.startswith('precision bf16 (GPU NVIDIA H200 supports bf16); ')
    assert 'loss 5.0000 (iter 10) -> 3.0000 (iter 30)' in line
    assert '0.110 s/iter, of which data 0.020 (iter 20-30)' in line  # warm-up window left out
    assert 'peak GPU memory 2100 MiB' in line
    assert figures.train_figures(tmp_path / 'none').startswith('no scalars.json')


def _davis_out(path: Path, jf: float, precision: str) -> Path:
    path.mkdir(parents=True)
    (path / 'propagation.json').write_text(json.dumps(dict(
        propagation=dict(precision=precision), sequences=['a', 'b'],
        results={'J&F-Mean': jf, 'J-Mean': jf + 0.01, 'F-Mean': jf - 0.01})))
    return path


def test_davis_figures(tmp_path):
    amp = _davis_out(tmp_path / 'test_auto' / 'davis', 0.6012, 'bf16 (GPU X supports bf16)')
    fp32 = _davis_out(tmp_path / 'test_fp32' / 'davis', 0.6000, 'fp32 (mixed precision off)')
    line = figures.davis_figures(amp, ref=fp32)
    assert line == ('J&F 0.6012 (J 0.6112, F 0.5912) over 2 sequences; precision bf16 (GPU X '
                    'supports bf16); J&F minus that of test_fp32: +0.0012')
    assert figures.davis_figures(tmp_path / 'missing').startswith('no propagation.json')


def test_bench_figures(tmp_path):
    path = tmp_path / 'train_step.json'
    path.write_text(json.dumps(dict(benchmark='train_step', losses_agree=True, results=[
        dict(arrangement='ours', precision='bf16', s_per_iter=0.05, peak_mib=1234.4)])))
    assert figures.bench_figures(path) == 'ours bf16 0.050 s/iter 1234 MiB; losses agree: True'
    path.write_text(json.dumps(dict(benchmark='propagation', outputs_agree=True, results=dict(
        pipeline=[dict(protocol='A', width=854, precision='fp16', s_per_frame=0.02)]))))
    assert figures.bench_figures(path) == 'A 854px fp16 0.020 s/frame; outputs agree: True'
    path.write_text('{')
    assert figures.bench_figures(path).startswith('unreadable JSON report')


def test_env_lines_name_the_versions():
    lines = figures.env_lines()
    assert any(line.startswith(f'- torch {torch.__version__}') for line in lines)
    if not torch.cuda.is_available():
        assert lines[0] == '- GPU: none visible to PyTorch'
