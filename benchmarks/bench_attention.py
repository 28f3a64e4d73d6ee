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

Per shape and mode the implementations and an fp32 GEMM (``torch.mm`` of two
2048x2048 matrices, the machine's reference rate at the same thread count)
are timed in interleaved rounds (median of ``--repeat`` after ``--warmup``),
so a background load slows them alike; peak memory of one call is measured in
a fresh process each (``benchmarks.common.peak_memory_subprocess``: RSS
high-water mark minus the RSS before the call, inputs excluded).

Useful work (the arithmetic any implementation must do), per query cell:
``D = (2R+1)^2`` dot products of length C and a D-term weighted sum of L
values, i.e. ``2*D*(C+L)`` FLOP; so

    useful_flop_fwd     = B * H * W * (2R+1)^2 * 2 * (C + L)
    useful_flop_fwd_bwd = 3 * useful_flop_fwd   (backward ~ 2x forward)

and useful GFLOP/s = useful FLOP / median time; ``% GEMM`` = that / the GEMM
GFLOP/s (2 * 2048^3 FLOP per ``torch.mm``). ``ours`` multiplies each tile by
its whole (S+2R)^2 key region: ``(S+2R)^2 / (2R+1)^2`` = 400/169 = 2.37x the
useful products at S=8, R=6 (``gemm_work_ratio`` in the JSON), which bounds
its share of the GEMM rate together with the softmax/gather passes.

Before timing, the outputs (and, for forward + backward, the gradients of
query, key and value) of the two implementations are compared; the largest
absolute difference is printed and must be below ``ATOL`` (outputs) /
``GRAD_RTOL`` relative to the largest gradient, else the exit code is 1.

``spatial-correlation-sampler`` (the CUDA/C++ correlation extension used by
some reference codebases) is reported when importable; on this machine its
installation failed (``SCS_INSTALL_ATTEMPT``), so it is not timed.

Usage::

    python benchmarks/bench_attention.py [--configs train test] [--repeat 3] [--warmup 1]
        [--threads N] [--gemm-size 2048] [--no-memory] [--force] [--smoke] [--out FILE]
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
from benchmarks.common import (add_output_args, available_memory_mib,  # noqa: E402
                               machine_info, machine_line, peak_memory_subprocess,
                               print_table, results_path, time_fns, write_results)
from corrflow.models.layers.local_attention import restricted_attention  # noqa: E402

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
                seed: int = 0, requires_grad: bool = False):
    """query, key (B, C, H, W) with unit-variance dot products; value (B, L, H, W) in [0, 1];
    and an output gradient (B, L, H, W)."""
    g = torch.Generator().manual_seed(seed)
    scale = channels ** -0.25
    query = torch.randn(batch, channels, height, width, generator=g) * scale
    key = torch.randn(batch, channels, height, width, generator=g) * scale
    value = torch.rand(batch, labels, height, width, generator=g)
    grad_out = torch.randn(batch, labels, height, width, generator=g)
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
              radius: int, labels: int, seed: int = 0):
    """One call (``fwd``: under no_grad; ``fwd+bwd``: forward and backward) as a callable.

    Also the factory of the memory child.
    """
    if mode not in MODES:
        raise ValueError(f'mode must be one of {MODES}, got {mode!r}')
    fn = attention(impl)
    backward = mode == 'fwd+bwd'
    q, k, v, grad_out = make_inputs(batch, channels, height, width, labels, seed, backward)

    def run() -> None:
        if backward:
            fn(q, k, v, radius).backward(grad_out)
            q.grad = k.grad = v.grad = None
        else:
            with torch.no_grad():
                fn(q, k, v, radius)

    return run


def make_gemm(size: int, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    a = torch.randn(size, size, generator=g)
    b = torch.randn(size, size, generator=g)
    out = torch.empty(size, size)
    return lambda: torch.mm(a, b, out=out)


def useful_flop(cfg: dict, mode: str) -> float:
    """The docstring's formula: B*H*W*(2R+1)^2*2*(C+L), x3 with the backward."""
    d = (2 * cfg['radius'] + 1) ** 2
    fwd = cfg['batch'] * cfg['height'] * cfg['width'] * d * 2 * (cfg['channels'] + cfg['labels'])
    return 3.0 * fwd if mode == 'fwd+bwd' else float(fwd)


def unfold_need_mib(cfg: dict) -> float:
    d = (2 * cfg['radius'] + 1) ** 2
    window = cfg['batch'] * d * cfg['height'] * cfg['width'] * (cfg['channels'] + cfg['labels'])
    return UNFOLD_COPIES * 4.0 * window / 2**20


def check_agreement(cfg: dict, seed: int = 0) -> dict:
    """Largest output and gradient differences between the two implementations."""
    args = (cfg['batch'], cfg['channels'], cfg['height'], cfg['width'], cfg['labels'])
    results = {}
    for impl in IMPLEMENTATIONS:  # one graph alive at a time (memory)
        q, k, v, grad_out = make_inputs(*args, seed=seed, requires_grad=True)
        out = attention(impl)(q, k, v, cfg['radius'])
        out.backward(grad_out)
        results[impl] = (out.detach(), [t.grad for t in (q, k, v)])
        del out, q, k, v
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
    parser.add_argument('--repeat', type=int, default=3, help='timed calls per case')
    parser.add_argument('--warmup', type=int, default=1, help='untimed calls first')
    parser.add_argument('--threads', type=int, default=None,
                        help='torch.set_num_threads (default: torch\'s, 1 with --smoke); on a '
                             'machine where other jobs use cores, use the idle cores only')
    parser.add_argument('--gemm-size', type=int, default=2048,
                        help='side of the fp32 torch.mm giving the reference rate')
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
    if args.threads:
        torch.set_num_threads(args.threads)
    free = available_memory_mib()
    for name, cfg in configs.items():
        need = unfold_need_mib(cfg)
        if free is not None and need > 0.8 * free and not args.force:
            parser.error(f'the unfold baseline needs about {need / 1024:.1f} GiB for {name}, '
                         f'{free / 1024:.1f} GiB are available: use --configs, or --force')
    machine = machine_info('cpu')
    print(machine_line(machine))
    scs = correlation_sampler_status()
    print(f'spatial-correlation-sampler: {scs}')
    print(f'median of {args.repeat} after {args.warmup} warm-up, interleaved with an fp32 '
          f'{args.gemm_size}x{args.gemm_size} torch.mm\n')

    def shape_kwargs(cfg: dict) -> dict:
        return {k: cfg[k] for k in ('batch', 'channels', 'height', 'width', 'radius', 'labels')}

    memory: dict = {}
    if not args.no_memory:  # first, while this process is small; one child at a time
        for name, cfg in configs.items():
            for mode in cfg['modes'][:1] if args.smoke else cfg['modes']:  # smoke: 2 children
                for impl in IMPLEMENTATIONS:
                    memory[name, mode, impl] = peak_memory_subprocess(
                        'benchmarks.bench_attention:make_case',
                        dict(impl=impl, mode=mode, seed=args.seed, **shape_kwargs(cfg)))

    checks = []
    for name, cfg in configs.items():
        checks.append(dict(config=name, **check_agreement(cfg, args.seed)))
    print_table(checks, [
        ('config', 'config'), ('out_max_abs_diff', 'output max abs diff', '.2e'),
        ('grad_max_rel_diff', 'grad max rel diff', '.2e'),
        ('agree', f'agree ({ATOL:g} / {GRAD_RTOL:g})')],
        title='ours vs unfold, same inputs: outputs and gradients of query, key, value')

    gemm = make_gemm(args.gemm_size, args.seed)
    gemm_flop = 2.0 * args.gemm_size ** 3
    rows = []
    for name, cfg in configs.items():
        for mode in cfg['modes']:
            cases = {impl: make_case(impl, mode, seed=args.seed, **shape_kwargs(cfg))
                     for impl in IMPLEMENTATIONS}
            cases['gemm'] = gemm
            t = time_fns(cases, repeat=args.repeat, warmup=args.warmup)
            del cases
            flop = useful_flop(cfg, mode)
            gemm_rate = gemm_flop / t['gemm']['median_s'] / 1e9
            ours_s, unfold_s = t['ours']['median_s'], t['unfold']['median_s']
            mem = {impl: memory.get((name, mode, impl)) for impl in IMPLEMENTATIONS}
            ours_mib = mem['ours']['peak_mib'] if mem['ours'] else None
            unfold_mib = mem['unfold']['peak_mib'] if mem['unfold'] else None
            rows.append(dict(
                config=name, mode=mode,
                shape=(f"B{cfg['batch']} C{cfg['channels']} {cfg['height']}x{cfg['width']} "
                       f"R{cfg['radius']} L{cfg['labels']}"),
                ours_ms=1e3 * ours_s, unfold_ms=1e3 * unfold_s, speedup=unfold_s / ours_s,
                ours_mib=ours_mib, unfold_mib=unfold_mib,
                memory_ratio=(unfold_mib / ours_mib if ours_mib and unfold_mib else None),
                useful_gflop=flop / 1e9, ours_gflops=flop / ours_s / 1e9,
                unfold_gflops=flop / unfold_s / 1e9, gemm_gflops=gemm_rate,
                ours_pct_gemm=100.0 * flop / ours_s / 1e9 / gemm_rate,
                gemm_work_ratio=(TILE + 2 * cfg['radius']) ** 2 / (2 * cfg['radius'] + 1) ** 2,
                memory=mem, timing=t))
    print_table(rows, [
        ('config', 'config'), ('mode', 'mode'), ('ours_ms', 'ours ms', '.1f'),
        ('unfold_ms', 'unfold ms', '.1f'), ('speedup', 'speed-up', lambda v: f'{v:.1f}x'),
        ('ours_mib', 'ours MiB', '.1f'), ('unfold_mib', 'unfold MiB', '.1f'),
        ('memory_ratio', 'mem ratio', lambda v: f'{v:.1f}x'),
        ('ours_gflops', 'ours GFLOP/s', '.2f'), ('unfold_gflops', 'unfold GFLOP/s', '.2f'),
        ('gemm_gflops', 'GEMM GFLOP/s', '.1f'),
        ('ours_pct_gemm', 'ours % GEMM', lambda v: f'{v:.1f}%')],
        title='restricted attention: median time, peak RSS increment of one call, useful '
              'GFLOP/s')
    for name, cfg in configs.items():
        print(f"{name}: B{cfg['batch']} C{cfg['channels']} {cfg['height']}x{cfg['width']} "
              f"R{cfg['radius']} L{cfg['labels']}, useful FLOP per forward "
              f"{useful_flop(cfg, 'fwd') / 1e9:.3f} G")

    ok = all(c['agree'] == 'yes' for c in checks)
    path = results_path(NAME, args.out, args.smoke)
    if path:
        settings = dict(configs=configs, tile_size=TILE, repeat=args.repeat, warmup=args.warmup,
                        seed=args.seed, gemm_size=args.gemm_size, atol=ATOL,
                        grad_rtol=GRAD_RTOL)
        write_results(NAME, rows, machine=machine, extra=dict(
            settings=settings, agreement=checks, implementations_agree=ok,
            spatial_correlation_sampler=scs,
            flop_formula='useful_flop_fwd = B*H*W*(2R+1)^2*2*(C+L); fwd+bwd = 3x that; '
                         'GEMM = 2*n^3 per torch.mm(n x n, n x n), fp32',
            memory_method='peak of one call in a fresh process: RSS high-water mark minus RSS '
                          'before it (inputs already allocated)'), path=path)
        print(f'wrote {path}')
    if not ok:
        print('the two implementations disagree', file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
