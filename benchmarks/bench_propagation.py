"""Benchmark: label propagation per frame (s, fps) and peak memory, protocols A and B, fp32/bf16.

Four parts, on CPU (``--device cuda`` runs them on a GPU):

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
   pipeline run covers ``--frames-b`` frames only. Run once per precision
   (``--precisions``, default fp32 bf16; fp16 too on CUDA): the propagator's
   own ``amp`` (``init_model(..., amp=...)``): backbone and affinity products
   under autocast, label maps, softmax and read-out fp32. The precisions take
   turns video by video (``--pipeline-repeat`` rounds, the median of each
   frame's samples over them).
2. ``protocol B, one frame at the steady state``: for each setting of
   ``--settings`` (``STEP_SETTINGS``: full protocol B under corrflow's rules,
   ``configs/test/corrflow_davis_topk.py``; the same under CRW's rules, the
   standard protocol, ``corrflow_davis_crw.py``; B-lite under CRW's rules,
   ``corrflow_davis_crw_lite.py``), one frame exactly as the propagator runs it
   with the full context held (frame 0's real features and seed, then random
   unit-length maps and soft label maps: the work does not depend on their
   values): embed, top-k attention, lay-out of the new frame's map (ours), read-out
   at every pixel. Two implementations, interleaved: ``ours``
   (``corrflow.models.layers.topk_memory``) and ``reference``, the tiled top-k it
   replaced (``benchmarks.baselines.tiled_topk_memory_attention``: gathered key
   regions, masked affinities, ``torch.topk`` over every candidate). Each row has
   its stage times (backbone, attention, lay-out, read-out), its speed-up over the
   reference, and, in fp32, the attention's profile (profiler self CPU time per op
   group: products, top-k, gathers, masks and maxima). The reference runs in fp32
   only; ours in every precision of ``--precisions``.
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
   labelled so. Outputs of both are compared (max abs diff). fp32 only: this
   part compares the maths of two implementations, the precisions are
   compared in parts 1 and 2.

4. ``backbone variants``: the stride-4 backbone at 480p as ``embed`` runs it
   (eager, channels-last input) against channels-last weights, oneDNN tensors
   (``torch.utils.mkldnn``) and ``torch.compile`` (inductor), fp32, interleaved,
   outputs compared (``--no-backbone`` skips it: compiling takes minutes).

Targets in fp32 on one thread: full protocol B (21 maps) at 854x480 at most
``TARGET_FULL_B_S_PER_FRAME`` (3 s) per frame; B-lite at least
``TARGET_LITE_SPEEDUP`` (2x) faster per frame than the reference. Targets on a
CPU with bf16 matrix units (AMX): protocol A at 854x480 bf16
``TARGET_A_SPEEDUP`` (4x) faster per frame than fp32; protocol B with the full
context (21 maps) at 854x480 ``TARGET_B_S_PER_FRAME`` (3 s) per frame or less
in bf16. On a CPU without bf16 matrix units (bf16 emulated, see the machine
line) they cannot be checked. The GEMM rate of every precision is measured
first, in the same run (``benchmarks.common.gemm_rates``).

Times: one run of the pipeline (per-frame samples within it), median of
``--step-repeat`` runs in part 2 (no warm-up: nothing is cached between
frames), median of ``--repeat`` interleaved runs after ``--warmup`` in part 3.
With ``--widths 854 --precisions fp32 bf16`` a run took 9 minutes on one core of a
2-core Xeon with bf16 matrix units (AMX); the default adds the 1152-wide runs.
Peak memory is measured in a fresh process per case
(``benchmarks.common.peak_memory_subprocess``): ``case MiB`` = RSS high-water
mark during the run minus RSS before it (model and frames already loaded; for
part 2 the bytes of the T context maps held are added), ``process MiB`` = the
process's whole RSS peak (Python, torch, model, frames included).

Usage::

    python benchmarks/bench_propagation.py [--widths 854 1152] [--frames-a 5] [--frames-b 3]
        [--settings B ...] [--precisions fp32 bf16] [--device cpu|cuda] [--no-backbone]
        [--pipeline-repeat 1] [--dense-widths 854] [--labels 3] [--repeat 3] [--threads N]
        [--gemm-size 2048] [--no-memory] [--no-dense] [--smoke] [--out FILE]
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
                                  dense_topk_propagation, tiled_topk_memory_attention)
from benchmarks.common import (add_output_args, add_precision_args,  # noqa: E402
                               available_memory_mib, describe_precisions, gemm_line,
                               gemm_rates, machine_info, machine_line, peak_memory_subprocess,
                               parse_device_and_precisions, print_table, results_path,
                               shared_data_root, time_fns, write_results)
from corrflow.apis import init_model  # noqa: E402
from corrflow.models.layers.local_attention import _dtypes as local_dtypes  # noqa: E402
from corrflow.models.layers.local_attention import restricted_attention  # noqa: E402
from corrflow.models.layers.topk_memory import (KeyMemory, topk_memory_attention,  # noqa: E402
                                                topk_restricted_attention)
from corrflow.models.layers.propagation import (labels_to_onehot,  # noqa: E402
                                                padded_size)
from corrflow.models.trackers.protocols import l2_normalise  # noqa: E402
from corrflow.utils.precision import autocast_off, full_precision  # noqa: E402

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
#: Part 2: config and context maps at the steady state of each protocol-B setting.
STEP_SETTINGS = {
    'B': ('corrflow_davis_topk.py', FULL_CONTEXT),  # standard settings, corrflow's rules
    'B, CRW rules': ('corrflow_davis_crw.py', FULL_CONTEXT),  # the standard protocol
    'B-lite, CRW rules': ('corrflow_davis_crw_lite.py', 6),  # frame 0 + 5, 240p
}
SMOKE = dict(height=64, native_width=96, widths=(128,), frames_a=3, frames_b=3)
ATOL = 1e-4
MEMORY_SHARE = 0.4  # run a case only if its estimated memory fits in this share of the free
TARGET_A_SPEEDUP = 4.0  # bf16 vs fp32 per frame, protocol A, 854x480 (CPU with AMX)
TARGET_B_S_PER_FRAME = 3.0  # bf16, protocol B with 21 context maps, 854x480 (CPU with AMX)
TARGET_FULL_B_S_PER_FRAME = 3.0  # fp32, one thread, protocol B with 21 maps, 854x480
TARGET_LITE_SPEEDUP = 2.0  # fp32, one thread, B-lite per frame vs the reference


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


def build_model(protocol: str, smoke: bool = False, seed: int = 0, precision: str = 'fp32',
                device: str = 'cpu'):
    """The protocol's test-config LabelPropagator with initial weights (smoke: native size),
    its ``amp`` set to ``precision``."""
    torch.manual_seed(seed)
    options = {'model.input_size': None} if smoke else None
    return init_model(CONFIGS[protocol], checkpoint=None, device=device, cfg_options=options,
                      amp=precision)


def _sizes(width: int, smoke: bool) -> dict:
    if smoke:
        return dict(height=SMOKE['height'], native_width=SMOKE['native_width'])
    return dict(height=HEIGHT, native_width=NATIVE_WIDTH)


# ---------------------------------------------------------------------------- cases
def make_pipeline_case(protocol: str, width: int, frames: int, smoke: bool = False,
                       seed: int = 0, precision: str = 'fp32', device: str = 'cpu'):
    """Propagate the first mask through ``frames`` frames; returns the per-frame seconds.

    Also the factory of the memory child.
    """
    model = build_model(protocol, smoke, seed, precision, device)
    video, mask, _ = load_video(frames, width, seed=seed, **_sizes(width, smoke))
    sample = dict(first_mask=mask, video=f'w{width}')

    def run() -> list[float]:
        stamps = [time.perf_counter()]  # the start, then the end of each frame's read-out
        model.propagate_video(video, sample,
                              progress=lambda t, T: stamps.append(time.perf_counter()))
        return np.diff(stamps).tolist()

    return run


def _context_maps(model, video: torch.Tensor, mask: np.ndarray, context: int, seed: int):
    """Frame 0's features and seed, then ``context - 1`` random normalised maps / soft maps."""
    H, W = video.shape[-2:]
    proc = model.processing_size((H, W))
    padded = padded_size(proc, model.size_divisor)
    device = model.device
    with torch.no_grad():
        feat0 = l2_normalise(model.embed(model._prepare(video[0], proc, padded)))
        onehot = labels_to_onehot(torch.from_numpy(mask).long().to(device), 2)
        seed_map = model.seed_maps(onehot, (H, W))
    g = torch.Generator().manual_seed(seed)
    keys = [feat0] + [l2_normalise(torch.randn(feat0.shape, generator=g).to(device))
                      for _ in range(context - 1)]
    values = [seed_map] + [torch.rand(seed_map.shape, generator=g).to(device)
                           for _ in range(context - 1)]
    return keys, values, proc, padded


def context_bytes(keys: list[torch.Tensor], values: list[torch.Tensor]) -> int:
    return sum(t.numel() * t.element_size() for t in keys + values)


def make_step_case(setting: str, impl: str, width: int, smoke: bool = False, seed: int = 0,
                   precision: str = 'fp32', device: str = 'cpu'):
    """One protocol-B frame at the steady state of ``setting``, as ``LabelPropagator`` runs it.

    The config's propagator (initial weights) holds its full context (frame 0's real
    features and seed, then random unit-length maps and soft label maps: the work does
    not depend on their values); the frame is embedded, attended to the context with
    ``impl`` (``'ours'``: :mod:`corrflow.models.layers.topk_memory`, the context held
    in a :class:`KeyMemory` as the protocol holds it, and the new frame's map laid out
    for the next frames; ``'reference'``: the tiled top-k it replaced,
    ``benchmarks.baselines.tiled_topk_memory_attention``), and read out at every pixel
    by the preset's rule. Under ``precision`` as ``propagate_video`` applies it. Each
    run appends its stage times to ``run.stages``. Also the factory of the memory child.
    """
    config, context = STEP_SETTINGS[setting]
    torch.manual_seed(seed)
    options = {'model.input_size': None} if smoke else None
    model = init_model(REPO_ROOT / 'configs' / 'test' / config, checkpoint=None, device=device,
                       cfg_options=options, amp=precision)
    video, mask, _ = load_video(2, width, seed=seed, **_sizes(width, smoke))
    keys, values, proc, padded = _context_maps(model, video, mask, context, seed)
    p, s = model.protocol, model.stride
    H, W = video.shape[-2:]
    amp = model.precision
    restricted = [p.rules.first_frame != 'whole'] + [True] * (context - 1)
    options = dict(restricted=restricted, circle=p.rules.window == 'circle',
                   keep_ties=p.rules.ties == 'all', max_chunk_elements=p.max_chunk_elements)
    memory = KeyMemory(p.radius, p.tile_size)
    handles = [memory.add(k) for k in keys]
    stages: list[dict] = []

    def attend(feat: torch.Tensor) -> torch.Tensor:
        if impl == 'ours':
            return topk_memory_attention(feat, handles, values, p.radius, p.topk,
                                         p.temperature, tile_size=p.tile_size, **options)
        return tiled_topk_memory_attention(feat, keys, values, p.radius, p.topk,
                                           p.temperature, **options)

    if impl == 'ours':
        with torch.no_grad(), amp.autocast():  # the context maps are laid out already
            attend(keys[0])

    def run() -> np.ndarray:
        with torch.no_grad():
            t0 = time.perf_counter()
            with autocast_off(amp.device_type):
                frame = model._prepare(video[1], proc, padded)
            with amp.autocast():
                feat = model.embed(frame)  # (1, C, h, w), in the autocast dtype
            feat = l2_normalise(feat.to(full_precision(feat.dtype)))
            t1 = time.perf_counter()
            with amp.autocast():
                prob = attend(feat)
            t2 = time.perf_counter()
            if impl == 'ours':  # the frame enters the memory: its map is laid out once
                with amp.autocast():
                    memory.add(feat).slot(local_dtypes([feat])[0])
            t3 = time.perf_counter()
            prob = prob.to(full_precision(prob.dtype))
            scores = p.read_out(prob, s, proc, (H, W))
            masks = scores.argmax(1)[0].to(torch.uint8).cpu().numpy()
            t4 = time.perf_counter()
        stages.append(dict(backbone=t1 - t0, attention=t2 - t1, layout=t3 - t2,
                           read_out=t4 - t3))
        return masks

    run.stages = stages
    run.context_bytes = context_bytes(keys, values) + (
        0 if impl == 'reference' else sum(b.numel() * b.element_size()
                                          for b in memory._banks.values()))
    run.attention = lambda: attend(keys[0])
    return run


#: Profiler op groups of the attention (self CPU time): what each implementation spends on.
OP_GROUPS = {
    'products': ('aten::mm', 'aten::addmm', 'aten::bmm', 'aten::baddbmm'),
    'top-k / sort': ('aten::topk', 'aten::sort', 'aten::argsort'),
    'gathers': ('aten::index', 'aten::index_select', 'aten::gather', 'aten::take'),
    'masks and maxima': ('aten::add_', 'aten::add', 'aten::amax', 'aten::fill_',
                         'aten::masked_fill_', 'aten::copy_', 'aten::where'),
}


def attention_profile(run) -> dict:
    """Share of the attention's self CPU time per op group (one profiled call)."""
    from torch.profiler import ProfilerActivity, profile
    with torch.no_grad(), profile(activities=[ProfilerActivity.CPU]) as prof:
        run.attention()
    totals = {name: 0.0 for name in OP_GROUPS}
    totals['other'] = 0.0
    for event in prof.key_averages():
        group = next((g for g, ops in OP_GROUPS.items() if event.key in ops), 'other')
        totals[group] += event.self_cpu_time_total
    whole = sum(totals.values()) or 1.0
    return {g: t / whole for g, t in totals.items()}


def dense_grid(width: int, stride: int, smoke: bool = False) -> tuple[int, int]:
    """Feature grid of a frame of ``width`` (padded to a multiple of 8, as the configs do)."""
    height = SMOKE['height'] if smoke else HEIGHT
    return math.ceil(height / 8) * 8 // stride, math.ceil(width / 8) * 8 // stride


def make_dense_inputs(protocol: str, width: int, labels: int, smoke: bool = False,
                      seed: int = 0, device: str = 'cpu'):
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
    maps = [m.to(device) for m in maps]
    return maps[0], maps[1:], [v.to(device) for v in values]


def make_dense_case(protocol: str, impl: str, width: int, labels: int, smoke: bool = False,
                    seed: int = 0, device: str = 'cpu'):
    """One propagation step of part 3 (``impl`` 'ours' or 'dense'), fp32; returns the output.

    Also the factory of the memory child.
    """
    cfg = DENSE_SETTINGS[protocol]
    query, keys, values = make_dense_inputs(protocol, width, labels, smoke, seed, device)
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
    if not enabled:
        return None
    return peak_memory_subprocess(f'benchmarks.bench_propagation:{factory}', kwargs,
                                  device=kwargs.get('device'))


def _free_mib(device: str) -> float | None:
    """Memory a case may use: free GPU memory on CUDA, else the available RAM."""
    if device.startswith('cuda'):
        return torch.cuda.mem_get_info(torch.device(device))[0] / 2**20
    return available_memory_mib()


def _linear_fit(xs: list[float], ys: list[float], x: float) -> float:
    """Least-squares line through (xs, ys), evaluated at x."""
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    var = sum((a - mx) ** 2 for a in xs)
    slope = sum((a - mx) * (b - my) for a, b in zip(xs, ys)) / var if var else 0.0
    return my + slope * (x - mx)


def _span(prefix: str, first: int, last: int) -> str:
    text = str(first) if first == last else f'{first}-{last}'
    return f'{prefix}s {text}' if prefix and first != last else f'{prefix} {text}'.strip()


def _vs_fp32(rows: list[dict], keys: tuple[str, ...]) -> None:
    """Set each row's ``vs_fp32`` = the fp32 row's s/frame (same ``keys``) / its own."""
    fp32 = {tuple(r[k] for k in keys): r['s_per_frame'] for r in rows
            if r['precision'] == 'fp32'}
    for r in rows:
        ref = fp32.get(tuple(r[k] for k in keys))
        r['vs_fp32'] = ref / r['s_per_frame'] if ref else None


def run_pipeline(args) -> list[dict]:
    rows = []
    for protocol, frames in (('A', args.frames_a), ('B', args.frames_b)):
        for width in args.widths:
            kwargs = dict(protocol=protocol, width=width, frames=frames, smoke=args.smoke,
                          seed=args.seed, device=args.device)
            mem = {p: _memory(args.memory, 'make_pipeline_case', dict(kwargs, precision=p))
                   for p in args.precisions}
            cases = {p: make_pipeline_case(**kwargs, precision=p) for p in args.precisions}
            runs: dict[str, list[list[float]]] = {p: [] for p in cases}
            for _ in range(args.pipeline_repeat):  # the precisions take turns, video by video
                for p, case in cases.items():
                    runs[p].append(case())
            del cases
            contexts = [1 + min(t - 1, FULL_CONTEXT - 1) if protocol == 'B' else 1
                        for t in range(1, frames)]
            for p in args.precisions:
                per_frame = [statistics.median(samples) for samples in zip(*runs[p])]
                steady = per_frame[1:] or per_frame
                s = statistics.median(steady) if protocol == 'A' else statistics.fmean(steady)
                rows.append(dict(
                    protocol=protocol, width=width, precision=p, frames=frames,
                    timed=_span('frame', 2, frames - 1) if frames > 2 else 'frame 1',
                    context=_span('', contexts[1], contexts[-1]) if len(contexts) > 1 else '1',
                    s_per_frame=s, fps=1.0 / s, per_frame_s=per_frame, runs_s=runs[p],
                    contexts=contexts,
                    case_mib=mem[p]['peak_mib'] if mem[p] else None,
                    process_mib=mem[p]['peak_rss_mib'] if mem[p] else None, memory=mem[p]))
    _vs_fp32(rows, ('protocol', 'width'))
    return rows


def run_steps(args) -> list[dict]:
    """Part 2: one frame at each setting's steady state, both implementations interleaved."""
    rows = []
    for width in args.widths:
        for setting in args.settings:
            cases, mem = {}, {}
            for impl in ('reference', 'ours'):
                for p in args.precisions:
                    if impl == 'reference' and p != 'fp32':
                        continue  # the reference is timed in fp32 only
                    kwargs = dict(setting=setting, impl=impl, width=width, smoke=args.smoke,
                                  seed=args.seed, device=args.device, precision=p)
                    mem[impl, p] = _memory(args.memory, 'make_step_case', kwargs)
                    cases[impl, p] = make_step_case(**kwargs)
            timing = time_fns(cases, repeat=args.step_repeat, warmup=0, device=args.device)
            for (impl, p), case in cases.items():
                t = timing[impl, p]
                stages = {k: statistics.median(st[k] for st in case.stages)
                          for k in case.stages[0]}
                shares = attention_profile(case) if p == 'fp32' and not args.smoke else None
                m = mem[impl, p]
                rows.append(dict(
                    setting=setting, config=STEP_SETTINGS[setting][0], width=width,
                    context=STEP_SETTINGS[setting][1], impl=impl, precision=p,
                    s_per_frame=t['median_s'], fps=1.0 / t['median_s'], **stages,
                    attention_shares=shares,
                    case_mib=m['peak_mib'] + case.context_bytes / 2**20 if m else None,
                    process_mib=m['peak_rss_mib'] if m else None,
                    context_mib=case.context_bytes / 2**20, memory=m, timing=t))
            del cases
            ref = next(r for r in rows if r['setting'] == setting and r['width'] == width
                       and r['impl'] == 'reference')
            for r in rows:
                if r['setting'] == setting and r['width'] == width:
                    r['vs_reference'] = ref['s_per_frame'] / r['s_per_frame']
                    r['attention_vs_reference'] = ref['attention'] / max(r['attention'], 1e-9)
    return rows


def run_dense(args) -> list[dict]:
    rows = []
    for protocol, cfg in DENSE_SETTINGS.items():
        for width in args.dense_widths:
            h, w = dense_grid(width, cfg['stride'], args.smoke)
            need = dense_mib(protocol, h, w, cfg['context'])
            free = _free_mib(args.device)
            fits = free is None or need * 1.1 < MEMORY_SHARE * free
            kwargs = dict(protocol=protocol, width=width, labels=args.labels, smoke=args.smoke,
                          seed=args.seed, device=args.device)
            impls = ('ours', 'dense') if fits else ('ours',)
            mem = {impl: _memory(args.memory, 'make_dense_case', dict(impl=impl, **kwargs))
                   for impl in impls}
            cases = {impl: make_dense_case(impl=impl, **kwargs) for impl in impls}
            diff = (float((cases['ours']() - cases['dense']()).abs().max()) if fits else None)
            t = time_fns(cases, repeat=args.repeat, warmup=args.warmup, device=args.device)
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


def run_backbone(args) -> list[dict]:
    """Part 4: the backbone at 480p in the ways PyTorch can run it on a CPU, side by side.

    ``eager`` is how ``LabelPropagator.embed`` runs it (channels-last input);
    ``channels_last`` converts the weights too; ``onednn`` runs the module converted by
    ``torch.utils.mkldnn.to_mkldnn`` on oneDNN tensors; ``compile`` is ``torch.compile``
    (inductor; its compilation is reported as setup). Outputs are compared with eager.
    """
    import copy

    from torch.utils import mkldnn as mkldnn_utils
    model = build_model('B', args.smoke, args.seed, 'fp32', args.device)
    video, _, _ = load_video(1, args.widths[0], seed=args.seed, **_sizes(args.widths[0],
                                                                           args.smoke))
    proc = model.processing_size(tuple(video.shape[-2:]))
    padded = padded_size(proc, model.size_divisor)
    frame = model._prepare(video[0], proc, padded).contiguous(memory_format=torch.channels_last)
    eager = model.backbone.eval()
    variants, setup = {'eager': lambda: eager(frame)}, {'eager': 0.0}
    start = time.perf_counter()
    cl = copy.deepcopy(eager).to(memory_format=torch.channels_last)
    variants['channels_last'] = lambda: cl(frame)
    setup['channels_last'] = time.perf_counter() - start
    try:
        start = time.perf_counter()
        dnn = mkldnn_utils.to_mkldnn(copy.deepcopy(eager))
        dense = frame.contiguous()
        variants['onednn'] = lambda: dnn(dense.to_mkldnn()).to_dense()
        setup['onednn'] = time.perf_counter() - start
    except (RuntimeError, NotImplementedError) as err:
        print(f'onednn: not available here ({err})')
    try:
        start = time.perf_counter()
        compiled = torch.compile(copy.deepcopy(eager))
        with torch.no_grad():
            compiled(frame)  # compiles
        variants['compile'] = lambda: compiled(frame)
        setup['compile'] = time.perf_counter() - start
    except Exception as err:  # noqa: BLE001 - no compiler, unsupported op: reported, skipped
        print(f'compile: not available here ({type(err).__name__}: {err})')
    with torch.no_grad():
        want = eager(frame)
        diffs = {k: float((fn().float() - want).abs().max()) for k, fn in variants.items()}
        timing = time_fns(variants, repeat=max(3, args.step_repeat), warmup=1,
                          device=args.device)
    base = timing['eager']['median_s']
    return [dict(variant=k, s_per_frame=t['median_s'], vs_eager=base / t['median_s'],
                 setup_s=setup[k], max_abs_diff=diffs[k], grid=list(want.shape[-2:]), timing=t)
            for k, t in timing.items()]


def real_dense_rows(args, pipeline: list[dict], steps: list[dict]) -> list[dict]:
    """Computed dense memory at the real configs beside our measured (or extrapolated) peak
    (of the first precision, fp32 unless left out)."""
    rows = []
    ref = args.precisions[0]
    for width in args.widths:
        h, w = dense_grid(width, 4, args.smoke)
        ours_a = next((r for r in pipeline if r['protocol'] == 'A' and r['width'] == width
                       and r['precision'] == ref), None)
        ours_b = next((r for r in steps if r['width'] == width and r['precision'] == ref and
                       r['setting'] == 'B' and r['impl'] == 'ours'), None)
        for protocol, ours, context, radius in (('A', ours_a, 1, 6),
                                                ('B', ours_b, FULL_CONTEXT, REAL_B['radius'])):
            need = dense_mib(protocol, h, w, context)
            mib = ours['case_mib'] if ours else None
            rows.append(dict(protocol=protocol, width=width, grid=f'{h}x{w}', stride=4,
                             radius=radius, context=context, dense_computed_mib=need,
                             ours_mib=mib, ours_how=(ours.get('how', 'measured (pipeline)')
                                                     if ours else None),
                             precision=ref, memory_ratio=need / mib if mib else None))
    return rows


def check_targets(args, pipeline: list[dict], steps: list[dict], machine: dict) -> list[dict]:
    """The targets against this run's rows: fp32 on one thread (full protocol B per frame,
    B-lite against the implementation it replaced), and the bf16 ones (set for CPUs with
    bf16 matrix units)."""
    width = NATIVE_WIDTH if NATIVE_WIDTH in args.widths else args.widths[0]
    targets = []
    one_thread = torch.get_num_threads() == 1 and args.device == 'cpu'
    full = next((r for r in steps if r['setting'] == 'B' and r['width'] == width and
                 r['impl'] == 'ours' and r['precision'] == 'fp32'), None)
    if full is not None:
        targets.append(dict(what=f'full protocol B ({FULL_CONTEXT} maps), {width} wide, fp32: '
                                 f'<= {TARGET_FULL_B_S_PER_FRAME:g} s per frame',
                            value=full['s_per_frame'], shown=f"{full['s_per_frame']:.2f} s",
                            met=full['s_per_frame'] <= TARGET_FULL_B_S_PER_FRAME,
                            checkable=one_thread, why_not='set for one CPU thread'))
    lite = next((r for r in steps if r['setting'].startswith('B-lite') and r['width'] == width
                 and r['impl'] == 'ours' and r['precision'] == 'fp32'), None)
    if lite is not None:
        targets.append(dict(what=f"{lite['setting']}, {width} wide, fp32: >= "
                                 f'{TARGET_LITE_SPEEDUP:g}x faster per frame than the reference',
                            value=lite['vs_reference'], shown=f"{lite['vs_reference']:.2f}x",
                            met=lite['vs_reference'] >= TARGET_LITE_SPEEDUP,
                            checkable=one_thread, why_not='set for one CPU thread'))
    if 'bf16' not in args.precisions:
        return targets
    checkable = not machine['bf16'].startswith('emulated')
    emulated = 'bf16 is emulated on this CPU (no bf16 matrix units)'
    a = next((r for r in pipeline if r['protocol'] == 'A' and r['width'] == width and
              r['precision'] == 'bf16'), None)
    if a is not None and a['vs_fp32'] is not None:
        targets.append(dict(what=f'protocol A, {width} wide: bf16 >= {TARGET_A_SPEEDUP:g}x '
                                 'faster per frame than fp32',
                            value=a['vs_fp32'], shown=f"{a['vs_fp32']:.2f}x",
                            met=a['vs_fp32'] >= TARGET_A_SPEEDUP, checkable=checkable,
                            why_not=emulated))
    context = FULL_CONTEXT
    b = next((r for r in steps if r['width'] == width and r['setting'] == 'B' and
              r['impl'] == 'ours' and r['precision'] == 'bf16'), None)
    if b is not None:
        targets.append(dict(what=f'protocol B, {width} wide, {context} context maps: bf16 <= '
                                 f'{TARGET_B_S_PER_FRAME:g} s per frame',
                            value=b['s_per_frame'], shown=f"{b['s_per_frame']:.2f} s",
                            met=b['s_per_frame'] <= TARGET_B_S_PER_FRAME, checkable=checkable,
                            why_not=emulated))
    return targets


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--widths', type=int, nargs='+', default=[NATIVE_WIDTH, 1152],
                        help='frame widths (480 high; wider than 854 = edge-padded)')
    parser.add_argument('--frames-a', type=int, default=5, help='frames of the protocol-A run')
    parser.add_argument('--frames-b', type=int, default=3, help='frames of the protocol-B run')
    parser.add_argument('--settings', nargs='+', default=list(STEP_SETTINGS),
                        choices=list(STEP_SETTINGS),
                        help='protocol-B settings of part 2 (one frame at the steady state, '
                             'both implementations)')
    parser.add_argument('--no-backbone', action='store_true',
                        help='skip part 4 (backbone variants; torch.compile takes minutes)')
    add_precision_args(parser)
    parser.add_argument('--device', default='cpu', choices=('cpu', 'cuda'))
    parser.add_argument('--pipeline-repeat', type=int, default=1,
                        help='runs of each pipeline video per precision (part 1), in turns')
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
    parser.add_argument('--gemm-size', type=int, default=2048,
                        help='side of the torch.mm giving the reference rate of each dtype')
    parser.add_argument('--no-memory', action='store_true', help='skip the peak-memory runs')
    parser.add_argument('--no-dense', action='store_true', help='skip part 3')
    parser.add_argument('--seed', type=int, default=0)
    add_output_args(parser, NAME, 'a 64x128 version that takes seconds')
    args = parser.parse_args(argv)
    if args.smoke:
        args.widths, args.frames_a, args.frames_b = list(SMOKE['widths']), SMOKE['frames_a'], \
            SMOKE['frames_b']
        args.dense_widths = list(SMOKE['widths'])
        args.repeat, args.warmup, args.step_repeat, args.pipeline_repeat = 1, 0, 1, 1
        args.gemm_size = 256
        args.threads = args.threads or 1
    if args.frames_a < 2 or args.frames_b < 2:
        parser.error('need at least 2 frames per protocol')
    if args.pipeline_repeat < 1:
        parser.error('--pipeline-repeat must be at least 1')
    precisions = parse_device_and_precisions(parser, args)
    args.precisions = list(precisions)
    args.memory = not args.no_memory and not args.smoke  # smoke: seconds, no child processes
    if args.threads:
        torch.set_num_threads(args.threads)
    cv2.setNumThreads(0)
    machine = machine_info(args.device)
    print(machine_line(machine))
    print(describe_precisions(precisions))
    gemm = gemm_rates(list(dict.fromkeys(['fp32'] + args.precisions)), args.gemm_size,
                      args.device, repeat=max(args.repeat, 3), warmup=1, seed=args.seed)
    print(gemm_line(gemm, torch.get_num_threads()))
    _, _, source = load_video(2, max(args.widths), seed=args.seed,
                              **_sizes(max(args.widths), args.smoke))
    print(f'frames: {source}\n')
    start = time.perf_counter()
    vs_fp32 = ('vs_fp32', 'vs fp32', lambda v: f'{v:.2f}x')

    pipeline = run_pipeline(args)
    print_table(pipeline, [
        ('protocol', 'protocol'), ('width', 'width'), ('precision', 'prec'),
        ('frames', 'frames'), ('timed', 'timed'), ('context', 'context maps'),
        ('s_per_frame', 's/frame', '.2f'), ('fps', 'fps', '.3f'), vs_fp32,
        ('case_mib', 'case MiB', '.0f'), ('process_mib', 'process MiB', '.0f')],
        title='LabelPropagator pipeline (backbone + protocol + read-out), configs/test/'
              'corrflow_davis{,_topk}.py, amp = prec (vs fp32 = fp32 s/frame / this)')
    steps = run_steps(args)
    print_table(steps, [
        ('setting', 'setting'), ('width', 'width'), ('context', 'maps'), ('impl', 'impl'),
        ('precision', 'prec'), ('s_per_frame', 's/frame', '.2f'),
        ('backbone', 'backbone s', '.2f'), ('attention', 'attention s', '.2f'),
        ('layout', 'layout s', '.2f'), ('read_out', 'read-out s', '.2f'),
        ('vs_reference', 'vs ref', lambda v: f'{v:.2f}x'),
        ('attention_vs_reference', 'attention vs ref', lambda v: f'{v:.2f}x'),
        ('case_mib', 'case MiB', '.0f'), ('process_mib', 'process MiB', '.0f')],
        title='protocol B, one frame at the steady state (embed, top-k attention over the held '
              'context, lay-out of the new map, read-out); reference = the tiled top-k it '
              'replaced; implementations and precisions interleaved')
    shares = [dict(setting=r['setting'], impl=r['impl'], **r['attention_shares'])
              for r in steps if r['attention_shares']]
    if shares:
        print_table(shares, [('setting', 'setting'), ('impl', 'impl')] + [
            (g, g, lambda v: f'{100 * v:.0f} %') for g in (*OP_GROUPS, 'other')],
            title='where the attention spends its time (profiler self CPU time, fp32)')
    backbone = [] if args.no_backbone or args.smoke else run_backbone(args)
    if backbone:
        print_table(backbone, [
            ('variant', 'backbone variant'), ('s_per_frame', 's/frame', '.3f'),
            ('vs_eager', 'vs eager', lambda v: f'{v:.2f}x'), ('setup_s', 'setup s', '.0f'),
            ('max_abs_diff', 'max abs diff', '.1e')],
            title=f'the backbone at {HEIGHT}p ({CONFIGS["B"].name}), fp32, interleaved')
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
                  'features, no backbone, fp32 only (an implementation comparison)')
    real = real_dense_rows(args, pipeline, steps)
    print_table(real, [
        ('protocol', 'protocol'), ('width', 'width'), ('grid', 'grid'), ('radius', 'R'),
        ('context', 'T'), ('dense_computed_mib', 'dense MiB (computed)', '.0f'),
        ('ours_mib', f'ours case MiB ({args.precisions[0]})', '.0f'),
        ('memory_ratio', 'mem ratio', lambda v: f'{v:.0f}x'), ('ours_how', 'ours')],
        title='dense memory at the real configs (stride 4), computed: fp32 affinities '
              '(x2 for A)')
    targets = check_targets(args, pipeline, steps, machine)
    for target in targets:
        note = '' if target['checkable'] else f"; NOT checkable here: {target['why_not']}"
        print(f"target: {target['what']}: {target['shown']} "
              f"({'met' if target['met'] else 'not met'}){note}")
    elapsed = time.perf_counter() - start
    print(f'total {elapsed:.0f} s')

    ok = all(r['agree'] is not False for r in dense)
    path = results_path(NAME, args.out, args.smoke)
    if path:
        settings = dict(widths=args.widths, dense_widths=args.dense_widths, height=HEIGHT,
                        frames_a=args.frames_a, frames_b=args.frames_b,
                        settings={k: STEP_SETTINGS[k] for k in args.settings},
                        labels=args.labels, device=args.device, precisions=args.precisions,
                        precision_reasons={k: v.describe() for k, v in precisions.items()},
                        pipeline_repeat=args.pipeline_repeat,
                        repeat=args.repeat, warmup=args.warmup, step_repeat=args.step_repeat,
                        seed=args.seed, frames=source, dense_settings=DENSE_SETTINGS,
                        gemm_size=args.gemm_size,
                        configs={k: str(v.relative_to(REPO_ROOT)) for k, v in CONFIGS.items()},
                        memory_share=MEMORY_SHARE, elapsed_s=elapsed)
        write_results(NAME, dict(pipeline=pipeline, protocol_b_steps=steps, backbone=backbone,
                                 dense=dense,
                                 dense_at_real_configs=real), machine=machine,
                      extra=dict(settings=settings, gemm=gemm, targets=targets,
                                 outputs_agree=ok,
                                 memory_method='fresh process per case: case = RSS high-water '
                                 'mark minus RSS before the run (+ context maps held, part 2); '
                                 'process = whole-process RSS peak; CUDA: max allocated minus '
                                 'allocated before'), path=path)
        print(f'wrote {path}')
    if not ok:
        print('dense and ours disagree', file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
