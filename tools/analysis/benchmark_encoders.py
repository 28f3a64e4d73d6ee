"""Score several encoders under one propagation protocol and write one table.

Usage::

    python tools/analysis/benchmark_encoders.py ENCODER [ENCODER ...] \\
        --data-root davis=DIR [jhmdb=DIR vip=DIR] [--tasks davis,jhmdb,vip] \\
        [--protocol davis=CONFIG ...] [--work-dir DIR] [--sequences a,b] [--threads N]

ENCODER is ``NAME=CONFIG`` or ``NAME=CONFIG@CHECKPOINT`` (``CONFIG`` alone names
the run after the file). CONFIG is any test config: only its encoder is taken
(``backbone``, ``neck``, input normalisation, colour space, ``size_divisor``,
``size_fit``, ``amp``). CHECKPOINT is a corrflow checkpoint, or left out for an
encoder as the config builds it (random initialisation, a pixel encoder, or a
backbone that reads its own pretrained file). ``identity`` is the first-frame
copy (davis only): frame 0's mask written for every frame.

The protocol of a task (propagation, input size, keypoint read-out, data and
metric) comes from its protocol config, by default the standard protocol B of
:data:`DEFAULT_PROTOCOLS`. The spatial radius stays the same in pixels: a
radius of R cells at the protocol config's stride s0 becomes round(R * s0 / s)
cells at an encoder's stride s (recorded in the table).

Each (encoder, task) runs ``tools/test.py`` in its own process under
``WORK_DIR/<name>/<task>/`` (its config as ``config.py``, its log as
``log.txt``). A run whose ``run.json`` records the same config, checkpoint
content (sha256) and data is not run again, so an interrupted benchmark resumes
where it stopped (a file a backbone reads itself counts by its path, in the
config). Paths are taken from the current folder, as ``tools/test.py`` takes them.
The table (``WORK_DIR/encoders.md`` and ``.csv``) takes every score and setting
from the files the runs wrote (``propagation.json``, ``pck.json``,
``miou.json``), never from this script's arguments; frames per second are the
run's own (its frames over the propagation's wall time, as ``VideoProgressHook``
logs them: model set-up and process start excluded), peak memory is the run
process's maximum resident set. Errors in the arguments are one
``error: ...`` line (exit code 1); a run that fails is marked failed in the table
with its log, the others go on, and the exit code is 1.
"""
from __future__ import annotations

import argparse
import copy
import csv
import hashlib
import json
import os
import os.path as osp
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

from mmengine.config import Config
from mmengine.registry import DefaultScope

from corrflow.datasets.video_io import DataError
from corrflow.evaluation.davis_io import (evaluate_davis, read_davis_sequences,
                                          write_first_frame_copy)
from corrflow.registry import MODELS
from corrflow.utils.checkpoint import file_sha256
from corrflow.utils.launch import ConfigError, run_with_one_line_errors

REPO = Path(__file__).resolve().parents[2]
TASKS = ('davis', 'jhmdb', 'vip')
#: The protocol config of each task unless --protocol says otherwise: protocol B,
#: with CRW's rules for DAVIS.
DEFAULT_PROTOCOLS = {'davis': 'configs/test/corrflow_davis_crw.py',
                     'jhmdb': 'configs/test/corrflow_jhmdb_topk.py',
                     'vip': 'configs/test/corrflow_vip_topk.py'}
#: Where tools/test.py writes each task's scores and settings.
RESULT_FILES = {'davis': 'propagation.json', 'jhmdb': 'pck.json', 'vip': 'miou.json'}
#: The score columns of each task.
SCORES = {'davis': ('J&F-Mean', 'J-Mean', 'F-Mean'), 'jhmdb': ('PCK@0.1', 'PCK@0.2'),
          'vip': ('mIoU',)}
#: Encoder settings taken from an encoder config, with the propagator's defaults.
ENCODER_KEYS = {'backbone': None, 'neck': None, 'mean': None, 'std': None,
                'colour_space': 'rgb', 'size_divisor': 8, 'size_fit': 'pad', 'amp': None}
IDENTITY = 'identity'


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Score several encoders under one propagation protocol, one table')
    parser.add_argument('encoders', nargs='+',
                        help='NAME=CONFIG[@CHECKPOINT], CONFIG[@CHECKPOINT] or identity')
    parser.add_argument('--tasks', default='davis',
                        help='comma-separated tasks among davis, jhmdb, vip (default davis)')
    parser.add_argument('--data-root', nargs='+', required=True,
                        help='TASK=DIR for each task (one DIR alone when there is one task)')
    parser.add_argument('--protocol', nargs='+', default=[],
                        help='TASK=CONFIG: the protocol config of a task (default: '
                             + ', '.join(f'{k}={v}' for k, v in DEFAULT_PROTOCOLS.items()) + ')')
    parser.add_argument('--work-dir', default='work_dirs/benchmark_encoders',
                        help='runs and the table go here (default: %(default)s)')
    parser.add_argument('--sequences', default=None,
                        help='davis: only these sequences (comma-separated)')
    parser.add_argument('--threads', type=int, default=None,
                        help='torch threads of each run (default: tools/test.py\'s choice)')
    return parser.parse_args(argv)


def _pairs(items: list[str], what: str, tasks: tuple[str, ...]) -> dict[str, str]:
    """``TASK=VALUE`` items as a dict; a lone VALUE is the one task's."""
    if len(items) == 1 and '=' not in items[0]:
        if len(tasks) != 1:
            raise ConfigError(f'{what}: give TASK=VALUE for each of the tasks {", ".join(tasks)}')
        return {tasks[0]: items[0]}
    out = {}
    for item in items:
        task, sep, value = item.partition('=')
        if not sep or task not in TASKS or not value:
            raise ConfigError(f'{what}: {item!r} is not TASK=VALUE with TASK in {TASKS}')
        out[task] = value
    return out


def parse_encoder(spec: str) -> dict:
    """``NAME=CONFIG[@CHECKPOINT]`` / ``CONFIG[@CHECKPOINT]`` / ``identity`` -> a dict."""
    if spec == IDENTITY:
        return dict(name=IDENTITY, config=None, checkpoint=None)
    name, sep, rest = spec.partition('=')
    if not sep:
        rest, name = spec, ''
    config, _, checkpoint = rest.partition('@')
    if not osp.isfile(config):
        raise FileNotFoundError(f'encoder {spec!r}: config {config} does not exist')
    if checkpoint and not osp.isfile(checkpoint):
        raise FileNotFoundError(f'encoder {spec!r}: checkpoint {checkpoint} does not exist')
    name = name or Path(config).stem
    if not name.replace('-', '_').replace('.', '_').isidentifier():
        raise ConfigError(f'encoder name {name!r}: use letters, digits, -, _ and . only')
    return dict(name=name, config=config, checkpoint=checkpoint or None)


def _stride(model_cfg: dict) -> int:
    """Output stride of a propagator config's encoder (built, weights as configured)."""
    with DefaultScope.overwrite_default_scope('corrflow'):
        return int(MODELS.build(copy.deepcopy(model_cfg)).stride)


def merged_config(protocol: Config, encoder: Config) -> tuple[Config, dict]:
    """The protocol config with the encoder config's encoder; (config, radius record)."""
    cfg = copy.deepcopy(protocol)
    for key, default in ENCODER_KEYS.items():
        value = encoder.model.get(key, default)
        if value is None:
            cfg.model.pop(key, None)
        else:
            cfg.model[key] = copy.deepcopy(value)
    record = {}
    radius = cfg.model.propagation.get('radius')
    if radius is not None:
        s0, s = _stride(protocol.model), _stride(cfg.model)
        new = max(1, round(radius * s0 / s))
        cfg.model.propagation['radius'] = new
        record = dict(protocol_radius=radius, protocol_stride=s0, stride=s, radius=new,
                      radius_pixels=new * s)
    return cfg, record


def _digest(*parts: str) -> str:
    return hashlib.sha256('\0'.join(parts).encode()).hexdigest()[:16]


def run_identity(run_dir: Path, data_root: str, sequences: list[str] | None) -> dict:
    """Frame 0's DAVIS mask written for every frame, scored like any result folder."""
    masks = run_dir / 'masks'
    shutil.rmtree(masks, ignore_errors=True)
    seqs = sequences or read_davis_sequences(data_root)
    write_first_frame_copy(data_root, str(masks), seqs)
    global_row, _ = evaluate_davis(data_root, str(masks), seqs, num_workers=1)
    result = dict(propagation=dict(protocol='identity: frame 0 copied to every frame'),
                  sequences=seqs, results=global_row)
    (run_dir / 'propagation.json').write_text(json.dumps(result, indent=2))
    return result


def run_one(encoder: dict, task: str, protocol_path: str, data_root: str,
            sequences: list[str] | None, work_dir: Path, threads: int | None) -> dict:
    """One (encoder, task) run, or its earlier record when nothing changed."""
    run_dir = work_dir / encoder['name'] / task
    run_dir.mkdir(parents=True, exist_ok=True)
    record_path = run_dir / 'run.json'
    if encoder['name'] == IDENTITY:
        if task != 'davis':
            return dict(status='not applicable', note='identity is scored on davis only')
        key = _digest(IDENTITY, data_root, ','.join(sequences or []))
        config_text, radius = None, {}
    else:
        protocol = Config.fromfile(protocol_path)
        if protocol.get('task') != task:
            raise ConfigError(f'--protocol {task}={protocol_path} evaluates '
                              f'"{protocol.get("task")}", not {task}')
        cfg, radius = merged_config(protocol, Config.fromfile(encoder['config']))
        config_text = cfg.pretty_text
        weights = file_sha256(encoder['checkpoint']) if encoder['checkpoint'] else 'none'
        key = _digest(config_text, weights, data_root, ','.join(sequences or []))
    if record_path.is_file():
        record = json.loads(record_path.read_text())
        if record.get('key') == key and record.get('status') == 'ok':
            record['resumed'] = True
            if (run_dir / 'log.txt').is_file():
                record.update(propagation_speed((run_dir / 'log.txt').read_text(
                    errors='replace')))
            return record
    record = dict(key=key, encoder=encoder['name'], config=encoder['config'],
                  checkpoint=encoder['checkpoint'], task=task, protocol=protocol_path,
                  data_root=data_root, **radius)
    start = time.perf_counter()
    if encoder['name'] == IDENTITY:
        result = run_identity(run_dir, data_root, sequences)
        record.update(status='ok', seconds=time.perf_counter() - start, peak_rss_mib=None)
    else:
        (run_dir / 'config.py').write_text(config_text)
        cmd = [sys.executable, str(REPO / 'tools' / 'test.py'), str(run_dir / 'config.py'), task,
               encoder['checkpoint'] or 'none', '--data-root', data_root,
               '--work-dir', str(run_dir.parent)]
        if sequences and task == 'davis':
            cmd += ['--sequences', ','.join(sequences)]
        env = dict(os.environ)
        if threads:
            env['OMP_NUM_THREADS'] = str(threads)
        with open(run_dir / 'log.txt', 'w') as log:
            proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env)
            _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - start
        code = os.waitstatus_to_exitcode(status)
        result_file = run_dir / RESULT_FILES[task]
        if code != 0 or not result_file.is_file():
            lines = (run_dir / 'log.txt').read_text(errors='replace').strip().splitlines()
            record.update(status='failed', error=lines[-1] if lines else f'exit code {code}',
                          seconds=seconds)
            record_path.write_text(json.dumps(record, indent=2))
            return record
        result = json.loads(result_file.read_text())
        record.update(status='ok', seconds=seconds, peak_rss_mib=usage.ru_maxrss / 1024,
                      **propagation_speed((run_dir / 'log.txt').read_text(errors='replace')))
    record['result_file'] = str(Path(task) / RESULT_FILES[task])
    record['scores'] = task_scores(task, result)
    record['settings'] = result.get('propagation')
    record_path.write_text(json.dumps(record, indent=2))
    return record


#: The line ``VideoProgressHook`` logs at the end of a test run.
SPEED_LINE = re.compile(r'(\d+) videos, (\d+) frames in ([\d.]+) s: ([\d.]+) frames/s')


def propagation_speed(log: str) -> dict:
    """Frames and seconds of the propagation itself, as the run logged them (the model's
    set-up and the process start excluded)."""
    found = SPEED_LINE.findall(log)
    if not found:
        return {}
    _, frames, seconds, _ = found[-1]
    return dict(frames=int(frames), propagation_seconds=float(seconds))


def task_scores(task: str, result: dict) -> dict:
    """The score columns of a task's result file."""
    values = {'davis': lambda r: r['results'], 'jhmdb': lambda r: r['metrics'],
              'vip': lambda r: dict(mIoU=r['mIoU'])}[task](result)
    return {k: values.get(k) for k in SCORES[task]}


def settings_text(record: dict) -> str:
    """The propagation settings of a run, from its result file, in one cell."""
    s = record.get('settings') or {}
    if 'protocol' in s and len(s) == 1:
        return s['protocol']
    keys = ('protocol', 'reference', 'context', 'topk', 'radius', 'window', 'temperature',
            'encoder', 'stride', 'input_size', 'size_divisor', 'size_fit', 'precision')
    parts = [f'{k} {s[k]}' for k in keys if s.get(k) is not None]
    return '; '.join(str(p) for p in parts)


def write_table(records: list[dict], tasks: tuple[str, ...], work_dir: Path) -> tuple[Path, Path]:
    """``encoders.md`` and ``encoders.csv`` under ``work_dir``."""
    header = ['encoder', 'checkpoint', 'task']
    header += [c for t in tasks for c in SCORES[t]]
    header += ['frames/s', 'peak memory (MiB)', 'radius', 'settings (from the run\'s files)',
               'status']
    rows = []
    for r in records:
        row = {h: '' for h in header}
        row.update({'encoder': r['encoder'], 'checkpoint': r.get('checkpoint') or 'none',
                    'task': r['task'], 'status': r['status']})
        if r['status'] == 'ok':
            for k, v in r['scores'].items():
                row[k] = '' if v is None else f'{v:.4f}'
            if r.get('frames') and r.get('propagation_seconds'):
                row['frames/s'] = f'{r["frames"] / r["propagation_seconds"]:.2f}'
            if r.get('peak_rss_mib'):
                row['peak memory (MiB)'] = f'{r["peak_rss_mib"]:.0f}'
            if 'radius' in r:
                row['radius'] = (f'{r["radius"]} cells at stride {r["stride"]} '
                                 f'({r["radius_pixels"]} px)')
            row['settings (from the run\'s files)'] = settings_text(r)
        elif r['status'] == 'failed':
            row['status'] = f'failed: {r.get("error", "")} (log: {r["encoder"]}/{r["task"]}/' \
                            'log.txt)'
        rows.append(row)
    md, csv_path = work_dir / 'encoders.md', work_dir / 'encoders.csv'
    failed = sum(r['status'] == 'failed' for r in records)
    lines = ['| ' + ' | '.join(header) + ' |', '|' + '---|' * len(header)]
    lines += ['| ' + ' | '.join(str(row[h]).replace('|', '/') for h in header) + ' |'
              for row in rows]
    note = (f'**Incomplete: {failed} of {len(records)} runs failed.**\n\n' if failed else '')
    md.write_text(note + '\n'.join(lines) + '\n')
    with open(csv_path, 'w', newline='') as f:
        writer = csv.DictWriter(f, fieldnames=header)
        writer.writeheader()
        writer.writerows(rows)
    return md, csv_path


def benchmark(args: argparse.Namespace) -> int:
    tasks = tuple(t for t in args.tasks.split(',') if t)
    unknown = [t for t in tasks if t not in TASKS]
    if not tasks or unknown:
        raise ConfigError(f'--tasks: choose among {", ".join(TASKS)}, got {args.tasks!r}')
    roots = _pairs(args.data_root, '--data-root', tasks)
    protocols = dict(DEFAULT_PROTOCOLS, **_pairs(args.protocol, '--protocol', tasks)) \
        if args.protocol else dict(DEFAULT_PROTOCOLS)
    for task in tasks:
        if task not in roots:
            raise ConfigError(f'--data-root: no folder for {task} (give {task}=DIR)')
        if not osp.isdir(roots[task]):
            raise FileNotFoundError(f'--data-root {task}={roots[task]} is not a directory')
        if not osp.isfile(protocols[task]):
            raise FileNotFoundError(f'--protocol {task}={protocols[task]} does not exist')
    encoders = [parse_encoder(spec) for spec in args.encoders]
    names = [e['name'] for e in encoders]
    if len(set(names)) != len(names):
        raise ConfigError(f'encoder names must differ: {", ".join(names)}')
    sequences = [s for s in args.sequences.split(',') if s] if args.sequences else None
    work_dir = Path(args.work_dir)
    work_dir.mkdir(parents=True, exist_ok=True)
    records = []
    for encoder in encoders:
        for task in tasks:
            print(f'[{encoder["name"]} / {task}] ...', flush=True)
            record = run_one(encoder, task, protocols[task], roots[task], sequences, work_dir,
                             args.threads)
            record.setdefault('encoder', encoder['name'])
            record.setdefault('task', task)
            record.setdefault('checkpoint', encoder['checkpoint'])
            records.append(record)
            scores = ', '.join(f'{k} {v:.4f}' for k, v in (record.get('scores') or {}).items()
                               if v is not None)
            done = ' (earlier run, unchanged)' if record.get('resumed') else ''
            print(f'[{encoder["name"]} / {task}] {record["status"]}{done} {scores}'.rstrip(),
                  flush=True)
            write_table(records, tasks, work_dir)
    md, csv_path = write_table(records, tasks, work_dir)
    print(md.read_text())
    print(f'table: {md} and {csv_path}')
    return 1 if any(r['status'] == 'failed' for r in records) else 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    code = [0]

    def run():
        code[0] = benchmark(args)
    status = run_with_one_line_errors(run, (DataError, ConfigError, FileNotFoundError))
    return status or code[0]


if __name__ == '__main__':
    sys.exit(main())
