import json
from pathlib import Path

import numpy as np
from PIL import Image

import plot_curves



def write_scalars(path: Path, rows: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(''.join(json.dumps(r) + '\n' for r in rows))
    return path


def test_runs_are_read_in_order_and_resumed_iterations_override(tmp_path):
    run = tmp_path / 'run'
    write_scalars(run / '20260101_000000' / 'vis_data' / 'scalars.json',
                  [dict(iter=10, step=10, loss=3.0, lr=1e-3),
                   dict(iter=20, step=20, loss=2.5, lr=1e-3),
                   {'davis/J&F-Mean': 0.4, 'step': 20}])
    write_scalars(run / '20260102_000000' / 'vis_data' / 'scalars.json',
                  [dict(iter=20, step=20, loss=2.4, lr=1e-3),
                   dict(iter=30, step=30, loss=2.0, lr=5e-4)])
    scalars = plot_curves.read_scalars(run)
    np.testing.assert_array_equal(scalars['loss'][0], [10, 20, 30])
    np.testing.assert_array_equal(scalars['loss'][1], [3.0, 2.4, 2.0])
    assert 'davis/J&F-Mean' not in scalars  # logged by step, not a training scalar
    np.testing.assert_allclose(plot_curves.moving_average(np.array([1.0, 3.0, 5.0, 7.0]), 2),
                               [1.0, 2.0, 4.0, 6.0])


def test_two_runs_are_drawn_into_one_figure(tmp_path, capsys):
    rows = [dict(iter=i, loss=4 - i / 50, loss_short=3.5 - i / 60, loss_cycle=0.3,
                 sampling_prob=0.9 - 0.3 * i / 100, lr=5e-4) for i in range(10, 101, 10)]
    a = write_scalars(tmp_path / 'a' / 'scalars.json', rows)
    b = write_scalars(tmp_path / 'b' / 'scalars.json', [dict(r, loss_cycle=0.0) for r in rows])
    out = tmp_path / 'curves.png'
    assert plot_curves.main([str(a), str(b), '--labels', 'full', 'no cycle', '--smooth', '3',
                             '--out', str(out)]) == 0
    printed = capsys.readouterr().out
    assert 'full: 10 logged points up to iteration 100' in printed
    assert 'loss, loss_short, loss_cycle, sampling_prob, lr ->' in printed
    with Image.open(out) as img:
        assert img.size[0] > 400 and img.size[1] > 300


def test_bad_runs_give_one_error_line(tmp_path, capsys):
    assert plot_curves.main([str(tmp_path / 'missing'), '--out', str(tmp_path / 'x.png')]) == 1
    missing = tmp_path / 'missing'
    assert capsys.readouterr().err.strip() == f'error: {missing}: no such file or folder'
    bad = write_scalars(tmp_path / 'bad' / 'scalars.json', [dict(iter=1, loss=1.0)])
    bad.write_text(bad.read_text() + '{oops\n')
    assert plot_curves.main([str(bad), '--out', str(tmp_path / 'x.png')]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f'error: {bad}:2: not a JSON line') and len(err.splitlines()) == 1
    assert plot_curves.main([str(bad.parent), str(bad.parent), '--labels', 'one',
                             '--out', str(tmp_path / 'x.png')]) == 1
    assert '2 runs' in capsys.readouterr().err
    assert not (tmp_path / 'x.png').exists()
