"""Compare DAVIS scores of several runs side by side, per sequence.

``python tools/analysis/compare_results.py NAME=DIR [NAME=DIR ...] [--reference NAME]
[--seeds NAME,NAME,...] [--out F.md]``

Each DIR holds the official CSVs (``global_results-val.csv`` and
``per-sequence_results-val.csv``, as written by ``tools/test.py`` under
``WORK_DIR/davis`` or by ``tools/analysis/eval_davis.py``). Prints a Markdown
table of the global J&F, J and F, then one of J&F per sequence (the mean of
its objects' J and F), with, against ``--reference``, the difference of the
means and on how many sequences each run is better. All runs must cover the
same sequences and objects.

``--seeds`` names runs that differ only in their training seed. They are then
summarised by their mean J&F, standard deviation and range, and every other
run is compared with their mean: a run whose J&F lies inside the seeds' range
is marked "within the seed range" (no measurable difference at this number of
seeds).
"""
from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

GLOBAL = 'global_results-val.csv'
PER_SEQUENCE = 'per-sequence_results-val.csv'


class CompareError(Exception):
    """A result folder that cannot be compared; printed as one line."""


def _rows(path: Path) -> list[dict]:
    if not path.is_file():
        raise CompareError(f'{path}: missing (score the results first: tools/test.py or '
                           'tools/analysis/eval_davis.py write it)')
    with path.open(newline='') as f:
        return list(csv.DictReader(f))


def read_run(folder: Path) -> dict:
    """``{'global': {J&F-Mean, J-Mean, F-Mean}, 'objects': {seq_obj: (J, F)}}`` of a folder."""
    rows = _rows(folder / GLOBAL)
    try:
        glob = {k: float(rows[0][k]) for k in ('J&F-Mean', 'J-Mean', 'F-Mean')}
        objects = {r['Sequence']: (float(r['J-Mean']), float(r['F-Mean']))
                   for r in _rows(folder / PER_SEQUENCE)}
    except (IndexError, KeyError, ValueError) as err:
        raise CompareError(f'{folder}: not an official DAVIS CSV pair ({err!r})') from None
    return dict(glob=glob, objects=objects)


def per_sequence(objects: dict[str, tuple[float, float]]) -> dict[str, float]:
    """J&F of every sequence: the mean over its objects (``<seq>_<id>`` rows) of (J + F) / 2."""
    scores: dict[str, list[float]] = {}
    for name, (j, f) in objects.items():
        seq = name.rsplit('_', 1)[0]
        scores.setdefault(seq, []).append((j + f) / 2)
    return {seq: sum(v) / len(v) for seq, v in sorted(scores.items())}


def compare(runs: dict[str, dict], reference: str | None) -> str:
    """The Markdown tables."""
    names = list(runs)
    objects = {name: set(run['objects']) for name, run in runs.items()}
    first = names[0]
    for name in names[1:]:
        if objects[name] != objects[first]:
            only = sorted(objects[name] ^ objects[first])[:5]
            raise CompareError(f'{name} and {first} score different objects (e.g. '
                               f'{", ".join(only)}); compare runs on the same sequences')
    seqs = {name: per_sequence(run['objects']) for name, run in runs.items()}
    lines = ['| run | J&F | J | F |' + (' vs reference | better on |' if reference else ''),
             '|---|---|---|---|' + ('---|---|' if reference else '')]
    for name in names:
        g = runs[name]['glob']
        row = f'| {name} | {g["J&F-Mean"]:.4f} | {g["J-Mean"]:.4f} | {g["F-Mean"]:.4f} |'
        if reference:
            ref = runs[reference]['glob']['J&F-Mean']
            wins = sum(seqs[name][s] > seqs[reference][s] for s in seqs[name])
            row += (' - | - |' if name == reference else
                    f' {g["J&F-Mean"] - ref:+.4f} | {wins} of {len(seqs[name])} |')
        lines.append(row)
    lines += ['', '| sequence | ' + ' | '.join(names) + ' |',
              '|---|' + '---|' * len(names)]
    for seq in seqs[first]:
        values = [seqs[name][seq] for name in names]
        best = max(values)
        cells = [f'**{v:.3f}**' if v == best and len(names) > 1 else f'{v:.3f}' for v in values]
        lines.append(f'| {seq} | ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines) + '\n'


def seed_summary(runs: dict[str, dict], seeds: list[str]) -> str:
    """The Markdown table of the other runs against the mean and range of the seeds."""
    values = [runs[name]['glob']['J&F-Mean'] for name in seeds]
    mean = sum(values) / len(values)
    std = (sum((v - mean) ** 2 for v in values) / (len(values) - 1)) ** 0.5
    lo, hi = min(values), max(values)
    lines = [f'seeds {", ".join(seeds)}: J&F mean {mean:.4f}, std {std:.4f}, range '
             f'{lo:.4f}-{hi:.4f} ({hi - lo:.4f})', '',
             '| run | J&F | vs the seeds\' mean | |', '|---|---|---|---|']
    for name, run in runs.items():
        if name in seeds:
            continue
        value = run['glob']['J&F-Mean']
        verdict = ('within the seed range' if lo <= value <= hi else
                   'above the seed range' if value > hi else 'below the seed range')
        lines.append(f'| {name} | {value:.4f} | {value - mean:+.4f} | {verdict} |')
    return '\n'.join(lines) + '\n'


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('runs', nargs='+', metavar='NAME=DIR', help='a label and a result folder')
    parser.add_argument('--reference', help='the NAME the others are compared with')
    parser.add_argument('--seeds', help='comma-separated NAMEs of runs that differ only in their '
                        'training seed (at least two): the others are compared with their mean '
                        'and range')
    parser.add_argument('--out', help='also write the tables to this Markdown file')
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        runs = {}
        for item in args.runs:
            name, sep, folder = item.partition('=')
            if not sep or not name or not folder:
                raise CompareError(f'{item!r}: give each run as NAME=DIR')
            if name in runs:
                raise CompareError(f'run name {name!r} given twice')
            runs[name] = read_run(Path(folder))
        if args.reference and args.reference not in runs:
            raise CompareError(f'--reference {args.reference!r} is none of the runs '
                               f'({", ".join(runs)})')
        text = compare(runs, args.reference)
        if args.seeds:
            seeds = [name for name in args.seeds.split(',') if name]
            unknown = [name for name in seeds if name not in runs]
            if unknown or len(set(seeds)) < 2:
                raise CompareError(f'--seeds {args.seeds!r}: give at least two distinct runs '
                                   f'(unknown: {", ".join(unknown) or "none"})')
            text += '\n' + seed_summary(runs, seeds)
    except CompareError as err:
        print(f'error: {err}', file=sys.stderr)
        return 1
    print(text, end='')
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(text)
    return 0


if __name__ == '__main__':
    sys.exit(main())
