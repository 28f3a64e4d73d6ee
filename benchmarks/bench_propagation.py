"""Benchmark: label propagation per frame (s, fps) and peak memory, protocols A and B.

Three parts, all on CPU:

1. ``pipeline``: the full ``LabelPropagator`` (backbone + neck + protocol +
   read-out at every pixel) built from ``configs/test/corrflow_davis.py``
   (protocol A) and ``configs/test/corrflow_davis_topk.py`` (protocol B),
   initial weights (speed and memory do not depend on them), on real DAVIS
   frames (``davis2016-val-subset/JPEGImages/480p/blackswan`` under the shared
   data: env ``CORRFLOW_SHARED_DATA``, default ``<repo>/../shared/data``;
   random frames when absent) with its first mask (1 object: L = 2). Widths
   854 (native 480p) and 1152 (a wide video: the 854-px frames edge-padded on
   the right, the mask padded with background). Frame ``t``'s time runs from
   the end of frame ``t-1``'s read-out to the end of its own (embedding,
   propagation, read-out); frame 1 also embeds frame 0, so s/frame is the
   median (A) or mean (B) of frames 2.. . Protocol B's cost grows with its
   context (frame 0 + up to 20 preceding: 21 maps from frame 21 on); the
   pipeline run covers ``--frames-b`` frames only.
2. ``B per frame at context T``: one frame of protocol B exactly as the
   pipeline runs it (embed the frame, top-k attention over T context maps,
   min-max, read-out), with T context maps already held (frame 0's real
   features and seed, then random L2-normalised features and soft maps: the
   work does not depend on their values), for T in ``--contexts`` (the last,
   21, is the steady state of a long video). The last T is measured when the
   peak memory predicted from the smaller T (linear in T) fits in
   ``MEMORY_SHARE`` (40 %) of the available memory; otherwise its time and
   memory are extrapolated linearly from the smaller T and marked so.
3. ``dense vs ours``: the same propagation math on random feature maps (no
   backbone), ours (``restricted_attention`` / ``topk_restricted_attention``)
   against the full-matrix form of the reference codebases
   (``benchmarks.baselines.dense_restricted_attention``: (HW, HW) affinities
   and softmax; ``dense_topk_propagation``: (HW, T*HW) affinities, top-k):
   protocol A at its real setting (stride 4, R=6, previous frame) and
   protocol B at the CRW setting (stride 8, R=12, T=21, top-10, temperature
   0.07), on the grid of each of ``--dense-widths`` (default 854);
   L = ``--labels``. Dense runs where it fits in ``MEMORY_SHARE`` of the
   available memory. Its memory is also computed (the fp32 affinity matrix,
   x2 for A's probabilities), and at the real configs of every width
   (stride 4; protocol B: R=24, T=21, ~52 GiB at 480p) it is only computed,
   labelled so. Outputs of both are compared (max abs diff).

Times: one run of the pipeline (per-frame samples within it), median of
``--step-repeat`` runs in part 2 (no warm-up: nothing is cached between
frames), median of ``--repeat`` interleaved runs after ``--warmup`` in part 3.
The default run takes about 9 minutes on one core of a shared 2-core machine.
Peak memory is measured in a fresh process per case
(``benchmarks.common.peak_memory_subprocess``): ``case MiB`` = RSS high-water
mark during the run minus RSS before it (model and frames already loaded; for
part 2 the bytes of the T context maps held are added), ``process MiB`` = the
process's whole RSS peak (Python, torch, model, frames included).

Usage::

    python benchmarks/bench_propagation.py [--widths 854 1152] [--frames-a 5] [--frames-b 3]
        [--contexts 1 5 21] [--dense-widths 854] [--labels 3] [--repeat 3] [--threads N]
        [--no-memory] [--no-dense] [--smoke] [--out FILE]
"""
from __future__ import annotations

import argparse
import math
import statistics
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(REPO_ROOT))

import cv2  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from PIL import Image  # noqa: E402

from benchmarks.baselines import (dense_restricted_attention,  # noqa: E402
                                  dense_topk_propagation)
from benchmarks.common import (add_output_args, available_memory_mib,  # noqa: E402
                               machine_info, machine_line, peak_memory_subprocess,
                               print_table, results_path, shared_data_root, time_fn, time_fns,
                               write_results)
from corrflow.apis import init_model  # noqa: E402
from corrflow.models.layers.local_attention import (restricted_attention,  # noqa: E402
                                                    topk_restricted_attention)
from corrflow.models.layers.propagation import (labels_to_onehot,  # noqa: E402
                                                minmax_normalise, padded_size,
                                                resample_to_image)
from corrflow.models.trackers.protocols import l2_normalise  # noqa: E402

NAME = 'propagation'
CONFIGS = {'A': REPO_ROOT / 'configs' / 'test' / 'corrflow_davis.py',
           'B': REPO_ROOT / 'configs' / 'test' / 'corrflow_davis_topk.py'}
HEIGHT = 480
NATIVE_WIDTH = 854
SUBDIR = 'davis2016-val-subset'
FULL_CONTEXT = 21  # frame 0 + 20 preceding (configs/test/corrflow_davis_topk.py)
# Part 3: the propagation settings compared with the dense form.
DENSE_SETTINGS = {
    'A': dict(stride=4, radius=6, context=1, topk=None, temperature=1.0,
              what='protocol A: stride 4, R=6, previous frame, softmax'),
    'B': dict(stride=8, radius=12, context=FULL_CONTEXT, topk=10, temperature=0.07,
              what='protocol B at the CRW setting: stride 8, R=12, T=21, top-10, T=0.07'),
}
REAL_B = dict(stride=4, radius=24, context=FULL_CONTEXT)  # configs/test/corrflow_davis_topk.py
SMOKE = dict(height=64, native_width=96, widths=(128,), frames_a=3, frames_b=3,
             contexts=(1, 2, 3))
ATOL = 1e-4
MEMORY_SHARE = 0.4  # run a case only if its estimated memory fits in this share of the free


# ---------------------------------------------------------------------------- inputs
def load_video(frames: int, width: int, height: int = HEIGHT,
               native_width: int = NATIVE_WIDTH, sequence: str = 'blackswan', seed: int = 0):
    """``frames`` real frames (T, 3, height, width) uint8 and the first mask (height, width).

    The frames (resized to ``native_width`` x ``height`` if they differ) are
    edge-padded on the right to ``width``; the mask is padded with background.
    Random frames and a rectangle mask when the shared data is absent.

    Returns:
        tuple: video tensor, mask array, source description.
    """
    folder = shared_data_root() / SUBDIR
    jpegs = sorted((folder / 'JPEGImages' / '480p' / sequence).glob('*.jpg'))[:frames]
    mask_file = folder / 'Annotations' / '480p' / sequence / '00000.png'
    if len(jpegs) == frames and mask_file.is_file():
        imgs = [cv2.cvtColor(cv2.imread(str(p), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
                for p in jpegs]
        with Image.open(mask_file) as png:  # palette PNG: the indices are the labels
            mask = np.array(png, dtype=np.uint8)
        source = f'{SUBDIR}/{sequence}, {frames} frames'
    else:
        rng = np.random.default_rng(seed)
        imgs = [rng.integers(0, 256, (height, native_width, 3), dtype=np.uint8)
                for _ in range(frames)]
        mask = np.zeros((height, native_width), np.uint8)
        mask[height // 4:height // 2, native_width // 4:native_width // 2] = 1
        source = f'random frames ({folder} not found)'
    if imgs[0].shape[:2] != (height, native_width):
        imgs = [cv2.resize(im, (native_width, height), interpolation=cv2.INTER_AREA)
                for im in imgs]
        mask = cv2.resize(mask, (native_width, height), interpolation=cv2.INTER_NEAREST)
    pad = width - native_width
    if pad < 0:
        raise ValueError(f'width {width} is below the native width {native_width}')
    if pad:
        imgs = [np.pad(im, ((0, 0), (0, pad), (0, 0)), mode='edge') for im in imgs]
        mask = np.pad(mask, ((0, 0), (0, pad)), mode='constant')
        source += f', edge-padded {native_width} -> {width}'
    video = torch.from_numpy(np.stack(imgs)).permute(0, 3, 1, 2).contiguous()
    return video, np.ascontiguousarray(mask), source


def build_model(protocol: str, smoke: bool = False, seed: int = 0):
    """The protocol's test-config LabelPropagator with initial weights (smoke: native size)."""
    torch.manual_seed(seed)
    options = {'model.input_size': None} if smoke else None
    return init_model(CONFIGS[protocol], checkpoint=None, cfg_options=options)


class _TimedProtocol:
    """Wraps a propagation protocol; ``stamps`` = start, then the end of each frame's read-out."""

    def __init__(self, protocol) -> None:
        self.protocol = protocol
        self.stamps: list[float] = []

    def __getattr__(self, name: str):
        return getattr(self.protocol, name)

    def __call__(self, features, num_frames: int, seed):
        self.stamps = [time.perf_counter()]
        for item in self.protocol(features, num_frames, seed):
            yield item  # the propagator reads the frame out before asking for the next
            self.stamps.append(time.perf_counter())


def _sizes(width: int, smoke: bool) -> dict:
    if smoke:
        return dict(height=SMOKE['height'], native_width=SMOKE['native_width'])
    return dict(height=HEIGHT, native_width=NATIVE_WIDTH)


# ---------------------------------------------------------------------------- cases
def make_pipeline_case(protocol: str, width: int, frames: int, smoke: bool = False,
                       seed: int = 0):
    """Propagate the first mask through ``frames`` frames; returns the per-frame seconds.

    Also the factory of the memory child.
    """
    model = build_model(protocol, smoke, seed)
    timed = _TimedProtocol(model.protocol)
    model.protocol = timed
    video, mask, _ = load_video(frames, width, seed=seed, **_sizes(width, smoke))
    sample = dict(first_mask=mask, video=f'w{width}')

    def run() -> list[float]:
        model.propagate_video(video, sample)
        return np.diff(timed.stamps).tolist()

    return run


def _context_maps(model, video: torch.Tensor, mask: np.ndarray, context: int, seed: int):
    """Frame 0's features and seed, then ``context - 1`` random normalised maps / soft maps."""
    H, W = video.shape[-2:]
    proc = model.processing_size((H, W))
    padded = padded_size(proc, model.size_divisor)
    with torch.no_grad():
        feat0 = l2_normalise(model.embed(model._prepare(video[0], proc, padded)))
        seed_map = model.seed_maps(labels_to_onehot(torch.from_numpy(mask).long(), 2), (H, W))
    g = torch.Generator().manual_seed(seed)
    keys = [feat0] + [l2_normalise(torch.randn(feat0.shape, generator=g))
                      for _ in range(context - 1)]
    values = [seed_map] + [torch.rand(seed_map.shape, generator=g) for _ in range(context - 1)]
    return keys, values, proc, padded


def context_bytes(keys: list[torch.Tensor], values: list[torch.Tensor]) -> int:
    return sum(t.numel() * t.element_size() for t in keys + values)


def make_step_case(width: int, context: int, smoke: bool = False, seed: int = 0):
    """One protocol-B frame with ``context`` maps held, as ``LabelPropagator`` runs it.

    Also the factory of the memory child.
    """
    model = build_model('B', smoke, seed)
    video, mask, _ = load_video(2, width, seed=seed, **_sizes(width, smoke))
    keys, values, proc, padded = _context_maps(model, video, mask, context, seed)
    p, s = model.protocol, model.stride
    H, W = video.shape[-2:]

    def run() -> np.ndarray:
        with torch.no_grad():
            feat = l2_normalise(model.embed(model._prepare(video[1], proc, padded)))
            prob = topk_restricted_attention(feat, keys, values, p.radius, p.topk,
                                             temperature=p.temperature, tile_size=p.tile_size,
                                             max_chunk_elements=p.max_chunk_elements)
            full = resample_to_image(minmax_normalise(prob), s, proc, (H, W))
            return full.argmax(1)[0].to(torch.uint8).numpy()

    run.context_bytes = context_bytes(keys, values)  # held before (outside) the measured call
    return run


def dense_grid(width: int, stride: int, smoke: bool = False) -> tuple[int, int]:
    """Feature grid of a frame of ``width`` (padded to a multiple of 8, as the configs do)."""
    height = SMOKE['height'] if smoke else HEIGHT
    return math.ceil(height / 8) * 8 // stride, math.ceil(width / 8) * 8 // stride


def make_dense_inputs(protocol: str, width: int, labels: int, smoke: bool = False,
                      seed: int = 0):
    """Random query, T keys and T values on the grid of part 3's setting."""
    cfg = DENSE_SETTINGS[protocol]
    h, w = dense_grid(width, cfg['stride'], smoke)
    C = 64
    g = torch.Generator().manual_seed(seed)
    maps = [torch.randn(1, C, h, w, generator=g) for _ in range(cfg['context'] + 1)]
    if protocol == 'B':
        maps = [l2_normalise(m) for m in maps]
        values = [torch.rand(1, labels, h, w, generator=g) for _ in range(cfg['context'])]
    else:  # raw dot products of unit variance, hard labels
        maps = [m * C ** -0.25 for m in maps]
        hard = torch.randint(0, labels, (h, w), generator=g)
        values = [F.one_hot(hard, labels).permute(2, 0, 1)[None].float()]
    return maps[0], maps[1:], values


def make_dense_case(protocol: str, impl: str, width: int, labels: int, smoke: bool = False,
                    seed: int = 0):
    """One propagation step of part 3 (``impl`` 'ours' or 'dense'); returns the output.

    Also the factory of the memory child.
    """
    cfg = DENSE_SETTINGS[protocol]
    query, keys, values = make_dense_inputs(protocol, width, labels, smoke, seed)
    R, tau = cfg['radius'], cfg['temperature']

    def run() -> torch.Tensor:
        with torch.no_grad():
            if protocol == 'A' and impl == 'ours':
                return restricted_attention(query, keys[0], values[0], R)
            if protocol == 'A':
                return dense_restricted_attention(query, keys[0], values[0], R)
            if impl == 'ours':
                return topk_restricted_attention(query, keys, values, R, cfg['topk'],
                                                 temperature=tau)
            return dense_topk_propagation(query, keys, values, R, cfg['topk'], tau)

    return run


def dense_mib(protocol: str, h: int, w: int, context: int) -> float:
    """Computed dense memory: the fp32 (HW, T*HW) affinities (x2 for A: + probabilities)."""
    n = h * w
    return (2 if protocol == 'A' else 1) * 4.0 * n * context * n / 2**20


# ---------------------------------------------------------------------------- main
def _memory(enabled: bool, factory: str, kwargs: dict) -> dict | None:
    return peak_memory_subprocess(f'benchmarks.bench_propagation:{factory}', kwargs) \
        if enabled else None


def _linear_fit(xs: list[float], ys: list[float], x: float) -> float:
    """Least-squares line through (xs, ys), evaluated at x."""
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    var = sum((a - mx) ** 2 for a in xs)
    slope = sum((a - mx) * (b - my) for a, b in zip(xs, ys)) / var if var else 0.0
    return my + slope * (x - mx)


def _span(prefix: str, first: int, last: int) -> str:
    text = str(first) if first == last else f'{first}-{last}'
    return f'{prefix}s {text}' if prefix and first != last else f'{prefix} {text}'.strip()


def run_pipeline(args) -> list[dict]:
    rows = []
    for protocol, frames in (('A', args.frames_a), ('B', args.frames_b)):
        for width in args.widths:
            kwargs = dict(protocol=protocol, width=width, frames=frames, smoke=args.smoke,
                          seed=args.seed)
            mem = _memory(args.memory, 'make_pipeline_case', kwargs)
            per_frame = make_pipeline_case(**kwargs)()
            steady = per_frame[1:] or per_frame
            contexts = [1 + min(t - 1, FULL_CONTEXT - 1) if protocol == 'B' else 1
                        for t in range(1, frames)]
            s = statistics.median(steady) if protocol == 'A' else statistics.fmean(steady)
            rows.append(dict(
                protocol=protocol, width=width, frames=frames,
                timed=_span('frame', 2, frames - 1) if frames > 2 else 'frame 1',
                context=_span('', contexts[1], contexts[-1]) if len(contexts) > 1 else '1',
                s_per_frame=s, fps=1.0 / s, per_frame_s=per_frame, contexts=contexts,
                case_mib=mem['peak_mib'] if mem else None,
                process_mib=mem['peak_rss_mib'] if mem else None, memory=mem))
    return rows


def run_steps(args) -> list[dict]:
    rows = []
    target = args.contexts[-1]
    for width in args.widths:
        measured: list[dict] = []
        for context in args.contexts:
            kwargs = dict(width=width, context=context, smoke=args.smoke, seed=args.seed)
            status = 'measured'
            if context == target and len(measured) >= 2 and all(r['case_mib'] is not None
                                                                  for r in measured):
                need = _linear_fit([r['context'] for r in measured],
                                   [r['case_mib'] for r in measured], context)
                free = available_memory_mib()
                if free is not None and need > MEMORY_SHARE * free:
                    status = (f'extrapolated (needs ~{need / 1024:.1f} GiB, '
                              f'{free / 1024:.1f} GiB free)')
            if status != 'measured':
                xs = [r['context'] for r in measured]
                row = dict(width=width, context=context, how=status)
                for key in ('s_per_frame', 'case_mib', 'process_mib'):
                    row[key] = _linear_fit(xs, [r[key] for r in measured], context)
                row['fps'] = 1.0 / row['s_per_frame']
                rows.append(row)
                continue
            mem = _memory(args.memory, 'make_step_case', kwargs)
            case = make_step_case(**kwargs)
            t = time_fn(case, repeat=args.step_repeat, warmup=0)
            held = case.context_bytes / 2**20
            del case
            row = dict(width=width, context=context, how=status, s_per_frame=t['median_s'],
                       fps=1.0 / t['median_s'],
                       case_mib=mem['peak_mib'] + held if mem else None,
                       process_mib=mem['peak_rss_mib'] if mem else None,
                       context_mib=held, memory=mem, timing=t)
            rows.append(row)
            measured.append(row)
    return rows


def run_dense(args) -> list[dict]:
    rows = []
    for protocol, cfg in DENSE_SETTINGS.items():
        for width in args.dense_widths:
            h, w = dense_grid(width, cfg['stride'], args.smoke)
            need = dense_mib(protocol, h, w, cfg['context'])
            free = available_memory_mib()
            fits = free is None or need * 1.1 < MEMORY_SHARE * free
            kwargs = dict(protocol=protocol, width=width, labels=args.labels, smoke=args.smoke,
                          seed=args.seed)
            impls = ('ours', 'dense') if fits else ('ours',)
            mem = {impl: _memory(args.memory, 'make_dense_case', dict(impl=impl, **kwargs))
                   for impl in impls}
            cases = {impl: make_dense_case(impl=impl, **kwargs) for impl in impls}
            diff = (float((cases['ours']() - cases['dense']()).abs().max()) if fits else None)
            t = time_fns(cases, repeat=args.repeat, warmup=args.warmup)
            del cases
            ours_mib = mem['ours']['peak_mib'] if mem['ours'] else None
            dense_measured = mem.get('dense')['peak_mib'] if mem.get('dense') else None
            dense_s = t['dense']['median_s'] if fits else None
            rows.append(dict(
                protocol=protocol, width=width, grid=f'{h}x{w}', stride=cfg['stride'],
                radius=cfg['radius'], context=cfg['context'],
                ours_ms=1e3 * t['ours']['median_s'],
                dense_ms=1e3 * dense_s if dense_s else None,
                speedup=dense_s / t['ours']['median_s'] if dense_s else None,
                ours_mib=ours_mib, dense_mib=dense_measured, dense_computed_mib=need,
                memory_ratio=(dense_measured if dense_measured else need) / ours_mib
                if ours_mib else None,
                dense='measured' if fits else f'computed only ({free / 1024:.1f} GiB free)',
                max_abs_diff=diff, agree=None if diff is None else diff <= ATOL,
                what=cfg['what'], memory=mem, timing=t))
    return rows


def real_dense_rows(args, pipeline: list[dict], steps: list[dict]) -> list[dict]:
    """Computed dense memory at the real configs beside our measured (or extrapolated) peak."""
    rows = []
    for width in args.widths:
        h, w = dense_grid(width, 4, args.smoke)
        ours_a = next((r for r in pipeline if r['protocol'] == 'A' and r['width'] == width), None)
        ours_b = next((r for r in steps if r['width'] == width and
                       r['context'] == args.contexts[-1]), None)
        for protocol, ours, context, radius in (('A', ours_a, 1, 6),
                                                ('B', ours_b, args.contexts[-1], REAL_B['radius'])):
            need = dense_mib(protocol, h, w, context)
            mib = ours['case_mib'] if ours else None
            rows.append(dict(protocol=protocol, width=width, grid=f'{h}x{w}', stride=4,
                             radius=radius, context=context, dense_computed_mib=need,
                             ours_mib=mib, ours_how=(ours.get('how', 'measured (pipeline)')
                                                     if ours else None),
                             memory_ratio=need / mib if mib else None))
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--widths', type=int, nargs='+', default=[NATIVE_WIDTH, 1152],
                        help='frame widths (480 high; wider than 854 = edge-padded)')
    parser.add_argument('--frames-a', type=int, default=5, help='frames of the protocol-A run')
    parser.add_argument('--frames-b', type=int, default=3, help='frames of the protocol-B run')
    parser.add_argument('--contexts', type=int, nargs='+', default=[1, 5, FULL_CONTEXT],
                        help='context sizes of part 2; the last is measured if it fits, '
                             'else extrapolated from the others')
    parser.add_argument('--step-repeat', type=int, default=1,
                        help='timed runs per context size of part 2')
    parser.add_argument('--dense-widths', type=int, nargs='+', default=[NATIVE_WIDTH],
                        help='widths of part 3 (dense B at 1152 needs ~6 GiB and 13 s a call)')
    parser.add_argument('--labels', type=int, default=3,
                        help='label channels of part 3 (background + 2 objects)')
    parser.add_argument('--repeat', type=int, default=3, help='timed runs per case of part 3')
    parser.add_argument('--warmup', type=int, default=1, help='untimed runs first (part 3)')
    parser.add_argument('--threads', type=int, default=None,
                        help='torch.set_num_threads (default: torch\'s, 1 with --smoke); on a '
                             'machine where other jobs use cores, use the idle cores only')
    parser.add_argument('--no-memory', action='store_true', help='skip the peak-memory runs')
    parser.add_argument('--no-dense', action='store_true', help='skip part 3')
    parser.add_argument('--seed', type=int, default=0)
    add_output_args(parser, NAME, 'a 64x128 version that takes seconds')
    args = parser.parse_args(argv)
    if args.smoke:
        args.widths, args.frames_a, args.frames_b = list(SMOKE['widths']), SMOKE['frames_a'], \
            SMOKE['frames_b']
        args.dense_widths = list(SMOKE['widths'])
        args.contexts = list(SMOKE['contexts'])
        args.repeat, args.warmup, args.step_repeat = 1, 0, 1
        args.threads = args.threads or 1
    if args.frames_a < 2 or args.frames_b < 2 or not args.contexts:
        parser.error('need at least 2 frames per protocol and one context size')
    args.memory = not args.no_memory and not args.smoke  # smoke: seconds, no child processes
    if args.threads:
        torch.set_num_threads(args.threads)
    cv2.setNumThreads(0)
    machine = machine_info('cpu')
    print(machine_line(machine))
    _, _, source = load_video(2, max(args.widths), seed=args.seed,
                              **_sizes(max(args.widths), args.smoke))
    print(f'frames: {source}\n')
    start = time.perf_counter()

    pipeline = run_pipeline(args)
    print_table(pipeline, [
        ('protocol', 'protocol'), ('width', 'width'), ('frames', 'frames'),
        ('timed', 'timed'), ('context', 'context maps'), ('s_per_frame', 's/frame', '.2f'),
        ('fps', 'fps', '.3f'), ('case_mib', 'case MiB', '.0f'),
        ('process_mib', 'process MiB', '.0f')],
        title='LabelPropagator pipeline (backbone + protocol + read-out), configs/test/'
              'corrflow_davis{,_topk}.py')
    steps = run_steps(args)
    print_table(steps, [
        ('width', 'width'), ('context', 'context maps'), ('s_per_frame', 's/frame', '.2f'),
        ('fps', 'fps', '.3f'), ('case_mib', 'case MiB', '.0f'),
        ('process_mib', 'process MiB', '.0f'), ('how', 'how')],
        title='protocol B, one frame (embed + top-k attention + read-out) with T context maps '
              'held')
    dense = [] if args.no_dense else run_dense(args)
    if dense:
        print_table(dense, [
            ('protocol', 'protocol'), ('width', 'width'), ('grid', 'grid'),
            ('stride', 'stride'), ('radius', 'R'), ('context', 'T'),
            ('ours_ms', 'ours ms', '.0f'), ('dense_ms', 'dense ms', '.0f'),
            ('speedup', 'speed-up', lambda v: f'{v:.1f}x'), ('ours_mib', 'ours MiB', '.0f'),
            ('dense_mib', 'dense MiB', '.0f'), ('dense_computed_mib', 'dense computed', '.0f'),
            ('memory_ratio', 'mem ratio', lambda v: f'{v:.1f}x'),
            ('max_abs_diff', 'max abs diff', '.1e')],
            title='dense (full affinity matrix) vs ours, same propagation math, random '
                  'features, no backbone')
    real = real_dense_rows(args, pipeline, steps)
    print_table(real, [
        ('protocol', 'protocol'), ('width', 'width'), ('grid', 'grid'), ('radius', 'R'),
        ('context', 'T'), ('dense_computed_mib', 'dense MiB (computed)', '.0f'),
        ('ours_mib', 'ours case MiB', '.0f'),
        ('memory_ratio', 'mem ratio', lambda v: f'{v:.0f}x'), ('ours_how', 'ours')],
        title='dense memory at the real configs (stride 4), computed: fp32 affinities '
              '(x2 for A)')
    elapsed = time.perf_counter() - start
    print(f'total {elapsed:.0f} s')

    ok = all(r['agree'] is not False for r in dense)
    path = results_path(NAME, args.out, args.smoke)
    if path:
        settings = dict(widths=args.widths, dense_widths=args.dense_widths, height=HEIGHT,
                        frames_a=args.frames_a, frames_b=args.frames_b, contexts=args.contexts,
                        labels=args.labels,
                        repeat=args.repeat, warmup=args.warmup, step_repeat=args.step_repeat,
                        seed=args.seed, frames=source, dense_settings=DENSE_SETTINGS,
                        configs={k: str(v.relative_to(REPO_ROOT)) for k, v in CONFIGS.items()},
                        memory_share=MEMORY_SHARE, elapsed_s=elapsed)
        write_results(NAME, dict(pipeline=pipeline, protocol_b_steps=steps, dense=dense,
                                 dense_at_real_configs=real), machine=machine,
                      extra=dict(settings=settings, outputs_agree=ok,
                                 memory_method='fresh process per case: case = RSS high-water '
                                 'mark minus RSS before the run (+ context maps held, part 2); '
                                 'process = whole-process RSS peak'), path=path)
        print(f'wrote {path}')
    if not ok:
        print('dense and ours disagree', file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
