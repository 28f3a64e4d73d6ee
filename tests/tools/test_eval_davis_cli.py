"""tools/analysis/eval_davis.py: CSVs, stale-file handling and one-line errors."""
import csv
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from corrflow.evaluation.davis_io import GLOBAL_CSV, PER_SEQUENCE_CSV, write_indexed_png

REPO_ROOT = Path(__file__).resolve().parents[2]
SCRIPT = REPO_ROOT / 'tools' / 'analysis' / 'eval_davis.py'


def run_cli(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), *map(str, args)], capture_output=True,
                          text=True, cwd=REPO_ROOT, timeout=120)


@pytest.fixture
def tiny(tmp_path):
    """A 1-sequence DAVIS root (4 frames, 1 object) and a perfect result folder."""
    frames = np.zeros((4, 10, 12), np.uint8)
    frames[:, 2:6, 3:8] = 1
    root = tmp_path / 'davis'
    res = tmp_path / 'res'
    for t, frame in enumerate(frames):
        write_indexed_png(str(root / 'Annotations' / '480p' / 'seq' / f'{t:05d}.png'), frame)
        write_indexed_png(str(res / 'seq' / f'{t:05d}.png'), frame)
    (root / 'ImageSets' / '2017').mkdir(parents=True)
    (root / 'ImageSets' / '2017' / 'val.txt').write_text('seq\n')
    return root, res


def test_cli_writes_csvs_and_overwrites_old_ones(tiny):
    root, res = tiny
    (res / GLOBAL_CSV).write_text('J&F-Mean\n0.123\n')  # an old result must not survive
    proc = run_cli(root, res, '--workers', '1')
    assert proc.returncode == 0, proc.stderr
    assert 'J&F-Mean' in proc.stdout and 'Time taken' in proc.stdout
    with open(res / GLOBAL_CSV) as f:
        rows = list(csv.reader(f))
    assert rows[0] == ['J&F-Mean', 'J-Mean', 'J-Recall', 'J-Decay', 'F-Mean', 'F-Recall',
                       'F-Decay']
    assert rows[1] == ['1.000000', '1.000000', '1.000000', '0.000000', '1.000000', '1.000000',
                       '0.000000']
    assert (res / PER_SEQUENCE_CSV).read_text() == \
        'Sequence,J-Mean,F-Mean\nseq_1,1.000000,1.000000\n'


def test_cli_failure_is_one_line_and_removes_stale_csvs(tiny, tmp_path):
    root, res = tiny
    out = tmp_path / 'out'
    out.mkdir()
    for name in (GLOBAL_CSV, PER_SEQUENCE_CSV):
        (out / name).write_text('stale\n')
    (res / 'seq' / '00002.png').unlink()  # a scored frame is missing
    proc = run_cli(root, res, '--out', out)
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith('error: ')
    assert '00002.png' in lines[0] and 'Traceback' not in proc.stderr
    assert not (out / GLOBAL_CSV).exists() and not (out / PER_SEQUENCE_CSV).exists()


def test_cli_errors(tiny, tmp_path):
    root, res = tiny
    shutil.rmtree(root / 'ImageSets')
    proc = run_cli(root, res)  # no sequence list and none given
    assert proc.returncode == 1 and proc.stderr.startswith('error: ')
    assert 'ImageSets' in proc.stderr and 'Traceback' not in proc.stderr
    proc = run_cli(root, res, '--sequences', 'seq', '--workers', '0')
    assert proc.returncode == 1 and proc.stderr.startswith('error: ')
    bad = np.zeros((10, 12), np.uint8)
    bad[0, 0] = 255
    write_indexed_png(str(res / 'seq' / '00001.png'), bad)
    proc = run_cli(root, res, '--sequences', 'seq')
    assert proc.returncode == 1 and '255' in proc.stderr and 'Traceback' not in proc.stderr


def test_cli_real_osvos(shared_data, tmp_path):
    root = shared_data / 'davis2016-val-subset'
    results = shared_data / 'davis2017-osvos-results' / 'semi-supervised' / 'osvos'
    proc = run_cli(root, results, '--sequences', 'blackswan', 'dog', '--out', tmp_path)
    assert proc.returncode == 0, proc.stderr
    rows = (tmp_path / PER_SEQUENCE_CSV).read_text().splitlines()
    assert rows == ['Sequence,J-Mean,F-Mean', 'blackswan_1,0.943020,0.974096',
                    'dog_1,0.710792,0.691109']


def one_error_line(proc: subprocess.CompletedProcess) -> str:
    assert proc.returncode == 1, proc.stdout
    assert 'Traceback' not in proc.stderr, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith('error: '), proc.stderr
    return lines[0]


def test_a_sequence_of_two_frames_is_one_line(tiny):
    root, res = tiny
    for t in (2, 3):
        (root / 'Annotations' / '480p' / 'seq' / f'{t:05d}.png').unlink()
    line = one_error_line(run_cli(root, res, '--workers', '1'))
    assert 'seq: 2 GT frames, at least 3 are needed' in line and 'leave seq out' in line


def test_a_later_gt_frame_of_another_size_is_one_line(tiny):
    root, res = tiny
    path = root / 'Annotations' / '480p' / 'seq' / '00002.png'
    write_indexed_png(str(path), np.zeros((20, 24), np.uint8))
    line = one_error_line(run_cli(root, res, '--workers', '1'))
    assert f'{path}: the GT frame is 24x20 but the first GT frame of its sequence is 12x10' in line


def test_results_that_mix_sizes_are_one_line(tiny):
    root, res = tiny
    path = res / 'seq' / '00002.png'
    write_indexed_png(str(path), np.zeros((5, 6), np.uint8))  # frame 1 is 12x10, frame 2 6x5
    line = one_error_line(run_cli(root, res, '--workers', '2'))
    assert f'{path}: size 6x5 differs from the GT size 12x10' in line


def png_declaring(width: int, height: int) -> bytes:
    """A small valid-looking PNG whose header declares a huge 8-bit palette image."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack('>I', len(data)) + body + struct.pack('>I', zlib.crc32(body))

    header = struct.pack('>IIBBBBB', width, height, 8, 3, 0, 0, 0)
    rows = zlib.compress(b'\x00' * (width + 1) * 64)  # only the first rows' worth of data
    return (b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', header) + chunk(b'PLTE', b'\x00' * 6)
            + chunk(b'IDAT', rows) + chunk(b'IEND', b''))


def test_a_result_png_declaring_another_size_is_refused_before_decompression(tiny):
    from corrflow.evaluation.davis_io import DavisResultError, read_davis_results

    root, res = tiny
    path = res / 'seq' / '00001.png'
    path.write_bytes(png_declaring(20000, 20000))
    assert path.stat().st_size < 100_000
    import resource
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(DavisResultError, match='size 20000x20000 differs from the GT size 12x10'):
        read_davis_results(str(res), 'seq', ['00000', '00001', '00002', '00003'], (10, 12))
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert grown_mb < 100  # the 400 MB of pixels were never decoded
    line = one_error_line(run_cli(root, res, '--workers', '1'))
    assert 'size 20000x20000 differs from the GT size 12x10' in line


def test_a_bug_keeps_its_traceback(tiny, monkeypatch, capsys):
    import importlib.util
    spec = importlib.util.spec_from_file_location('eval_davis_tool', SCRIPT)
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)

    def broken(*args, **kwargs):
        raise ZeroDivisionError('a bug')

    monkeypatch.setattr(tool, 'evaluate_davis', broken)
    root, res = tiny
    with pytest.raises(ZeroDivisionError):
        tool.main([str(root), str(res)])
