"""Plot training curves of one or more runs from their logged scalars.

``python tools/analysis/plot_curves.py RUN [RUN ...] --out curves.png [--labels ...]``

A RUN is an mmengine ``scalars.json`` (``WORK_DIR/<timestamp>/vis_data/scalars.json``)
or a folder holding one (searched recursively; a run resumed into the same work
dir has several, read in order). Every panel shares the iteration axis: the
loss terms and other scalars (raw values, and a moving average when ``--smooth`` > 1), the
scheduled-sampling probability and the learning rate. Runs are overlaid, one
colour each, so an ablation reads at a glance.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

DEFAULT_KEYS = ('loss', 'loss_short', 'loss_cycle', 'sampling_prob', 'lr')
TITLES = {
    'loss': 'loss (the weighted terms summed)',
    'loss_short': 'short-term reconstruction',
    'loss_cycle': 'cycle consistency (weighted)',
    'sampling_prob': 'scheduled-sampling probability',
    'lr': 'learning rate',
    'loss_long': 'long cycles (weighted grid loss)',
    'loss_skip': 'skip cycles (weighted grid loss)',
    'loss_sim': 'minus the inlier affinity mass (weighted)',
    'grid_long': 'long-cycle grid loss (unweighted)',
    'inlier': 'inlier affinity mass (unweighted)',
    'encoder_frozen': 'encoder frozen (1) or trained (0)',
    'loss_rec_s4': 'dropped-channel reconstruction, stride 4 (weighted)',
    'loss_rec_s8': 'dropped-channel reconstruction, stride 8 (weighted)',
    'loss_local': 'local affinity distillation, s8 vs s4 (weighted)',
    'loss_global': 'global affinity distillation from the teacher (weighted)',
    'mask_fraction': 'share of cells in the uncertainty mask',
}
#: Schedules, drawn as logged; every other key is also drawn as a moving mean
#: with --smooth (mmengine logs loss terms as a mean over its window, other
#: scalars as the iteration's own value).
SCHEDULE_KEYS = ('lr', 'sampling_prob', 'encoder_frozen')


class CurveError(Exception):
    """A run that cannot be read or plotted; printed as one line."""


def scalar_files(run: Path) -> list[Path]:
    """The ``scalars.json`` files of a run, oldest first."""
    if run.is_file():
        return [run]
    if not run.is_dir():
        raise CurveError(f'{run}: no such file or folder')
    files = sorted(run.rglob('scalars.json'))
    if not files:
        raise CurveError(f'{run}: holds no scalars.json (mmengine writes it to '
                         'WORK_DIR/<timestamp>/vis_data/ during training)')
    return files


def read_scalars(run: Path) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Training scalars of a run: ``{key: (iterations, values)}``.

    Lines without ``iter`` (e.g. validation metrics logged by step) are left
    out; a later file of a resumed run overrides earlier values of the same
    iteration.
    """
    rows: dict[str, dict[int, float]] = {}
    for path in scalar_files(run):
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as err:
                raise CurveError(f'{path}:{number}: not a JSON line ({err.msg})') from None
            if 'iter' not in record:
                continue
            for key, value in record.items():
                if key not in ('iter', 'step') and isinstance(value, (int, float)):
                    rows.setdefault(key, {})[int(record['iter'])] = float(value)
    if not rows:
        raise CurveError(f'{run}: no training scalars with an "iter" field')
    out = {}
    for key, values in rows.items():
        iters = np.array(sorted(values))
        out[key] = (iters, np.array([values[i] for i in iters]))
    return out


def moving_average(values: np.ndarray, window: int) -> np.ndarray:
    """Trailing mean over up to ``window`` points (shorter at the start)."""
    if window <= 1:
        return values
    csum = np.concatenate([[0.0], np.cumsum(values)])
    idx = np.arange(1, len(values) + 1)
    start = np.maximum(idx - window, 0)
    return (csum[idx] - csum[start]) / (idx - start)


def plot_runs(runs: list[dict], labels: list[str], keys: list[str], out: Path,
              smooth: int = 1, title: str | None = None, width: float = 11.0) -> list[str]:
    """Draw one panel per key with every run overlaid; returns the keys drawn."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    drawn = [k for k in keys if any(k in r for r in runs)]
    if not drawn:
        raise CurveError(f'none of the runs logged any of {", ".join(keys)}')
    cols = 2 if len(drawn) > 1 else 1
    rows = (len(drawn) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(width, 2.6 * rows), squeeze=False)
    colours = plt.rcParams['axes.prop_cycle'].by_key()['color']
    for ax, key in zip(axes.flat, drawn):
        for i, (run, label) in enumerate(zip(runs, labels)):
            if key not in run:
                continue
            iters, values = run[key]
            colour = colours[i % len(colours)]
            if smooth > 1 and key not in SCHEDULE_KEYS:
                ax.plot(iters, values, color=colour, alpha=0.2, linewidth=0.8)
                ax.plot(iters, moving_average(values, smooth), color=colour, linewidth=1.4,
                        label=label)
            else:
                ax.plot(iters, values, color=colour, linewidth=1.4, label=label)
        ax.set_title(TITLES.get(key, key), fontsize=10)
        ax.set_xlabel('iteration', fontsize=9)
        ax.tick_params(labelsize=8)
        ax.grid(alpha=0.3)
        if key == 'lr':
            ax.ticklabel_format(axis='y', style='sci', scilimits=(0, 0))
    for ax in list(axes.flat)[len(drawn):]:
        ax.axis('off')
    handles, names = axes.flat[0].get_legend_handles_labels()
    if len(runs) > 1 or labels[0]:
        fig.legend(handles, names, loc='lower center', ncol=min(len(names), 3), fontsize=9,
                   frameon=False)
    if title:
        fig.suptitle(title, fontsize=11)
    legend_rows = (len(names) + 2) // 3 if len(runs) > 1 or labels[0] else 0
    fig.tight_layout(rect=(0, 0.035 * legend_rows * 3 / rows, 1, 0.96 if title else 1))
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=80)
    plt.close(fig)
    return drawn


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('runs', nargs='+', help='scalars.json files or work dirs holding them')
    parser.add_argument('--out', required=True, help='output image (.png, .svg, .pdf)')
    parser.add_argument('--labels', nargs='+', help='one legend label per run (default: names)')
    parser.add_argument('--keys', nargs='+', default=list(DEFAULT_KEYS),
                        help=f'scalars to plot, one panel each (default: {" ".join(DEFAULT_KEYS)})')
    parser.add_argument('--smooth', type=int, default=1,
                        help='moving-average window over logged points for the loss panels')
    parser.add_argument('--title', help='figure title')
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        if args.labels and len(args.labels) != len(args.runs):
            raise CurveError(f'--labels: {len(args.labels)} labels for {len(args.runs)} runs')
        if args.smooth < 1:
            raise CurveError(f'--smooth must be >= 1, got {args.smooth}')
        paths = [Path(r) for r in args.runs]
        labels = args.labels or [p.stem if p.is_file() else p.name for p in paths]
        runs = [read_scalars(p) for p in paths]
        drawn = plot_runs(runs, labels, args.keys, Path(args.out), args.smooth, args.title)
    except CurveError as err:
        print(f'error: {err}', file=sys.stderr)
        return 1
    for label, run in zip(labels, runs):
        last = max(int(v[0][-1]) for v in run.values())
        print(f'{label}: {len(run.get("loss", ((),))[0])} logged points up to iteration {last}')
    print(f'{", ".join(drawn)} -> {args.out}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
