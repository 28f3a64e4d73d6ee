"""Benchmark: restricted (windowed) attention, tiled GEMMs vs. ``F.unfold``.

Two implementations of the same windowed softmax attention (raw dot products,
(2R+1)^2 window, keys outside the map masked):

* ``ours``: ``corrflow.models.layers.local_attention.restricted_attention``
  (8x8 query tiles against their (8+2R)^2 key regions as batched GEMMs, a
  custom autograd function for the backward);
* ``unfold``: ``benchmarks.baselines.unfold_restricted_attention``, every
  window copied out with ``F.unfold`` (the straightforward PyTorch version).

Shapes (``CONFIGS``): ``train`` = CorrFlow training, B=6, C=64, 64x64 maps
(256x256 crops at stride 4), R=6, L=16 colour classes, forward + backward;
``test`` = one 480p DAVIS frame at stride 4 (120x214), B=1, forward only (the
propagation use; forward + backward reported too). Inputs are random
(features scaled so that dot products have unit variance, labels in [0, 1]).

Precision (``--precisions``, default fp32 bf16; fp16 too on ``--device
cuda``): ``ours`` runs once per precision, fp32 without autocast and bf16 /
fp16 under ``torch.autocast`` of that dtype, as training and propagation run
it (the affinity and aggregation products in the autocast dtype, softmax and
outputs fp32: ``corrflow.models.layers.local_attention``); the ``unfold``
baseline runs in fp32 only, beside ours' fp32 row. Before timing, each
low-precision output and gradient is compared with ours in fp32 (relative
Frobenius error, bounds ``LOW_FORWARD_RTOL`` / ``LOW_GRAD_RTOL`` as in
``tests/models/test_local_attention.py``).

Per shape and mode the implementations and a GEMM in every precision
(``torch.mm`` of two 2048x2048 matrices of that dtype, the machine's
reference rate at the same thread count) are timed in interleaved rounds
(median of ``--repeat`` after ``--warmup``), so a background load slows them
alike; peak memory of one call is measured in a fresh process each
(``benchmarks.common.peak_memory_subprocess``: RSS high-water mark minus the
RSS before the call, inputs excluded; CUDA memory on ``--device cuda``).

Useful work (the arithmetic any implementation must do), per query cell:
``D = (2R+1)^2`` dot products of length C and a D-term weighted sum of L
values, i.e. ``2*D*(C+L)`` FLOP; so

    useful_flop_fwd     = B * H * W * (2R+1)^2 * 2 * (C + L)
    useful_flop_fwd_bwd = 3 * useful_flop_fwd   (backward ~ 2x forward)

and useful GFLOP/s = useful FLOP / median time; ``% GEMM`` = that / the GEMM
GFLOP/s of the row's own dtype (2 * 2048^3 FLOP per ``torch.mm``), ``% fp32
GEMM`` = that / the fp32 GEMM's. ``ours`` multiplies each tile by its whole
(S+2R)^2 key region: ``(S+2R)^2 / (2R+1)^2`` = 400/169 = 2.37x the useful
products at S=8, R=6 (``gemm_work_ratio`` in the JSON), which bounds its share
of the GEMM rate together with the softmax/gather passes. Target on a CPU with
bf16 matrix units (AMX): the bf16 row at ``TARGET_PCT_BF16_GEMM`` (10 %) of the
bf16 GEMM rate or more; on a CPU without them bf16 is emulated (see the
machine line), and the target cannot be checked there.

Before timing, the outputs (and, for forward + backward, the gradients of
query, key and value) of the two implementations are compared; the largest
absolute difference is printed and must be below ``ATOL`` (outputs) /
``GRAD_RTOL`` relative to the largest gradient, else the exit code is 1.

``spatial-correlation-sampler`` (the CUDA/C++ correlation extension used by
some reference codebases) is reported when importable; on this machine its
installation failed (``SCS_INSTALL_ATTEMPT``), so it is not timed.

Usage::

    python benchmarks/bench_attention.py [--configs train test] [--precisions fp32 bf16]
        [--device cpu|cuda] [--repeat 3] [--warmup 1] [--threads N] [--gemm-size 2048]
        [--no-memory] [--force] [--smoke] [--out FILE]
"""
from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(REPO_ROOT))

import torch  # noqa: E402

from benchmarks.baselines import unfold_restricted_attention  # noqa: E402
from benchmarks.common import (add_output_args, add_precision_args,  # noqa: E402
                               available_memory_mib, describe_precisions, gemm_line,
                               gemm_rates, machine_info, machine_line, make_gemm,
                               peak_memory_subprocess, parse_device_and_precisions, print_table,
                               results_path, time_fns, write_results)
from corrflow.models.layers.local_attention import restricted_attention  # noqa: E402
from corrflow.utils.precision import resolve_precision  # noqa: E402

NAME = 'attention'
IMPLEMENTATIONS = {'ours': 'tiled GEMMs (corrflow restricted_attention)',
                   'unfold': 'F.unfold windows (benchmarks.baselines)'}
MODES = ('fwd', 'fwd+bwd')
CONFIGS = {
    'train': dict(batch=6, channels=64, height=64, width=64, radius=6, labels=16,
                  modes=('fwd+bwd', 'fwd')),
    'test': dict(batch=1, channels=64, height=120, width=214, radius=6, labels=16,
                 modes=('fwd', 'fwd+bwd')),
}
SMOKE_CONFIGS = {'smoke': dict(batch=2, channels=16, height=20, width=24, radius=3, labels=4,
                               modes=('fwd+bwd', 'fwd'))}
TILE = 8  # restricted_attention's default tile side
ATOL = 1e-4  # outputs are convex combinations of values in [0, 1]
GRAD_RTOL = 1e-4
# Relative (Frobenius) error of ours under bf16 / fp16 autocast against ours in fp32, the
# bounds of tests/models/test_local_attention.py (bf16 rounds to 2^-9 relative).
LOW_FORWARD_RTOL = 1e-2
LOW_GRAD_RTOL = 3e-2
TARGET_PCT_BF16_GEMM = 10.0  # on a CPU with bf16 matrix units (AMX)
# The unfold baseline holds ~7 copies of the (B, C or L, D, H, W) windows at its peak
# (forward + backward); used to refuse a run that cannot fit.
UNFOLD_COPIES = 7
# One attempt, ``pip install spatial-correlation-sampler`` (3-minute limit), in this
# environment (torch 2.14.1+cu130, no GPU): the 0.5.0 sdist was downloaded and its
# extension build failed in torch.utils.cpp_extension._get_cuda_arch_flags
# (``arch_list[-1] += '+PTX'``: IndexError, no CUDA architecture to compile for without
# a visible GPU or TORCH_CUDA_ARCH_LIST). Not retried.
SCS_INSTALL_ATTEMPT = ('pip install spatial-correlation-sampler: 0.5.0 sdist, build failed '
                       '(IndexError in torch.utils.cpp_extension._get_cuda_arch_flags: no CUDA '
                       'architecture to target without a visible GPU); not retried')


def correlation_sampler_status() -> str:
    """Whether ``spatial_correlation_sampler`` imports here (and why not)."""
    try:
        module = importlib.import_module('spatial_correlation_sampler')
    except Exception as err:  # noqa: BLE001 - any import failure is the answer
        return f'not importable ({type(err).__name__}); {SCS_INSTALL_ATTEMPT}'
    return f'importable (version {getattr(module, "__version__", "?")}), not timed'


def make_inputs(batch: int, channels: int, height: int, width: int, labels: int,
                seed: int = 0, requires_grad: bool = False, device: str = 'cpu'):
    """query, key (B, C, H, W) with unit-variance dot products; value (B, L, H, W) in [0, 1];
    and an output gradient (B, L, H, W); fp32, on ``device``."""
    g = torch.Generator().manual_seed(seed)
    scale = channels ** -0.25
    query = (torch.randn(batch, channels, height, width, generator=g) * scale).to(device)
    key = (torch.randn(batch, channels, height, width, generator=g) * scale).to(device)
    value = torch.rand(batch, labels, height, width, generator=g).to(device)
    grad_out = torch.randn(batch, labels, height, width, generator=g).to(device)
    for t in (query, key, value):
        t.requires_grad_(requires_grad)
    return query, key, value, grad_out


def attention(impl: str):
    if impl == 'ours':
        return lambda q, k, v, r: restricted_attention(q, k, v, r, tile_size=TILE)
    if impl == 'unfold':
        return unfold_restricted_attention
    raise ValueError(f'impl must be one of {sorted(IMPLEMENTATIONS)}, got {impl!r}')


def make_case(impl: str, mode: str, batch: int, channels: int, height: int, width: int,
              radius: int, labels: int, seed: int = 0, precision: str = 'fp32',
              device: str = 'cpu'):
    """One call (``fwd``: under no_grad; ``fwd+bwd``: forward and backward) as a callable.

    The forward runs under ``precision``'s autocast (none in fp32), the
    backward outside it, as in training. Also the factory of the memory child.
    """
    if mode not in MODES:
        raise ValueError(f'mode must be one of {MODES}, got {mode!r}')
    if impl != 'ours' and precision != 'fp32':
        raise ValueError(f'the {impl} baseline runs in fp32 only, got {precision}')
    fn = attention(impl)
    autocast = resolve_precision(precision, device).autocast
    backward = mode == 'fwd+bwd'
    q, k, v, grad_out = make_inputs(batch, channels, height, width, labels, seed, backward,
                                    device)

    def run() -> None:
        if backward:
            with autocast():
                out = fn(q, k, v, radius)
            out.backward(grad_out)
            q.grad = k.grad = v.grad = None
        else:
            with torch.no_grad(), autocast():
                fn(q, k, v, radius)

    return run


def useful_flop(cfg: dict, mode: str) -> float:
    """The docstring's formula: B*H*W*(2R+1)^2*2*(C+L), x3 with the backward."""
    d = (2 * cfg['radius'] + 1) ** 2
    fwd = cfg['batch'] * cfg['height'] * cfg['width'] * d * 2 * (cfg['channels'] + cfg['labels'])
    return 3.0 * fwd if mode == 'fwd+bwd' else float(fwd)


def unfold_need_mib(cfg: dict) -> float:
    d = (2 * cfg['radius'] + 1) ** 2
    window = cfg['batch'] * d * cfg['height'] * cfg['width'] * (cfg['channels'] + cfg['labels'])
    return UNFOLD_COPIES * 4.0 * window / 2**20


def _output_and_grads(impl: str, cfg: dict, seed: int, precision: str, device: str):
    """Output and the gradients of query, key, value of one call (forward under autocast)."""
    args = (cfg['batch'], cfg['channels'], cfg['height'], cfg['width'], cfg['labels'])
    q, k, v, grad_out = make_inputs(*args, seed=seed, requires_grad=True, device=device)
    with resolve_precision(precision, device).autocast():
        out = attention(impl)(q, k, v, cfg['radius'])
    out.backward(grad_out)
    return out.detach(), [t.grad for t in (q, k, v)]


def _rel_err(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a.float() - b.float()).norm() / b.float().norm().clamp_min(1e-30))


def check_precisions(cfg: dict, precisions: list[str], seed: int = 0,
                     device: str = 'cpu') -> list[dict]:
    """Relative errors of ours under each low-precision autocast against ours in fp32."""
    ref_out, ref_grads = _output_and_grads('ours', cfg, seed, 'fp32', device)
    rows = []
    for name in precisions:
        if name == 'fp32':
            continue
        out, grads = _output_and_grads('ours', cfg, seed, name, device)
        out_err = _rel_err(out, ref_out)
        grad_err = max(_rel_err(a, b) for a, b in zip(grads, ref_grads))
        rows.append(dict(precision=name, out_rel_err=out_err, grad_rel_err=grad_err,
                         within='yes' if out_err <= LOW_FORWARD_RTOL and
                         grad_err <= LOW_GRAD_RTOL else 'NO'))
    return rows


def check_agreement(cfg: dict, seed: int = 0, device: str = 'cpu') -> dict:
    """Largest output and gradient differences between the two implementations (fp32)."""
    results = {}
    for impl in IMPLEMENTATIONS:  # one graph alive at a time (memory)
        results[impl] = _output_and_grads(impl, cfg, seed, 'fp32', device)
    (out_a, grads_a), (out_b, grads_b) = results['ours'], results['unfold']
    out_diff = float((out_a - out_b).abs().max())
    grad_diff = max(float((a - b).abs().max()) / max(1.0, float(b.abs().max()))
                    for a, b in zip(grads_a, grads_b))
    return dict(out_max_abs_diff=out_diff, grad_max_rel_diff=grad_diff,
                agree='yes' if out_diff <= ATOL and grad_diff <= GRAD_RTOL else 'NO')


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--configs', nargs='+', default=list(CONFIGS), choices=list(CONFIGS),
                        help='shapes to run (default: all)')
    add_precision_args(parser)
    parser.add_argument('--device', default='cpu', choices=('cpu', 'cuda'))
    parser.add_argument('--repeat', type=int, default=3, help='timed calls per case')
    parser.add_argument('--warmup', type=int, default=1, help='untimed calls first')
    parser.add_argument('--threads', type=int, default=None,
                        help='torch.set_num_threads (default: torch\'s, 1 with --smoke); on a '
                             'machine where other jobs use cores, use the idle cores only')
    parser.add_argument('--gemm-size', type=int, default=2048,
                        help='side of the torch.mm giving the reference rate of each dtype')
    parser.add_argument('--no-memory', action='store_true', help='skip the peak-memory runs')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--force', action='store_true',
                        help='run even if the unfold baseline may exceed the available memory')
    add_output_args(parser, NAME, 'small shapes, one timed call each, in seconds')
    args = parser.parse_args(argv)
    configs = {name: CONFIGS[name] for name in args.configs}
    if args.smoke:
        configs = SMOKE_CONFIGS
        args.repeat, args.warmup, args.gemm_size = 1, 0, 256
        args.threads = args.threads or 1
    precisions = parse_device_and_precisions(parser, args)
    names = list(precisions)
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.device == 'cuda':
        free = torch.cuda.mem_get_info(torch.device(args.device))[0] / 2**20
    else:
        free = available_memory_mib()
    baseline = 'fp32' in precisions  # the unfold baseline is the fp32 row's comparison
    for name, cfg in configs.items():
        need = unfold_need_mib(cfg)
        if baseline and free is not None and need > 0.8 * free and not args.force:
            parser.error(f'the unfold baseline needs about {need / 1024:.1f} GiB for {name}, '
                         f'{free / 1024:.1f} GiB are available: use --configs, or --force')
    machine = machine_info(args.device)
    print(machine_line(machine))
    print(describe_precisions(precisions))
    gemm_dtypes = list(dict.fromkeys(['fp32'] + names))
    gemm = gemm_rates(gemm_dtypes, args.gemm_size, args.device, repeat=args.repeat,
                      warmup=args.warmup, seed=args.seed)
    print(gemm_line(gemm, torch.get_num_threads()) + ' (also interleaved with every case)')
    scs = correlation_sampler_status()
    print(f'spatial-correlation-sampler: {scs}')
    print(f'median of {args.repeat} after {args.warmup} warm-up, interleaved with a '
          f'{args.gemm_size}x{args.gemm_size} torch.mm in {", ".join(gemm_dtypes)}\n')

    def shape_kwargs(cfg: dict) -> dict:
        return {k: cfg[k] for k in ('batch', 'channels', 'height', 'width', 'radius', 'labels')}

    # (impl, precision) pairs measured: ours in every precision, the baseline in fp32
    cases_of = [('ours', name) for name in names] + ([('unfold', 'fp32')] if baseline else [])
    memory: dict = {}
    if not args.no_memory:  # first, while this process is small; one child at a time
        for name, cfg in configs.items():
            for mode in cfg['modes'][:1] if args.smoke else cfg['modes']:  # smoke: one mode
                for impl, prec in cases_of:
                    memory[name, mode, impl, prec] = peak_memory_subprocess(
                        'benchmarks.bench_attention:make_case',
                        dict(impl=impl, mode=mode, seed=args.seed, precision=prec,
                             device=args.device, **shape_kwargs(cfg)), device=args.device)

    checks, precision_checks = [], []
    for name, cfg in configs.items():
        checks.append(dict(config=name, **check_agreement(cfg, args.seed, args.device)))
        precision_checks += [dict(config=name, **row) for row in
                             check_precisions(cfg, names, args.seed, args.device)]
    print_table(checks, [
        ('config', 'config'), ('out_max_abs_diff', 'output max abs diff', '.2e'),
        ('grad_max_rel_diff', 'grad max rel diff', '.2e'),
        ('agree', f'agree ({ATOL:g} / {GRAD_RTOL:g})')],
        title='ours vs unfold, fp32, same inputs: outputs and gradients of query, key, value')
    if precision_checks:
        print_table(precision_checks, [
            ('config', 'config'), ('precision', 'precision'),
            ('out_rel_err', 'output rel err', '.2e'), ('grad_rel_err', 'grad rel err', '.2e'),
            ('within', f'within ({LOW_FORWARD_RTOL:g} / {LOW_GRAD_RTOL:g})')],
            title='ours under autocast vs ours in fp32, same inputs: relative (Frobenius) '
                  'errors of the output and the largest of the gradients')

    gemm_flop = 2.0 * args.gemm_size ** 3
    gemms = {f'gemm_{d}': make_gemm(args.gemm_size, d, args.device, args.seed)
             for d in gemm_dtypes}
    rows = []
    for name, cfg in configs.items():
        for mode in cfg['modes']:
            cases = {f'{impl}_{prec}': make_case(impl, mode, seed=args.seed, precision=prec,
                                                 device=args.device, **shape_kwargs(cfg))
                     for impl, prec in cases_of}
            cases.update(gemms)
            t = time_fns(cases, repeat=args.repeat, warmup=args.warmup, device=args.device)
            del cases
            flop = useful_flop(cfg, mode)
            rate = {d: gemm_flop / t[f'gemm_{d}']['median_s'] / 1e9 for d in gemm_dtypes}
            unfold_s = t['unfold_fp32']['median_s'] if baseline else None
            unfold_mem = memory.get((name, mode, 'unfold', 'fp32'))
            unfold_mib = unfold_mem['peak_mib'] if unfold_mem else None
            for prec in names:
                ours_s = t[f'ours_{prec}']['median_s']
                mem = memory.get((name, mode, 'ours', prec))
                ours_mib = mem['peak_mib'] if mem else None
                fp32_row = prec == 'fp32'
                gflops = flop / ours_s / 1e9
                rows.append(dict(
                    config=name, mode=mode, precision=prec,
                    shape=(f"B{cfg['batch']} C{cfg['channels']} {cfg['height']}x{cfg['width']} "
                           f"R{cfg['radius']} L{cfg['labels']}"),
                    ours_ms=1e3 * ours_s,
                    vs_fp32=(t['ours_fp32']['median_s'] / ours_s if 'fp32' in precisions
                             else None),
                    unfold_ms=1e3 * unfold_s if fp32_row and unfold_s else None,
                    speedup=unfold_s / ours_s if fp32_row and unfold_s else None,
                    ours_mib=ours_mib, unfold_mib=unfold_mib if fp32_row else None,
                    memory_ratio=(unfold_mib / ours_mib if fp32_row and ours_mib and unfold_mib
                                  else None),
                    useful_gflop=flop / 1e9, ours_gflops=gflops,
                    unfold_gflops=flop / unfold_s / 1e9 if fp32_row and unfold_s else None,
                    gemm_gflops=rate[prec], ours_pct_gemm=100.0 * gflops / rate[prec],
                    gemm_fp32_gflops=rate['fp32'],
                    ours_pct_gemm_fp32=100.0 * gflops / rate['fp32'],
                    gemm_work_ratio=(TILE + 2 * cfg['radius']) ** 2 / (2 * cfg['radius'] + 1) ** 2,
                    memory=dict(ours=mem, unfold=unfold_mem if fp32_row else None),
                    timing={k: v for k, v in t.items()
                            if k in (f'ours_{prec}', f'gemm_{prec}', 'gemm_fp32') or
                            (fp32_row and k == 'unfold_fp32')}))
    memory_header = 'MiB (GPU)' if args.device == 'cuda' else 'MiB'
    print_table(rows, [
        ('config', 'config'), ('mode', 'mode'), ('precision', 'prec'),
        ('ours_ms', 'ours ms', '.1f'), ('vs_fp32', 'vs fp32', lambda v: f'{v:.2f}x'),
        ('unfold_ms', 'unfold ms', '.1f'), ('speedup', 'speed-up', lambda v: f'{v:.1f}x'),
        ('ours_mib', f'ours {memory_header}', '.1f'),
        ('unfold_mib', f'unfold {memory_header}', '.1f'),
        ('memory_ratio', 'mem ratio', lambda v: f'{v:.1f}x'),
        ('ours_gflops', 'ours GFLOP/s', '.2f'),
        ('gemm_gflops', 'GEMM GFLOP/s', '.1f'),
        ('ours_pct_gemm', '% GEMM', lambda v: f'{v:.1f}%'),
        ('gemm_fp32_gflops', 'fp32 GEMM', '.1f'),
        ('ours_pct_gemm_fp32', '% fp32 GEMM', lambda v: f'{v:.1f}%')],
        title='restricted attention: median time (vs fp32 = fp32 time / this time), peak '
              'memory increment of one call, useful GFLOP/s against the GEMM of the same dtype '
              'and of fp32 (interleaved); unfold: fp32 baseline')
    for name, cfg in configs.items():
        print(f"{name}: B{cfg['batch']} C{cfg['channels']} {cfg['height']}x{cfg['width']} "
              f"R{cfg['radius']} L{cfg['labels']}, useful FLOP per forward "
              f"{useful_flop(cfg, 'fwd') / 1e9:.3f} G")
    target = None
    bf16_rows = [r for r in rows if r['precision'] == 'bf16']
    if bf16_rows:
        worst = min(r['ours_pct_gemm'] for r in bf16_rows)
        target = dict(what=f'bf16 attention at >= {TARGET_PCT_BF16_GEMM:g} % of the bf16 GEMM '
                           'rate (on a CPU with bf16 matrix units)',
                      lowest_pct=worst, met=worst >= TARGET_PCT_BF16_GEMM,
                      checkable=not machine['bf16'].startswith('emulated'))
        status = 'met' if target['met'] else 'not met'
        if not target['checkable']:
            status = (f'nominally {status}; NOT checkable here: bf16 is emulated on this CPU, '
                      'the % is of its slow emulated bf16 GEMM, not of a bf16 matrix unit')
        print(f"target: {target['what']}: lowest {worst:.1f} % ({status})")

    ok = (all(c['agree'] == 'yes' for c in checks) and
          all(c['within'] == 'yes' for c in precision_checks))
    path = results_path(NAME, args.out, args.smoke)
    if path:
        settings = dict(configs=configs, tile_size=TILE, repeat=args.repeat, warmup=args.warmup,
                        seed=args.seed, gemm_size=args.gemm_size, atol=ATOL,
                        grad_rtol=GRAD_RTOL, device=args.device, precisions=names,
                        precision_reasons={k: v.describe() for k, v in precisions.items()},
                        low_forward_rtol=LOW_FORWARD_RTOL, low_grad_rtol=LOW_GRAD_RTOL)
        write_results(NAME, rows, machine=machine, extra=dict(
            settings=settings, gemm=gemm, agreement=checks, precision_check=precision_checks,
            implementations_agree=ok, target=target,
            spatial_correlation_sampler=scs,
            flop_formula='useful_flop_fwd = B*H*W*(2R+1)^2*2*(C+L); fwd+bwd = 3x that; '
                         'GEMM = 2*n^3 per torch.mm(n x n, n x n) in the dtype named',
            memory_method='peak of one call in a fresh process: RSS high-water mark minus RSS '
                          'before it (inputs already allocated); CUDA: max allocated minus '
                          'allocated before'), path=path)
        print(f'wrote {path}')
    if not ok:
        print('the implementations or precisions disagree beyond their bounds', file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
