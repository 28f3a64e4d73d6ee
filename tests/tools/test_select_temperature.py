"""tools/analysis/select_temperature.py: leave-one-sequence-out on hand-made sweeps."""
import json


def write_run(folder, scores):
    """Official CSVs of one run: ``scores`` {sequence: (J, F)}, one object each."""
    folder.mkdir(parents=True)
    rows = [f'{seq}_1,{j:.6f},{f:.6f}' for seq, (j, f) in scores.items()]
    (folder / 'per-sequence_results-val.csv').write_text(
        'Sequence,J-Mean,F-Mean\n' + '\n'.join(rows) + '\n')
    jf = [(j + f) / 2 for j, f in scores.values()]
    js = [j for j, _ in scores.values()]
    fs = [f for _, f in scores.values()]
    (folder / 'global_results-val.csv').write_text(
        'J&F-Mean,J-Mean,J-Recall,J-Decay,F-Mean,F-Recall,F-Decay\n'
        f'{sum(jf) / 3:.6f},{sum(js) / 3:.6f},0,0,{sum(fs) / 3:.6f},0,0\n')


def test_each_sequence_is_scored_at_the_temperature_of_the_others(tool, tmp_path):
    # T=0.1 is best on a and b, T=1 on c alone: c, held out, gets 0.1 (chosen on a and b);
    # a and b, held out, get the best of the other two
    write_run(tmp_path / 't1', dict(a=(0.2, 0.2), b=(0.5, 0.5), c=(0.9, 0.9)))
    write_run(tmp_path / 't01', dict(a=(0.4, 0.4), b=(0.6, 0.6), c=(0.5, 0.5)))
    out = tmp_path / 'record.json'
    result = tool('tools/analysis/select_temperature.py', f'1={tmp_path / "t1"}',
                  f'0.1={tmp_path / "t01"}', '--out', str(out))
    assert result.returncode == 0, result.stderr
    record = json.loads(out.read_text())
    folds = {f['sequence']: f['temperature'] for f in record['folds']}
    # without a: b+c 0.5+0.9 at T=1 vs 0.6+0.5 -> 1; without b: a+c 1.1 vs 0.9 -> 1;
    # without c: a+b 0.7 vs 1.0 -> 0.1
    assert folds == {'a': 1.0, 'b': 1.0, 'c': 0.1}
    assert abs(record['leave_one_out']['jf'] - (0.2 + 0.5 + 0.5) / 3) < 1e-6
    assert record['for_other_data'] == 1.0  # 1.6 over all vs 1.5
    assert abs(record['tuned_here']['jf'] - 1.6 / 3) < 1e-6
    assert 'leave-one-sequence-out: J&F 0.4000' in result.stdout


def test_bad_sweeps_are_one_clear_error(tool, tmp_path):
    write_run(tmp_path / 'a', dict(a=(0.2, 0.2), b=(0.5, 0.5), c=(0.9, 0.9)))
    write_run(tmp_path / 'b', dict(a=(0.2, 0.2), b=(0.5, 0.5), d=(0.9, 0.9)))
    for args, message in [([f'1={tmp_path / "a"}', f'0.5={tmp_path / "b"}'],
                           'score different objects'),
                          ([f'x={tmp_path / "a"}'], 'with T a number'),
                          ([f'1={tmp_path / "a"}'], 'at least two temperatures'),
                          ([f'1={tmp_path / "a"}', f'1={tmp_path / "a"}'], 'given twice'),
                          ([f'1={tmp_path / "a"}', f'2={tmp_path / "none"}'], 'missing')]:
        result = tool('tools/analysis/select_temperature.py', *args)
        assert result.returncode == 1
        lines = [line for line in result.stderr.splitlines() if line.startswith('error:')]
        assert len(lines) == 1 and message in lines[0], result.stderr
