"""Shared helpers of the benchmark scripts: machine, timing, peak memory, output.

* :func:`machine_info` / :func:`machine_line`: what the numbers were measured on,
  the CPU's flags and whether bf16 matrix products are native or emulated on it;
* :func:`precision_choices`, :func:`resolve_precisions`, :func:`add_precision_args`:
  the ``--precisions`` of a benchmark (fp32 / bf16 everywhere, fp16 on CUDA
  only), resolved with :func:`corrflow.utils.precision.resolve_precision`;
* :func:`make_gemm`, :func:`gemm_rates`, :func:`gemm_line`: the machine's
  reference matrix-multiply rate (GFLOP/s of an n x n ``torch.mm``) in every
  precision, measured in the benchmark's own run;
* :func:`time_fn` (one case) and :func:`time_fns` (several cases timed in
  interleaved rounds, so that a background load slows them alike): median of
  ``repeat`` runs after ``warmup`` runs, synchronising CUDA around each run;
* :func:`peak_memory_subprocess`: peak memory of one case, measured in a fresh
  Python process (see its docstring for the method);
* :func:`print_table`, :func:`format_table`, :func:`write_results`,
  :func:`results_path`: a plain-text table and a JSON report under
  ``benchmarks/results/<name>.json`` (machine, command line, timestamp).

Benchmarks follow one convention: ``--smoke`` runs a seconds-long version that
writes no JSON unless ``--out`` is given; a full run writes
``benchmarks/results/<name>.json`` (or ``--out``).
"""
from __future__ import annotations

import argparse
import datetime
import gc
import importlib
import json
import os
import platform
import re
import resource
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Sequence, Union

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:  # scripts and the memory child run from anywhere
    sys.path.insert(0, str(REPO_ROOT))
RESULTS_DIR = REPO_ROOT / 'benchmarks' / 'results'

# A column of print_table: a key, or (key, header), or (key, header, format spec or callable).
Column = Union[str, Sequence[Any]]

__all__ = ['REPO_ROOT', 'RESULTS_DIR', 'shared_data_root', 'machine_info', 'machine_line',
           'bf16_support', 'PRECISIONS', 'precision_choices', 'resolve_precisions',
           'add_precision_args', 'parse_device_and_precisions', 'describe_precisions',
           'make_gemm', 'gemm_rates', 'gemm_line',
           'available_memory_mib', 'synchronize', 'time_fn', 'time_fns',
           'peak_memory_subprocess', 'format_table', 'print_table', 'results_path',
           'write_results', 'add_output_args']


def shared_data_root() -> Path:
    """Shared real data: env ``CORRFLOW_SHARED_DATA``, default ``<repo>/../shared/data``."""
    return Path(os.environ.get('CORRFLOW_SHARED_DATA', REPO_ROOT.parent / 'shared' / 'data'))


# ---------------------------------------------------------------------------- machine
def _cpu_model() -> str:
    try:
        with open('/proc/cpuinfo', encoding='utf-8') as f:
            for line in f:
                if line.startswith('model name'):
                    return line.split(':', 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_info(device: str | None = None) -> dict:
    """Description of the machine and software that a benchmark ran on.

    Args:
        device (str | None): the device benchmarked (``'cpu'``, ``'cuda'``,
            ``'cuda:1'``); its GPU is named when it is a CUDA device.

    Returns:
        dict: cpu_model, cpu (:func:`corrflow.utils.precision.cpu_description`:
        model, cores, threads, AVX-512/AMX flags, bf16 matrix units),
        cpu_bf16_units, bf16 (:func:`bf16_support` on ``device``), cpu_count,
        cpus_usable (this process's affinity), load_average (1/5/15 min, other
        jobs slow measurements down), python, platform, torch, torch_threads,
        and with CUDA gpu, cuda. Take it after ``torch.set_num_threads``.
    """
    import torch

    from corrflow.utils.precision import cpu_bf16_units, cpu_description

    info = {
        'cpu_model': _cpu_model(),
        'cpu_count': os.cpu_count(),
        'cpus_usable': len(os.sched_getaffinity(0)) if hasattr(os, 'sched_getaffinity')
        else os.cpu_count(),
        'load_average': [round(x, 2) for x in os.getloadavg()] if hasattr(os, 'getloadavg')
        else None,
        'python': platform.python_version(),
        'platform': platform.platform(),
        'torch': torch.__version__,
        'torch_threads': torch.get_num_threads(),
        'device': device or 'cpu',
        'cpu': cpu_description(),
        'cpu_bf16_units': cpu_bf16_units(),
        'bf16': bf16_support(device or 'cpu'),
    }
    if device is not None and str(device).startswith('cuda') and torch.cuda.is_available():
        dev = torch.device(device)
        info['gpu'] = torch.cuda.get_device_name(dev)
        info['cuda'] = torch.version.cuda
    return info


def machine_line(info: dict | None = None) -> str:
    """Two lines: CPU model and cores, threads, load, torch version and GPU; then the CPU's
    flags and bf16 matrix units, and whether bf16 is native or emulated on the device."""
    info = info or machine_info()
    line = (f"{info['cpu_model']}, {info['cpus_usable']}/{info['cpu_count']} cores usable, "
            f"torch {info['torch']} ({info['torch_threads']} threads), "
            f"python {info['python']}")
    if info.get('load_average') is not None:
        line += f", load {info['load_average'][0]:.2f}"
    if 'gpu' in info:
        line += f", GPU {info['gpu']} (CUDA {info['cuda']})"
    if 'cpu' in info:
        line += f"\n{info['cpu']}; bf16 on {info['device']}: {info['bf16']}"
    return line


def bf16_support(device: Any = 'cpu') -> str:
    """Whether bf16 matrix products are native or emulated on ``device``, in words.

    A CPU runs them natively with ``amx_bf16`` or ``avx512_bf16``
    (:func:`corrflow.utils.precision.cpu_bf16_units`); elsewhere oneDNN
    emulates them and they are slower than fp32. A CUDA device: as
    ``torch.cuda.is_bf16_supported`` says.
    """
    import torch

    from corrflow.utils.precision import cpu_bf16_units

    if str(device).startswith('cuda'):
        if not torch.cuda.is_available():
            return 'unknown (no CUDA device)'
        native = torch.cuda.is_bf16_supported(including_emulation=False)
        return 'native (GPU supports bf16)' if native else 'not native on this GPU'
    units = cpu_bf16_units()
    if units:
        return f'native ({units})'
    return ('emulated (no amx_bf16 or avx512_bf16 in /proc/cpuinfo: no bf16 matrix units, '
            'bf16 products are converted and run slower than fp32)')


def available_memory_mib() -> float | None:
    """Memory the kernel can give without swapping (``MemAvailable``), or None if unknown."""
    try:
        with open('/proc/meminfo', encoding='utf-8') as f:
            match = re.search(r'^MemAvailable:\s+(\d+) kB', f.read(), re.MULTILINE)
    except OSError:
        return None
    return int(match.group(1)) / 1024.0 if match else None


# ---------------------------------------------------------------------------- precision
#: Every precision a benchmark can run; fp16 needs a CUDA device.
PRECISIONS = ('fp32', 'bf16', 'fp16')


def precision_choices(device: Any = 'cpu') -> tuple[str, ...]:
    """The default ``--precisions`` on ``device``: fp32 and bf16, and fp16 on CUDA (without
    bf16 on a GPU that has none)."""
    if not str(device).startswith('cuda'):
        return ('fp32', 'bf16')
    import torch
    if torch.cuda.is_available() and not torch.cuda.is_bf16_supported(including_emulation=False):
        return ('fp32', 'fp16')
    return PRECISIONS


def add_precision_args(parser: argparse.ArgumentParser) -> None:
    """Add ``--precisions`` (default: :func:`precision_choices` of the device)."""
    parser.add_argument('--precisions', nargs='+', default=None, choices=PRECISIONS,
                        help='precisions measured side by side: fp32 = no autocast, bf16 / fp16 '
                             '= torch.autocast in that dtype (fp16 on CUDA only); default: fp32 '
                             'bf16 (and fp16 on CUDA)')


def resolve_precisions(names: Sequence[str] | None, device: Any = 'cpu') -> dict:
    """name -> :class:`corrflow.utils.precision.Precision` for ``device``, fp32 first.

    Raises:
        corrflow.utils.precision.PrecisionError: a precision the device cannot
            run (fp16 on a CPU, bf16 on a GPU without it).
    """
    from corrflow.utils.precision import resolve_precision

    names = list(dict.fromkeys(names or precision_choices(device)))
    names.sort(key=PRECISIONS.index)
    return {name: resolve_precision(name, device) for name in names}


def parse_device_and_precisions(parser: argparse.ArgumentParser, args: argparse.Namespace) -> dict:
    """Check ``args.device`` and resolve ``args.precisions`` (:func:`resolve_precisions`).

    A CUDA device without a GPU, or a precision the device cannot run, ends the
    script through ``parser.error`` (one line, exit code 2).
    """
    import torch

    from corrflow.utils.precision import PrecisionError

    if args.device == 'cuda' and not torch.cuda.is_available():
        parser.error('--device cuda: no CUDA device available')
    try:
        return resolve_precisions(args.precisions, args.device)
    except PrecisionError as err:
        parser.error(f'--precisions: {err}')


def describe_precisions(precisions: dict) -> str:
    """``'precisions: fp32 (why); bf16 (why)'`` of :func:`resolve_precisions`' result."""
    return 'precisions: ' + '; '.join(p.describe() for p in precisions.values())


# ---------------------------------------------------------------------------- timing
def synchronize(device: Any = None) -> None:
    """Wait for the queued CUDA work of ``device`` (no-op on CPU)."""
    if device is not None and str(device).startswith('cuda'):
        import torch
        torch.cuda.synchronize(device)


def _stats(times: list[float], warmup: int) -> dict:
    return {'median_s': statistics.median(times), 'mean_s': statistics.fmean(times),
            'min_s': min(times), 'max_s': max(times), 'repeat': len(times), 'warmup': warmup,
            'times_s': times}


def time_fns(fns: dict[str, Callable[[], Any]], repeat: int = 3, warmup: int = 1,
             device: Any = None) -> dict[str, dict]:
    """Time several cases in interleaved rounds (a, b, a, b, ...).

    Interleaving spreads a background load that changes over time evenly
    over the cases, so their ratios are fair even on a shared machine.

    Args:
        fns (dict): name -> zero-argument callable (one run of the case).
        repeat (int): timed runs per case (at least 1).
        warmup (int): untimed runs per case first.
        device: a CUDA device to synchronise around every run, or None / 'cpu'.

    Returns:
        dict: name -> ``dict(median_s, mean_s, min_s, max_s, repeat, warmup,
        times_s)``.
    """
    if repeat < 1:
        raise ValueError(f'repeat must be at least 1, got {repeat}')
    for _ in range(warmup):
        for fn in fns.values():
            fn()
    synchronize(device)
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeat):
        for name, fn in fns.items():
            synchronize(device)
            start = time.perf_counter()
            fn()
            synchronize(device)
            times[name].append(time.perf_counter() - start)
    return {name: _stats(values, warmup) for name, values in times.items()}


def make_gemm(size: int, precision: str = 'fp32', device: Any = 'cpu',
              seed: int = 0) -> Callable[[], Any]:
    """One ``torch.mm`` of two ``size`` x ``size`` matrices in ``precision``'s dtype.

    The operands are made in that dtype beforehand (autocast would convert
    them on every call), so the call is the product alone: what autocast's
    matrix products and convolutions run on.
    """
    import torch

    dtype = {'fp32': torch.float32, 'bf16': torch.bfloat16, 'fp16': torch.float16}[precision]
    g = torch.Generator().manual_seed(seed)
    a = torch.randn(size, size, generator=g).to(device=device, dtype=dtype)
    b = torch.randn(size, size, generator=g).to(device=device, dtype=dtype)
    out = torch.empty(size, size, device=device, dtype=dtype)
    return lambda: torch.mm(a, b, out=out)


def gemm_rates(precisions: Sequence[str], size: int = 2048, device: Any = 'cpu',
               repeat: int = 3, warmup: int = 1, seed: int = 0) -> dict[str, dict]:
    """GFLOP/s of an n x n ``torch.mm`` (2 n^3 FLOP) in each precision, interleaved rounds.

    Returns:
        dict: precision -> ``dict(gflops, size, timing)`` (timing: :func:`time_fns`).
    """
    fns = {name: make_gemm(size, name, device, seed) for name in precisions}
    timing = time_fns(fns, repeat=repeat, warmup=warmup, device=device)
    return {name: dict(gflops=2.0 * size ** 3 / t['median_s'] / 1e9, size=size, timing=t)
            for name, t in timing.items()}


def gemm_line(rates: dict[str, dict], threads: int | None = None) -> str:
    """One line: the GEMM rate in each precision, and each as a multiple of fp32's."""
    if not rates:
        return 'GEMM rate: not measured'
    size = next(iter(rates.values()))['size']
    parts = [f"{name} {r['gflops']:.1f}" for name, r in rates.items()]
    line = f'GEMM {size}x{size} torch.mm'
    if threads:
        line += f' ({threads} thread{"s" if threads > 1 else ""})'
    line += ': ' + ', '.join(parts) + ' GFLOP/s'
    if 'fp32' in rates and len(rates) > 1:
        line += ' (' + ', '.join(f"{name} {r['gflops'] / rates['fp32']['gflops']:.2f}x fp32"
                                 for name, r in rates.items() if name != 'fp32') + ')'
    return line


def time_fn(fn: Callable[[], Any], repeat: int = 3, warmup: int = 1,
            device: Any = None) -> dict:
    """Median (and min/mean/max) time of ``repeat`` runs of ``fn`` after ``warmup`` runs.

    See :func:`time_fns` for the arguments and the returned dict.
    """
    return time_fns({'fn': fn}, repeat=repeat, warmup=warmup, device=device)['fn']


# ---------------------------------------------------------------------------- memory
def _proc_status_kib(field: str) -> int | None:
    try:
        with open('/proc/self/status', encoding='utf-8') as f:
            match = re.search(rf'^{field}:\s+(\d+) kB', f.read(), re.MULTILINE)
    except OSError:
        return None
    return int(match.group(1)) if match else None


def _reset_peak_rss() -> bool:
    """Reset the kernel's peak-RSS mark (VmHWM) of this process (Linux >= 4.0)."""
    try:
        with open('/proc/self/clear_refs', 'w', encoding='ascii') as f:
            f.write('5')
    except OSError:
        return False
    return _proc_status_kib('VmHWM') is not None


def _ru_maxrss_mib() -> float:
    kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return kib / (1024.0 * 1024.0) if sys.platform == 'darwin' else kib / 1024.0  # bytes on macOS


def _measure_in_this_process(factory: str, kwargs: dict, device: str | None,
                             calls: int) -> dict:
    """Body of the memory child: build the case, then measure ``calls`` runs of it."""
    import torch

    module, _, name = factory.partition(':')
    case = getattr(importlib.import_module(module), name)(**kwargs)  # setup, not measured
    cuda = device is not None and str(device).startswith('cuda')
    gc.collect()
    if cuda:
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
        cuda_before = torch.cuda.memory_allocated(device)
    rss_before = _proc_status_kib('VmRSS')
    hwm_reset = rss_before is not None and _reset_peak_rss()
    maxrss_before = _ru_maxrss_mib()
    for _ in range(calls):
        case()
    if cuda:
        torch.cuda.synchronize(device)
    out: dict[str, Any] = {}
    if hwm_reset:
        out['baseline_rss_mib'] = rss_before / 1024.0
        out['peak_rss_mib'] = _proc_status_kib('VmHWM') / 1024.0
        out['rss_method'] = 'VmHWM reset via /proc/self/clear_refs'
    else:  # the process-lifetime peak: an upper bound if setup peaked higher than the case
        out['baseline_rss_mib'] = (rss_before / 1024.0 if rss_before is not None
                                   else maxrss_before)
        out['peak_rss_mib'] = _ru_maxrss_mib()
        out['rss_method'] = 'ru_maxrss (process lifetime peak)'
    out['rss_delta_mib'] = max(0.0, out['peak_rss_mib'] - out['baseline_rss_mib'])
    if cuda:
        out['cuda_baseline_mib'] = cuda_before / 2**20
        out['cuda_peak_mib'] = torch.cuda.max_memory_allocated(device) / 2**20
        out['cuda_delta_mib'] = out['cuda_peak_mib'] - out['cuda_baseline_mib']
    out['peak_mib'] = out['cuda_delta_mib'] if cuda else out['rss_delta_mib']
    return out


def peak_memory_subprocess(factory: str, kwargs: dict | None = None, device: str | None = None,
                           calls: int = 1, threads: int | None = None,
                           timeout: float | None = None) -> dict:
    """Peak memory of one case, measured in a fresh Python process.

    ``factory`` (``'package.module:function'``, importable from the repository
    root) is called with ``kwargs`` in the child and must return a
    zero-argument callable: the factory does the setup (model, inputs,
    optimiser), the callable one run of the case. The child then runs it
    ``calls`` times and measures:

    * on CPU, the resident set size: the kernel's peak mark (``VmHWM``) is
      reset through ``/proc/self/clear_refs`` right after the setup, so
      ``peak_mib`` = peak RSS during the runs - RSS right before them, the
      memory the case itself needed (where the reset is not available, the
      process-lifetime ``ru_maxrss`` is used instead, an upper bound);
    * on CUDA, ``torch.cuda.max_memory_allocated`` during the runs - the memory
      allocated before them (the RSS fields are reported too).

    A fresh process means no cached allocator blocks or earlier peaks of the
    parent leak into the measurement.

    Args:
        factory (str): ``'module:function'`` building the case.
        kwargs (dict | None): JSON-serialisable keyword arguments of the factory.
        device (str | None): the case's device; a CUDA device switches the
            reported ``peak_mib`` to CUDA memory.
        calls (int): runs measured (the peak over them).
        threads (int | None): ``torch.set_num_threads`` in the child
            (default: the parent's current count).
        timeout (float | None): seconds before the child is killed.

    Returns:
        dict: ``peak_mib`` (the number to report), ``baseline_rss_mib``,
        ``peak_rss_mib``, ``rss_delta_mib``, ``rss_method`` and, on CUDA,
        ``cuda_baseline_mib``, ``cuda_peak_mib``, ``cuda_delta_mib``.

    Raises:
        RuntimeError: the child failed (its stderr is included).
    """
    import torch

    spec = {'factory': factory, 'kwargs': kwargs or {}, 'device': device, 'calls': calls,
            'threads': threads or torch.get_num_threads()}
    with tempfile.TemporaryDirectory(prefix='corrflow_mem_') as tmp:
        out_file = Path(tmp) / 'result.json'
        cmd = [sys.executable, str(Path(__file__).resolve()), '--memory-child', json.dumps(spec),
               str(out_file)]
        proc = subprocess.run(cmd, cwd=str(REPO_ROOT), capture_output=True, text=True,
                              timeout=timeout)
        if proc.returncode != 0 or not out_file.is_file():
            raise RuntimeError(f'memory measurement of {factory} failed (exit code '
                               f'{proc.returncode}):\n{proc.stderr[-4000:]}')
        return json.loads(out_file.read_text(encoding='utf-8'))


# ---------------------------------------------------------------------------- output
def _cell(value: Any, fmt: Any) -> str:
    if value is None:
        return '-'
    if callable(fmt):
        return str(fmt(value))
    if fmt and isinstance(value, (int, float)) and not isinstance(value, bool):
        return format(value, fmt)
    if isinstance(value, float):
        return f'{value:.4g}'
    return str(value)


def format_table(rows: Sequence[dict], columns: Sequence[Column] | None = None,
                 title: str | None = None) -> str:
    """A plain-text table: header, rule, one line per row; numbers right-aligned.

    Args:
        rows (Sequence[dict]): one dict per line.
        columns (Sequence): each a key, ``(key, header)`` or ``(key, header,
            fmt)`` with ``fmt`` a format spec (``'.2f'``) or a callable
            value -> str; default: the keys of the first row. Missing values
            print as ``-``.
        title (str | None): a line above the table.
    """
    if columns is None:
        columns = list(rows[0]) if rows else []
    cols = []
    for col in columns:
        col = (col,) if isinstance(col, str) else tuple(col)
        key = col[0]
        header = col[1] if len(col) > 1 else key
        fmt = col[2] if len(col) > 2 else None
        cols.append((key, str(header), fmt))
    cells = [[_cell(row.get(key), fmt) for key, _, fmt in cols] for row in rows]
    numeric = [all(isinstance(row.get(key), (int, float)) or row.get(key) is None
                   for row in rows) for key, _, _ in cols]
    widths = [max([len(h)] + [len(line[i]) for line in cells]) for i, (_, h, _) in
              enumerate(cols)]

    def join(values: Sequence[str]) -> str:
        return '  '.join(v.rjust(w) if num else v.ljust(w)
                         for v, w, num in zip(values, widths, numeric)).rstrip()

    lines = [title] if title else []
    lines.append(join([h for _, h, _ in cols]))
    lines.append('  '.join('-' * w for w in widths))
    lines.extend(join(line) for line in cells)
    return '\n'.join(lines)


def print_table(rows: Sequence[dict], columns: Sequence[Column] | None = None,
                title: str | None = None) -> None:
    """Print :func:`format_table` (followed by a blank line)."""
    print(format_table(rows, columns, title))
    print()


def add_output_args(parser: argparse.ArgumentParser, name: str, smoke_help: str) -> None:
    """Add the shared ``--smoke`` and ``--out`` options of a benchmark called ``name``."""
    parser.add_argument('--smoke', action='store_true', help=smoke_help + '; writes no JSON '
                        'unless --out is given')
    parser.add_argument('--out', default=None,
                        help=f'output JSON (default benchmarks/results/{name}.json; '
                             'none with --smoke)')


def results_path(name: str, out: str | None = None, smoke: bool = False) -> Path | None:
    """Where a run writes its JSON: ``out``, else nothing for smoke runs, else the default."""
    if out:
        return Path(out)
    return None if smoke else RESULTS_DIR / f'{name}.json'


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, (str, int, float, bool)) or obj is None:
        return obj
    if hasattr(obj, 'item') and getattr(obj, 'ndim', 1) == 0:  # numpy / torch scalars
        return obj.item()
    return str(obj)


def write_results(name: str, rows: Any, extra: dict | None = None, path: str | Path | None = None,
                  machine: dict | None = None) -> Path:
    """Write a JSON report and return its path.

    The report holds ``benchmark`` (the name), ``timestamp`` (UTC, ISO 8601),
    ``command`` (the command line), ``machine`` (:func:`machine_info` unless
    given), ``results`` (``rows``: a list of row dicts or a dict of such lists)
    and the items of ``extra``.

    Args:
        name (str): benchmark name; default path ``benchmarks/results/<name>.json``.
        rows: the measured rows.
        extra (dict | None): more top-level entries (settings, checks, notes).
        path (str | Path | None): output file instead of the default.
        machine (dict | None): a :func:`machine_info` taken earlier (e.g. with
            the device); default: taken now.
    """
    path = Path(path) if path else RESULTS_DIR / f'{name}.json'
    report = {
        'benchmark': name,
        'timestamp': datetime.datetime.now(datetime.timezone.utc).isoformat(timespec='seconds'),
        'command': ' '.join(shlex.quote(a) for a in [Path(sys.executable).name] + sys.argv),
        'machine': machine or machine_info(),
        'results': rows,
    }
    report.update(extra or {})
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(_jsonable(report), indent=2) + '\n', encoding='utf-8')
    return path


def _memory_child(argv: list[str]) -> int:
    spec, out_file = json.loads(argv[0]), argv[1]
    import torch
    torch.set_num_threads(int(spec['threads']))
    result = _measure_in_this_process(spec['factory'], spec['kwargs'], spec['device'],
                                      int(spec['calls']))
    Path(out_file).write_text(json.dumps(result), encoding='utf-8')
    return 0


if __name__ == '__main__':
    if len(sys.argv) == 4 and sys.argv[1] == '--memory-child':
        sys.exit(_memory_child(sys.argv[2:]))
    sys.exit('benchmarks/common.py is a library (its only command line is the internal '
             '--memory-child of peak_memory_subprocess)')
