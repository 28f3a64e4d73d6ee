"""Choose a protocol's temperature without the sequences it is reported on.

``python tools/analysis/select_temperature.py T=DIR [T=DIR ...] [--out F.json]``

Each DIR holds the official DAVIS CSVs of one run of a temperature sweep (the
``WORK_DIR/davis`` of ``tools/test.py ... --cfg-options
model.propagation.temperature=T``); all runs must score the same objects. The
tool reports

- **leave-one-sequence-out**: for every sequence, the temperature with the best
  J&F over the *other* sequences (the first given wins a tie), and that
  sequence's scores at it; their mean over all objects is the sweep's score on
  these sequences with a temperature that never saw the sequence it is scored
  on;
- **for other data**: the temperature with the best J&F over all the
  sequences, the one a config should carry when it is used on sequences
  outside these;
- **tuned here**: the best J&F of any single temperature on these sequences,
  which is optimistic by construction and printed only beside the others.

Errors are one ``error: ...`` line and exit code 1.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from compare_results import CompareError, read_run


def _mean(values) -> float:
    values = list(values)
    return sum(values) / len(values)


def select(runs: dict[float, dict]) -> dict:
    """The record of a sweep ``{temperature: read_run(folder)}`` (see the module doc)."""
    temps = list(runs)
    objects = sorted(runs[temps[0]]['objects'])
    for t in temps[1:]:
        if sorted(runs[t]['objects']) != objects:
            raise CompareError(f'the runs at T={temps[0]:g} and T={t:g} score different '
                               'objects; sweep the temperature on the same sequences')
    if len(temps) < 2:
        raise CompareError('give at least two temperatures')
    sequences = sorted({o.rsplit('_', 1)[0] for o in objects})
    if len(sequences) < 2:
        raise CompareError('leave-one-sequence-out needs at least two sequences')

    def jf(t: float, objs) -> float:
        return _mean(sum(runs[t]['objects'][o]) / 2 for o in objs)

    def best(objs) -> float:
        scores = [jf(t, objs) for t in temps]
        return temps[scores.index(max(scores))]

    folds, held = [], {}
    for seq in sequences:
        rest = [o for o in objects if o.rsplit('_', 1)[0] != seq]
        mine = [o for o in objects if o.rsplit('_', 1)[0] == seq]
        t = best(rest)
        folds.append(dict(sequence=seq, temperature=t, jf=jf(t, mine)))
        held.update({o: runs[t]['objects'][o] for o in mine})
    loo = dict(jf=_mean(sum(v) / 2 for v in held.values()),
               j=_mean(v[0] for v in held.values()), f=_mean(v[1] for v in held.values()))
    chosen = best(objects)
    return dict(temperatures=temps, sequences=sequences, leave_one_out=loo, folds=folds,
                for_other_data=chosen, tuned_here=dict(temperature=chosen,
                                                       jf=jf(chosen, objects)),
                per_temperature={f'{t:g}': jf(t, objects) for t in temps})


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('runs', nargs='+', metavar='T=DIR',
                        help='a temperature and the result folder of its run')
    parser.add_argument('--out', help='also write the record to this JSON file')
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        runs: dict[float, dict] = {}
        for item in args.runs:
            name, sep, folder = item.partition('=')
            try:
                t = float(name)
            except ValueError:
                raise CompareError(f'{item!r}: give each run as T=DIR with T a number') from None
            if not sep or not folder or t <= 0:
                raise CompareError(f'{item!r}: give each run as T=DIR with T > 0')
            if t in runs:
                raise CompareError(f'temperature {t:g} given twice')
            runs[t] = read_run(Path(folder))
        record = select(runs)
    except CompareError as err:
        print(f'error: {err}', file=sys.stderr)
        return 1
    loo = record['leave_one_out']
    print('| T | J&F over all sequences |\n|---|---|')
    for t, v in record['per_temperature'].items():
        print(f'| {t} | {v:.4f} |')
    print(f'\nleave-one-sequence-out: J&F {loo["jf"]:.4f} (J {loo["j"]:.4f}, F {loo["f"]:.4f}); '
          'temperature per held-out sequence: '
          + ', '.join(f'{f["sequence"]} {f["temperature"]:g}' for f in record['folds']))
    print(f'for other data: T = {record["for_other_data"]:g}; tuned on these sequences '
          f'(optimistic): J&F {record["tuned_here"]["jf"]:.4f}')
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(record, indent=1) + '\n')
    return 0


if __name__ == '__main__':
    sys.exit(main())
