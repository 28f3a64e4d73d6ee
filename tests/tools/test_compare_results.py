from pathlib import Path

import compare_results



def write_run(folder: Path, jf: float, objects: dict[str, tuple[float, float]]) -> Path:
    folder.mkdir(parents=True)
    (folder / compare_results.GLOBAL).write_text(
        'J&F-Mean,J-Mean,J-Recall,J-Decay,F-Mean,F-Recall,F-Decay\n'
        f'{jf},{jf + 0.01},0,0,{jf - 0.01},0,0\n')
    (folder / compare_results.PER_SEQUENCE).write_text(
        'Sequence,J-Mean,F-Mean\n' + ''.join(f'{k},{j},{f}\n' for k, (j, f) in objects.items()))
    return folder


def test_tables_average_objects_per_sequence_and_count_wins(tmp_path, capsys):
    a = write_run(tmp_path / 'a', 0.5, {'cat_1': (0.6, 0.4), 'cat_2': (0.2, 0.2),
                                        'dog_1': (0.9, 0.7)})
    b = write_run(tmp_path / 'b', 0.45, {'cat_1': (0.7, 0.5), 'cat_2': (0.3, 0.3),
                                         'dog_1': (0.1, 0.1)})
    out = tmp_path / 'table.md'
    assert compare_results.main([f'full={a}', f'pixel={b}', '--reference', 'pixel',
                                 '--out', str(out)]) == 0
    text = capsys.readouterr().out
    assert '| full | 0.5000 | 0.5100 | 0.4900 | +0.0500 | 1 of 2 |' in text
    assert '| pixel | 0.4500 | 0.4600 | 0.4400 | - | - |' in text
    # cat: full (0.5 + 0.2) / 2 = 0.35, pixel (0.6 + 0.3) / 2 = 0.45; dog: 0.8 against 0.1
    assert '| cat | 0.350 | **0.450** |' in text and '| dog | **0.800** | 0.100 |' in text
    assert out.read_text() == text


def test_mismatched_or_missing_runs_give_one_error_line(tmp_path, capsys):
    a = write_run(tmp_path / 'a', 0.5, {'cat_1': (0.6, 0.4)})
    b = write_run(tmp_path / 'b', 0.5, {'dog_1': (0.6, 0.4)})
    assert compare_results.main([f'a={a}', f'b={b}']) == 1
    err = capsys.readouterr().err
    assert err.startswith('error: b and a score different objects') and len(err.splitlines()) == 1
    assert compare_results.main([f'a={tmp_path / "none"}']) == 1
    assert 'global_results-val.csv: missing' in capsys.readouterr().err
    assert compare_results.main([str(a)]) == 1
    assert 'give each run as NAME=DIR' in capsys.readouterr().err
    assert compare_results.main([f'a={a}', '--reference', 'z']) == 1
    assert "--reference 'z' is none of the runs" in capsys.readouterr().err


def test_seeds_give_a_mean_a_range_and_a_verdict_per_run(tmp_path, capsys):
    objects = {'cat_1': (0.5, 0.5)}
    runs = {name: write_run(tmp_path / name, jf, objects)
            for name, jf in [('s0', 0.50), ('s1', 0.54), ('s2', 0.52), ('inside', 0.53),
                             ('above', 0.60), ('below', 0.40)]}
    args = [f'{name}={folder}' for name, folder in runs.items()]
    assert compare_results.main([*args, '--seeds', 's0,s1,s2']) == 0
    text = capsys.readouterr().out
    assert 'seeds s0, s1, s2: J&F mean 0.5200, std 0.0200, range 0.5000-0.5400 (0.0400)' in text
    assert '| inside | 0.5300 | +0.0100 | within the seed range |' in text
    assert '| above | 0.6000 | +0.0800 | above the seed range |' in text
    assert '| below | 0.4000 | -0.1200 | below the seed range |' in text
    assert compare_results.main([*args, '--seeds', 's0,nope']) == 1
    assert 'unknown: nope' in capsys.readouterr().err
