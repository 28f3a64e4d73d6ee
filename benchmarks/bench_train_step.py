"""Benchmark: CorrFlow training iterations/s, fp32 vs bf16, frames embedded once vs per call.

Two arrangements of the same loss, on the same model (``configs/_base_/models/
corrflow_r18.py``, identical initial weights), the same inputs and the same
optimiser (Adam 2e-4, betas (0.9, 0.999), ``configs/_base_/schedules``):

* ``ours``: ``RecursiveFlow.loss``, each of the 3 frames embedded once
  (3 backbone passes per iteration);
* ``reference``: ``tests.references.recompute_per_call_loss``, the
  original release's arrangement that recomputes both embeddings inside every
  attend call (16 backbone passes per iteration).

One timed iteration = information bottleneck (colour dropout/jitter, applied
to the input in both) + loss + backward + Adam step; the scheduled-sampling
draw is fixed (the prediction is fed back) so both do exactly the same work.

Precision (``--precisions``, default fp32 bf16; fp16 too on ``--device
cuda``): ``ours`` runs once per precision, through the optimiser wrapper the
trainer uses for it (``corrflow.utils.precision.apply_precision``): fp32
``OptimWrapper``; on a CPU bf16 ``CPUAutocastOptimWrapper``; on CUDA
``AmpOptimWrapper`` (bf16, or fp16 with a dynamic loss scaler). The forward
and the loss run in its ``optim_context`` (autocast), the backward and the
Adam step outside, as ``BaseModel.train_step`` does; the model runs its
backbone channels-last itself (``RecursiveFlow.embed``). The ``reference``
arrangement is the fp32 baseline (the original release had no mixed
precision); ``--no-reference`` leaves it out (it needs 4x the memory of ours).
Target on a CPU with bf16 matrix units (AMX): bf16 ``TARGET_BF16_SPEEDUP``
(4x) faster than fp32; where bf16 is emulated (see the machine line) it cannot
be checked. The GEMM rate of every precision is measured first, in the same
run (``benchmarks.common.gemm_rates``).

All cases are timed in interleaved rounds (median of ``--repeat`` after
``--warmup``), so a background load slows them alike; peak memory of one
iteration is measured in a fresh process each (``benchmarks.common``).

Before timing, the loss values of the two arrangements are compared on the
same weights and inputs with the bottleneck disabled, for both
scheduled-sampling draws (ground truth / own prediction fed to the second
step); they must agree to 1e-5 relative, else the exit code is 1. The
gradients of the prediction-fed draw are compared too (reported). The loss
values of ours under each low-precision autocast are compared with ours in fp32
the same way (prediction-fed draw, no gradients): within ``LOW_LOSS_RTOL``
(5 %, the bound of ``tests/engine/test_amp_training.py``), else exit code 1.

Memory: the reference keeps 16 backbone graphs for the backward, about
0.039 MiB per clip and input pixel on CPU (ours 0.0094): ~15 GiB at 256x256
batch 6, ~3.7 GiB at 128x128 batch 6. A run that would need more than 80 % of
the available memory stops unless ``--force``.

Usage::

    python benchmarks/bench_train_step.py [--size 256] [--batch 6] [--device cpu|cuda]
        [--precisions fp32 bf16] [--no-reference] [--repeat 3] [--warmup 1] [--threads N]
        [--gemm-size 2048] [--no-memory] [--force] [--smoke] [--out FILE]
"""
from __future__ import annotations

import argparse
import copy
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(REPO_ROOT))

import torch  # noqa: E402
from mmengine.config import Config  # noqa: E402
from mmengine.registry import init_default_scope  # noqa: E402

from benchmarks.common import (add_output_args, add_precision_args,  # noqa: E402
                               available_memory_mib, describe_precisions, gemm_line,
                               gemm_rates, machine_info, machine_line, peak_memory_subprocess,
                               parse_device_and_precisions, print_table, results_path, time_fns,
                               write_results)
from corrflow.utils.precision import Precision, resolve_precision  # noqa: E402
from tests.references import recompute_per_call_loss  # noqa: E402

NAME = 'train_step'
MODEL_CONFIG = REPO_ROOT / 'configs' / '_base_' / 'models' / 'corrflow_r18.py'
SCHEDULE_CONFIG = REPO_ROOT / 'configs' / '_base_' / 'schedules' / 'adam_iters.py'
ARRANGEMENTS = {'ours': ('embed once per frame (RecursiveFlow.loss)', 3),
                'reference': ('recompute per attend call (original release)', 16)}
LOSS_RTOL = 1e-5
LOW_LOSS_RTOL = 0.05  # bf16 / fp16 losses against fp32's (tests/engine/test_amp_training.py)
TARGET_BF16_SPEEDUP = 4.0  # on a CPU with bf16 matrix units (AMX)
# Peak CPU memory of one iteration per clip and input pixel (MiB), measured at 128x128
# batch 6 (924 and 3,802 MiB): the reference keeps 16 backbone graphs for the backward.
MIB_PER_CLIP_PIXEL = {'ours': 0.0094, 'reference': 0.0387}
NUM_FRAMES = 3  # the reference arrangement is written for 3-frame clips


def build_model(seed: int = 0, device: str = 'cpu'):
    """The CorrFlow model of the base config, initialised from ``seed``, in train mode."""
    init_default_scope('corrflow')
    from corrflow.registry import MODELS
    torch.manual_seed(seed)
    model = MODELS.build(Config.fromfile(str(MODEL_CONFIG)).model)
    return model.to(device).train()


def make_inputs(batch: int, size: int, seed: int = 0, device: str = 'cpu'):
    """Random clips (B, 3, 3, size, size) in [0, 1] and random 16-class colour targets."""
    g = torch.Generator().manual_seed(seed)
    frames = torch.rand(batch, NUM_FRAMES, 3, size, size, generator=g)
    labels = torch.randint(0, 16, (batch, NUM_FRAMES, size, size), generator=g, dtype=torch.uint8)
    return frames.to(device), [dict(colour_labels=labels[b].to(device)) for b in range(batch)]


def fix_draw(model, use_truth: bool) -> None:
    """Make the scheduled-sampling draw deterministic (always truth / always prediction)."""
    model.sampling_start = model.sampling_end = 1.0 if use_truth else 0.0


def compute_loss(arrangement: str, model, frames, samples, use_truth: bool) -> dict:
    """The loss terms of one arrangement; the model's bottleneck (if any) is applied."""
    if arrangement == 'ours':
        fix_draw(model, use_truth)
        return model.loss(frames, samples)
    net_in = model.bottleneck(frames) if model.bottleneck is not None else frames
    return recompute_per_call_loss(model, net_in, samples, use_truth=use_truth)


def build_optim_wrapper(model, precision: Precision):
    """Adam of the schedule config in the optimiser wrapper the trainer uses for ``precision``.

    The same choice as :func:`corrflow.utils.precision.apply_precision`, for
    the benchmark's device rather than the default one.
    """
    from mmengine.optim import AmpOptimWrapper, OptimWrapper

    from corrflow.engine import CPUAutocastOptimWrapper

    opt_cfg = dict(Config.fromfile(str(SCHEDULE_CONFIG)).optim_wrapper.optimizer)
    assert opt_cfg.pop('type') == 'Adam'
    optimizer = torch.optim.Adam(model.parameters(), **opt_cfg)
    if not precision.enabled:
        return OptimWrapper(optimizer=optimizer)
    if precision.device_type == 'cuda':
        dtype = 'bfloat16' if precision.dtype == torch.bfloat16 else 'float16'
        return AmpOptimWrapper(dtype=dtype, loss_scale='dynamic', optimizer=optimizer)
    return CPUAutocastOptimWrapper(dtype='bfloat16', optimizer=optimizer)


def make_case(arrangement: str, size: int, batch: int, device: str = 'cpu', seed: int = 0,
              precision: str = 'fp32'):
    """One training iteration as a callable (also the factory of the memory child).

    As ``BaseModel.train_step``: the loss under the wrapper's ``optim_context``
    (``precision``'s autocast), then ``update_params`` (backward, Adam step,
    zero_grad).
    """
    if arrangement not in ARRANGEMENTS:
        raise ValueError(f'arrangement must be one of {sorted(ARRANGEMENTS)}')
    model = build_model(seed, device)
    frames, samples = make_inputs(batch, size, seed, device)
    wrapper = build_optim_wrapper(model, resolve_precision(precision, device))

    def step() -> float:
        with wrapper.optim_context(model):
            losses = compute_loss(arrangement, model, frames, samples, use_truth=False)
        total = losses['loss_short'] + losses['loss_cycle']
        wrapper.update_params(total)
        return float(total.detach())

    return step


def check_losses(size: int, batch: int, device: str, seed: int = 0) -> list[dict]:
    """Loss values of both arrangements on the same weights and inputs, bottleneck off.

    Both scheduled-sampling draws are checked; for the prediction-fed draw the
    gradients are compared as well (largest difference relative to
    ``max(1, max |grad|)`` of each parameter).
    """
    model = build_model(seed, device)
    model.bottleneck = None
    frames, samples = make_inputs(batch, size, seed, device)
    rows = []
    for use_truth in (True, False):
        with_grad = not use_truth
        values, grads = {}, {}
        for arrangement in ARRANGEMENTS:  # one graph alive at a time (memory)
            copy_ = copy.deepcopy(model)
            with torch.set_grad_enabled(with_grad):
                out = compute_loss(arrangement, copy_, frames, samples, use_truth)
                values[arrangement] = {k: float(out[k].detach())
                                       for k in ('loss_short', 'loss_cycle')}
                if with_grad:
                    (out['loss_short'] + out['loss_cycle']).backward()
                    grads[arrangement] = [p.grad for p in copy_.parameters()]
            del out, copy_
        row = dict(draw='truth fed' if use_truth else 'prediction fed')
        worst = 0.0
        for key in ('loss_short', 'loss_cycle'):
            a, b = values['ours'][key], values['reference'][key]
            row[f'{key}_ours'], row[f'{key}_reference'] = a, b
            worst = max(worst, abs(a - b) / max(abs(b), 1e-12))
        row['max_rel_diff'] = worst
        row['grad_max_rel_diff'] = max(
            float((a - b).abs().max()) / max(1.0, float(b.abs().max()))
            for a, b in zip(grads['ours'], grads['reference'])) if with_grad else None
        row['agree'] = 'yes' if worst <= LOSS_RTOL else 'NO'
        rows.append(row)
    return rows


def check_precision_losses(size: int, batch: int, device: str, precisions: list[str],
                           seed: int = 0) -> list[dict]:
    """Loss values of ours under each low-precision autocast vs fp32: same weights and inputs,
    bottleneck off, prediction-fed draw, no gradients."""
    model = build_model(seed, device)
    model.bottleneck = None
    frames, samples = make_inputs(batch, size, seed, device)
    values = {}
    for name in ['fp32'] + [p for p in precisions if p != 'fp32']:
        with torch.no_grad(), resolve_precision(name, device).autocast():
            out = compute_loss('ours', model, frames, samples, use_truth=False)
        values[name] = {k: float(out[k]) for k in ('loss_short', 'loss_cycle')}
    rows = []
    for name, losses in values.items():
        if name == 'fp32':
            continue
        ref = values['fp32']
        worst = max(abs(losses[k] - ref[k]) / max(abs(ref[k]), 1e-12) for k in ref)
        rows.append(dict(precision=name, loss_short=losses['loss_short'],
                         loss_short_fp32=ref['loss_short'], loss_cycle=losses['loss_cycle'],
                         loss_cycle_fp32=ref['loss_cycle'], max_rel_diff=worst,
                         within='yes' if worst <= LOW_LOSS_RTOL else 'NO'))
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--size', type=int, default=256, help='frame side (default 256)')
    parser.add_argument('--batch', type=int, default=6, help='clips per iteration (default 6)')
    parser.add_argument('--device', default='cpu', choices=('cpu', 'cuda'))
    add_precision_args(parser)
    parser.add_argument('--no-reference', action='store_true',
                        help='leave out the reference arrangement (fp32 baseline, 4x the memory)')
    parser.add_argument('--gemm-size', type=int, default=2048,
                        help='side of the torch.mm giving the reference rate of each dtype')
    parser.add_argument('--repeat', type=int, default=3, help='timed iterations per arrangement')
    parser.add_argument('--warmup', type=int, default=1, help='untimed iterations first')
    parser.add_argument('--threads', type=int, default=None,
                        help='torch.set_num_threads (default: torch\'s, 1 with --smoke); on a '
                             'machine where other jobs use cores, use the idle cores only')
    parser.add_argument('--no-memory', action='store_true', help='skip the peak-memory runs')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--force', action='store_true',
                        help='run even if the estimated memory exceeds what is available')
    add_output_args(parser, NAME, 'a 48x48, batch-2 version that takes seconds')
    args = parser.parse_args(argv)
    if args.smoke:
        args.size, args.batch, args.repeat, args.warmup, args.gemm_size = 48, 2, 1, 0, 256
        args.threads = args.threads or 1
    precisions = parse_device_and_precisions(parser, args)
    names = list(precisions)
    # (arrangement, precision) cases: ours in every precision, the reference in fp32
    with_reference = not args.no_reference and 'fp32' in precisions
    cases_of = [('ours', name) for name in names] + ([('reference', 'fp32')]
                                                      if with_reference else [])
    if args.threads:
        torch.set_num_threads(args.threads)
    largest = 'reference' if with_reference else 'ours'
    need = MIB_PER_CLIP_PIXEL[largest] * args.batch * args.size ** 2
    free = available_memory_mib()
    if args.device == 'cpu' and free is not None and need > 0.8 * free and not args.force:
        parser.error(f'the {largest} arrangement needs about {need / 1024:.1f} GiB at '
                     f'{args.size}x{args.size} batch {args.batch}, {free / 1024:.1f} GiB are '
                     'available: use a smaller --size/--batch, --no-reference, or --force')
    machine = machine_info(args.device)
    print(machine_line(machine))
    print(describe_precisions(precisions))
    gemm = gemm_rates(list(dict.fromkeys(['fp32'] + names)), args.gemm_size, args.device,
                      repeat=max(args.repeat, 3), warmup=1, seed=args.seed)
    print(gemm_line(gemm, torch.get_num_threads()))
    print(f'clips of {NUM_FRAMES} frames {args.size}x{args.size}, batch {args.batch}, '
          f'device {args.device}; median of {args.repeat} after {args.warmup} warm-up, '
          'all cases interleaved\n')

    def case_kwargs(arrangement: str, precision: str) -> dict:
        return dict(arrangement=arrangement, size=args.size, batch=args.batch,
                    device=args.device, seed=args.seed, precision=precision)

    memory = {}
    if not args.no_memory:  # first, while this process is small; one child at a time
        for arrangement, prec in cases_of:
            memory[arrangement, prec] = peak_memory_subprocess(
                'benchmarks.bench_train_step:make_case', case_kwargs(arrangement, prec),
                device=args.device)
    checks = []
    if with_reference:
        checks = check_losses(args.size, args.batch, args.device, args.seed)
        print_table(checks, [
            ('draw', 'scheduled-sampling draw'), ('loss_short_ours', 'short ours', '.6f'),
            ('loss_short_reference', 'short ref', '.6f'),
            ('loss_cycle_ours', 'cycle ours', '.6f'),
            ('loss_cycle_reference', 'cycle ref', '.6f'),
            ('max_rel_diff', 'max rel diff', '.1e'),
            ('grad_max_rel_diff', 'grad rel diff', '.1e'), ('agree', 'agree (1e-5)')],
            title='loss values (fp32), ours vs reference, same weights and inputs, bottleneck off')
    precision_checks = check_precision_losses(args.size, args.batch, args.device, names,
                                              args.seed)
    if precision_checks:
        print_table(precision_checks, [
            ('precision', 'precision'), ('loss_short', 'short', '.6f'),
            ('loss_short_fp32', 'short fp32', '.6f'), ('loss_cycle', 'cycle', '.6f'),
            ('loss_cycle_fp32', 'cycle fp32', '.6f'), ('max_rel_diff', 'max rel diff', '.1e'),
            ('within', f'within ({LOW_LOSS_RTOL:g})')],
            title='loss values of ours under autocast vs fp32, same weights and inputs, '
                  'bottleneck off, prediction fed')

    steps = {f'{a}_{p}': make_case(**case_kwargs(a, p)) for a, p in cases_of}
    timings = time_fns(steps, repeat=args.repeat, warmup=args.warmup, device=args.device)
    rows = []
    for arrangement, prec in cases_of:
        what, passes = ARRANGEMENTS[arrangement]
        t = timings[f'{arrangement}_{prec}']
        mem = memory.get((arrangement, prec))
        rows.append(dict(
            arrangement=arrangement, precision=prec, what=what, backbone_passes=passes,
            s_per_iter=t['median_s'], iter_per_s=1.0 / t['median_s'],
            clips_per_s=args.batch / t['median_s'],
            vs_fp32=(timings['ours_fp32']['median_s'] / t['median_s']
                     if arrangement == 'ours' and 'fp32' in precisions else None),
            speedup=(timings['reference_fp32']['median_s'] / t['median_s']
                     if with_reference else None),
            peak_mib=mem['peak_mib'] if mem else None, memory=mem, timing=t))
    memory_header = 'peak GPU MiB' if args.device == 'cuda' else 'peak RSS MiB'
    print_table(rows, [
        ('arrangement', 'arrangement'), ('precision', 'prec'),
        ('backbone_passes', 'backbone passes'),
        ('s_per_iter', 's/iter', '.3f'), ('iter_per_s', 'iter/s', '.3f'),
        ('clips_per_s', 'clips/s', '.2f'), ('vs_fp32', 'vs fp32', lambda v: f'{v:.2f}x'),
        ('speedup', 'vs reference', lambda v: f'{v:.2f}x'),
        ('peak_mib', memory_header, '.0f')],
        title='training iteration: bottleneck + loss + backward + Adam step (vs fp32 = ours '
              'fp32 time / this time; vs reference = reference fp32 time / this time)')
    target = None
    bf16 = next((r for r in rows if r['arrangement'] == 'ours' and r['precision'] == 'bf16'),
                None)
    if bf16 is not None and bf16['vs_fp32'] is not None:
        target = dict(what=f'bf16 training iteration >= {TARGET_BF16_SPEEDUP:g}x faster than '
                           'fp32 (on a CPU with bf16 matrix units)',
                      speedup=bf16['vs_fp32'], met=bf16['vs_fp32'] >= TARGET_BF16_SPEEDUP,
                      checkable=not machine['bf16'].startswith('emulated'))
        note = '' if target['checkable'] else (
            '; NOT checkable here: bf16 is emulated on this CPU (no bf16 matrix units)')
        print(f"target: {target['what']}: {bf16['vs_fp32']:.2f}x "
              f"({'met' if target['met'] else 'not met'}){note}")

    ok = (all(r['agree'] == 'yes' for r in checks) and
          all(r['within'] == 'yes' for r in precision_checks))
    path = results_path(NAME, args.out, args.smoke)
    if path:
        settings = dict(size=args.size, batch=args.batch, frames=NUM_FRAMES, device=args.device,
                        precisions=names,
                        precision_reasons={k: v.describe() for k, v in precisions.items()},
                        reference=with_reference, repeat=args.repeat, warmup=args.warmup,
                        seed=args.seed, gemm_size=args.gemm_size,
                        model_config=str(MODEL_CONFIG.relative_to(REPO_ROOT)),
                        loss_rtol=LOSS_RTOL, low_loss_rtol=LOW_LOSS_RTOL)
        write_results(NAME, rows, machine=machine,
                      extra=dict(settings=settings, gemm=gemm, loss_check=checks,
                                 precision_loss_check=precision_checks, losses_agree=ok,
                                 target=target,
                                 memory_method='peak of one iteration in a fresh process: '
                                 'RSS high-water mark minus RSS before it (CPU), '
                                 'torch.cuda.max_memory_allocated minus allocated (CUDA)'),
                      path=path)
        print(f'wrote {path}')
    if not ok:
        print('the loss values differ beyond their bounds (arrangements or precisions)',
              file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
