"""Benchmark: training data loading on real frames (clips/s), and JPEG decoders (frames/s).

The real training pipeline on the 30 DAVIS-2016 train sequences
(``davis2016-train-256/JPEGImages`` under the shared data: env
``CORRFLOW_SHARED_DATA``, default ``<repo>/../shared/data``):
``VideoFolder`` (24 fps frame folders sampled at 6 fps, 3-frame clips) with
LoadClipFrames -> ResizeClip 256x256 -> QuantiseColour -> PackClipInputs,
through a torch ``DataLoader`` (shuffled, ``sample_list_collate``) with 0, 1,
2, ... worker processes. OpenCV runs single-threaded (``cv2.setNumThreads(0)``,
as the training runtime's ``env_cfg.mp_cfg`` sets it); every frame file is read
once first, so the page cache is warm and the numbers are decoding and
processing, not disk.

Three tables:

* ``pipeline stages``: ms per clip of each transform in the main process
  (QuantiseColour looks colour classes up in a per-process RGB table; the
  direct rule, Lab conversion + nearest of 16 centroids, is timed beside it
  and checked identical), and the first clip's one-off set-up;
* ``JPEG decoding``: frames/s of OpenCV ``cv2.imdecode`` (+ BGR->RGB, what the
  pipeline does), the pipeline's ``read_image`` (file read included), PIL
  ``Image.open().convert('RGB')``, and ``simplejpeg`` / ``PyTurboJPEG`` when
  installed (else 'not available'), from bytes in memory; the mean absolute
  pixel difference to OpenCV is reported;
* ``DataLoader``: clips/s and the training iterations/s it can feed at
  ``--batch`` per worker count: start-up (first batch) and steady state, as a
  multiple of what a GPU training step of ``--gpu-step-s`` seconds consumes,
  and the worker processes (free cores) needed to keep such a GPU fed.

Precision: not applicable. Nothing here is model arithmetic (JPEG decoding,
resizing, a colour-class table lookup, batching, all on integers or in
OpenCV/numpy), so an fp32 and a bf16 column would be the same measurement;
none is given. The header names the CPU, its flags and whether bf16 is native
or emulated on it, and the fp32 / bf16 GEMM rates measured in the same run
(``benchmarks.common.gemm_rates``), to compare machines.

Usage::

    python benchmarks/bench_dataloading.py [--workers 0 1 2] [--batch 6] [--batches N]
        [--decode-frames 500] [--repeat 3] [--gpu-step-s 0.05] [--gemm-size 2048]
        [--smoke] [--out FILE]
"""
from __future__ import annotations

import argparse
import io
import math
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(REPO_ROOT))

import cv2  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from mmengine.registry import init_default_scope  # noqa: E402
from PIL import Image  # noqa: E402
from torch.utils.data import DataLoader  # noqa: E402

from benchmarks.common import (add_output_args, gemm_line, gemm_rates,  # noqa: E402
                               machine_info, machine_line, print_table, results_path,
                               shared_data_root, time_fn, write_results)
from corrflow.datasets.transforms.clip_transforms import nearest_centroid  # noqa: E402

NAME = 'dataloading'
SUBDIR = 'davis2016-train-256'
PIPELINE = [
    dict(type='LoadClipFrames'),
    dict(type='ResizeClip', size=(256, 256)),
    dict(type='QuantiseColour', centroids=None),
    dict(type='PackClipInputs'),
]
# Default GPU step to compare with (an estimate, no GPU was measured): one CorrFlow iteration
# at batch 6, 256x256 is about 2.6 TFLOP (forward + backward, torch.utils.flop_counter); an
# H100 runs the TF32 convolutions at an effective ~100-250 TFLOPS, plus memory-bound layers
# (batch norm, attention over ~4 GB of activations): roughly 30-60 ms; 50 ms is taken.
DEFAULT_GPU_STEP_S = 0.05
PRECISION_NOTE = ('precision: not applicable (no model arithmetic: decoding, resizing, colour '
                  'lookup and batching are the same in an fp32 and a bf16 run)')


def build_dataset(data: Path):
    """The training dataset of the real frames with the clip pipeline (256x256)."""
    init_default_scope('corrflow')
    from corrflow.registry import DATASETS
    root = data / SUBDIR
    if not (root / 'JPEGImages').is_dir():
        raise FileNotFoundError(f'{root}/JPEGImages not found (set CORRFLOW_SHARED_DATA)')
    return DATASETS.build(dict(type='VideoFolder', data_root=str(root),
                               data_prefix=dict(img='JPEGImages'), frames_fps=24.0,
                               target_fps=6.0, clip_length=3, pipeline=PIPELINE))


def frame_files(dataset) -> list[str]:
    """Every frame file the clips of the dataset read, in clip order."""
    files = []
    for i in range(len(dataset)):
        files.extend(dataset.get_data_info(i)['frame_paths'])
    return files


# ---------------------------------------------------------------------------- stages
def time_stages(dataset, num_clips: int) -> list[dict]:
    """ms per clip of every transform of the pipeline, run step by step.

    The first clip is timed apart (``first_clip_ms``): it carries one-off
    set-up such as the colour lookup table that every process builds once.
    """
    transforms = dataset.pipeline.transforms
    totals = [0.0] * len(transforms)
    step = max(1, len(dataset) // num_clips)
    indices = list(range(0, len(dataset), step))[:num_clips]
    first = [0.0] * len(transforms)
    results = dataset.get_data_info(len(dataset) - 1)
    for k, transform in enumerate(transforms):
        start = time.perf_counter()
        results = transform(results)
        first[k] = time.perf_counter() - start
    direct_total = 0.0
    for idx in indices:
        results = dataset.get_data_info(idx)
        for k, transform in enumerate(transforms):
            if hasattr(transform, 'centroids') and 'frames' in results:
                # the same colour classes by the direct rule (Lab + nearest centroid)
                start = time.perf_counter()
                direct = np.stack([nearest_centroid(f, transform.centroids)
                                   for f in results['frames']])
                direct_total += time.perf_counter() - start
            start = time.perf_counter()
            results = transform(results)
            totals[k] += time.perf_counter() - start
            if hasattr(transform, 'centroids') and 'colour_labels' in results:
                assert np.array_equal(direct, results['colour_labels'])
    rows = [dict(stage=type(t).__name__, ms_per_clip=1e3 * total / len(indices),
                 first_clip_ms=1e3 * once)
            for t, total, once in zip(transforms, totals, first)]
    whole = sum(r['ms_per_clip'] for r in rows)
    for row in rows:
        row['share'] = row['ms_per_clip'] / whole
    rows.append(dict(stage='total', ms_per_clip=whole, share=1.0,
                     clips_per_s=1e3 / whole, first_clip_ms=1e3 * sum(first)))
    if direct_total:
        rows.append(dict(stage='(direct Lab rule)', ms_per_clip=1e3 * direct_total / len(indices),
                         note='QuantiseColour without its lookup table: identical classes'))
    return rows


# ---------------------------------------------------------------------------- decoders
def _decoders() -> dict:
    """name -> (decode(bytes) -> RGB array, or an error string when unavailable)."""
    def opencv(data: bytes) -> np.ndarray:
        bgr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
        return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)

    def pil(data: bytes) -> np.ndarray:
        return np.asarray(Image.open(io.BytesIO(data)).convert('RGB'))

    decoders: dict = {'OpenCV cv2.imdecode': opencv, 'PIL Image.open().convert': pil}
    try:
        import simplejpeg
        decoders['simplejpeg'] = lambda data: simplejpeg.decode_jpeg(data, colorspace='RGB')
    except ImportError:
        decoders['simplejpeg'] = 'not available (pip install simplejpeg)'
    try:
        from turbojpeg import TJPF_RGB, TurboJPEG
        jpeg = TurboJPEG()  # raises when libturbojpeg is not found
        decoders['PyTurboJPEG'] = lambda data: jpeg.decode(data, pixel_format=TJPF_RGB)
    except Exception as err:  # ImportError, or OSError/RuntimeError for the library
        decoders['PyTurboJPEG'] = f'not available ({type(err).__name__})'
    return decoders


def time_decoders(files: list[str], repeat: int) -> list[dict]:
    """frames/s of each decoder over the same JPEG bytes (in memory)."""
    from corrflow.datasets.video_io import read_image
    blobs = [Path(f).read_bytes() for f in files]
    decoders = _decoders()
    reference = [decoders['OpenCV cv2.imdecode'](b) for b in blobs]
    rows = []
    for name, decode in decoders.items():
        if isinstance(decode, str):
            rows.append(dict(decoder=name, note=decode))
            continue
        t = time_fn(lambda decode=decode: [decode(b) for b in blobs], repeat=repeat, warmup=1)
        diff = float(np.mean([np.abs(decode(b).astype(np.int16) - r).mean()
                              for b, r in zip(blobs[:50], reference[:50])]))
        rows.append(dict(decoder=name, frames_per_s=len(blobs) / t['median_s'],
                         ms_per_frame=1e3 * t['median_s'] / len(blobs), mean_abs_diff=diff,
                         note='from bytes in memory'))
    t = time_fn(lambda: [read_image(f) for f in files], repeat=repeat, warmup=1)
    rows.append(dict(decoder='pipeline read_image', frames_per_s=len(files) / t['median_s'],
                     ms_per_frame=1e3 * t['median_s'] / len(files), mean_abs_diff=0.0,
                     note='file read + cv2.imdecode + BGR->RGB'))
    base = rows[0]['frames_per_s']
    for row in rows:
        if 'frames_per_s' in row:
            row['vs_opencv'] = row['frames_per_s'] / base
    return rows


# ---------------------------------------------------------------------------- loader
def time_loader(dataset, workers: int, batch: int, num_batches: int, seed: int = 0) -> dict:
    """Throughput of a shuffled DataLoader over ``num_batches`` batches (workers started inside)."""
    from corrflow.datasets.collate import sample_list_collate
    loader = DataLoader(dataset, batch_size=batch, shuffle=True, num_workers=workers,
                        collate_fn=sample_list_collate, drop_last=True,
                        generator=torch.Generator().manual_seed(seed))
    clips, first_s, first_clips = 0, None, 0
    start = time.perf_counter()
    iterator = iter(loader)
    for _ in range(num_batches):
        data = next(iterator)
        clips += len(data['inputs'])
        if first_s is None:
            first_s, first_clips = time.perf_counter() - start, clips
    total_s = time.perf_counter() - start
    del iterator  # shuts the workers down
    steady = ((clips - first_clips) / (total_s - first_s)) if clips > first_clips else None
    return dict(workers=workers, batches=num_batches, clips=clips, first_batch_s=first_s,
                total_s=total_s, clips_per_s=clips / total_s, steady_clips_per_s=steady,
                steady_iter_per_s=steady / batch if steady else None)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--workers', type=int, nargs='+', default=[0, 1, 2],
                        help='DataLoader worker counts (default 0 1 2)')
    parser.add_argument('--batch', type=int, default=6, help='clips per batch (default 6)')
    parser.add_argument('--batches', type=int, default=None,
                        help='batches per worker count (default: one pass over the data)')
    parser.add_argument('--decode-frames', type=int, default=500,
                        help='frames of the decoding micro-benchmark')
    parser.add_argument('--stage-clips', type=int, default=60,
                        help='clips of the per-stage timing')
    parser.add_argument('--repeat', type=int, default=3, help='runs of the decoding timing')
    parser.add_argument('--opencv-threads', type=int, default=0,
                        help='cv2.setNumThreads (default 0 = single-threaded, as in training)')
    parser.add_argument('--gpu-step-s', type=float, default=DEFAULT_GPU_STEP_S,
                        help='GPU training step (s) to compare with (default %(default)s: an '
                             'estimate for an H100 at batch 6, 256x256)')
    parser.add_argument('--gemm-size', type=int, default=2048,
                        help='side of the torch.mm of the header\'s fp32 / bf16 GEMM rates')
    add_output_args(parser, NAME, 'a few clips and frames, seconds')
    args = parser.parse_args(argv)
    if args.smoke:
        args.workers, args.batch, args.batches = [0, 1], 2, 2
        args.decode_frames, args.stage_clips, args.repeat = 12, 2, 1
        args.gemm_size = 256
    cv2.setNumThreads(args.opencv_threads)

    machine = machine_info('cpu')
    machine['opencv'] = cv2.__version__
    machine['opencv_threads'] = cv2.getNumThreads()
    print(machine_line(machine))
    print(f'OpenCV {cv2.__version__} ({cv2.getNumThreads()} threads)')
    gemm = gemm_rates(['fp32', 'bf16'], args.gemm_size, repeat=3, warmup=1)
    print(gemm_line(gemm, torch.get_num_threads()))
    print(PRECISION_NOTE)
    dataset = build_dataset(shared_data_root())
    files = frame_files(dataset)
    for f in files:  # warm the page cache: measure decoding, not the disk
        Path(f).read_bytes()
    num_batches = args.batches or len(dataset) // args.batch
    print(f'{len(dataset)} clips of 3 frames from {SUBDIR} ({len(files)} frame reads), '
          f'resized to 256x256\n')

    stages = time_stages(dataset, args.stage_clips)
    print_table(stages, [('stage', 'stage'), ('ms_per_clip', 'ms/clip', '.2f'),
                         ('share', 'share', '.0%'), ('clips_per_s', 'clips/s', '.1f'),
                         ('first_clip_ms', 'first clip ms', '.1f')],
                title=f'pipeline stages, main process ({args.stage_clips} clips)')

    step = max(1, len(files) // args.decode_frames)
    decode_files = files[::step][:args.decode_frames]
    decoding = time_decoders(decode_files, args.repeat)
    height, width = cv2.imread(decode_files[0]).shape[:2]
    print_table(decoding, [('decoder', 'decoder'), ('frames_per_s', 'frames/s', '.0f'),
                           ('ms_per_frame', 'ms/frame', '.2f'), ('vs_opencv', 'vs OpenCV', '.2f'),
                           ('mean_abs_diff', 'mean |diff|', '.2f'), ('note', 'note')],
                title=f'JPEG decoding, {len(decode_files)} frames of about {width}x{height}, '
                      f'median of {args.repeat}')

    need = args.batch / args.gpu_step_s
    loader = [time_loader(dataset, w, args.batch, num_batches) for w in args.workers]
    for row in loader:
        steady = row['steady_clips_per_s']
        row['clips_per_s_per_process'] = steady / max(1, row['workers']) if steady else None
        row['vs_gpu_need'] = steady / need if steady else None
    print_table(loader, [('workers', 'workers'), ('clips', 'clips'),
                         ('first_batch_s', 'first batch s', '.2f'),
                         ('clips_per_s', 'clips/s', '.1f'),
                         ('steady_clips_per_s', 'steady clips/s', '.1f'),
                         ('steady_iter_per_s', f'iter/s (batch {args.batch})', '.2f'),
                         ('vs_gpu_need', f'x need of {args.gpu_step_s * 1e3:.0f} ms step',
                          '.2f')],
                title=f'DataLoader, shuffled, batch {args.batch}, {num_batches} batches')
    per_process = max((r['clips_per_s_per_process'] or 0.0) for r in loader)
    workers_needed = math.ceil(need / per_process) if per_process else None
    print(f'a GPU step of {args.gpu_step_s:.3f} s at batch {args.batch} consumes {need:.0f} '
          f'clips/s; one loading process sustains up to {per_process:.1f} clips/s, so about '
          f'{workers_needed} worker processes (free cores) keep such a GPU fed')

    path = results_path(NAME, args.out, args.smoke)
    if path:
        settings = dict(data=SUBDIR, clips=len(dataset), pipeline=PIPELINE, batch=args.batch,
                        batches=num_batches, workers=args.workers,
                        decode_frames=len(decode_files), frame_size=[width, height],
                        repeat=args.repeat, opencv_threads=args.opencv_threads,
                        gpu_step_s=args.gpu_step_s, clips_per_s_needed=need,
                        clips_per_s_per_process=per_process, workers_needed=workers_needed,
                        page_cache='warm (every frame read once before timing)')
        write_results(NAME, dict(stages=stages, decoding=decoding, dataloader=loader),
                      extra=dict(settings=settings, gemm=gemm, precision=PRECISION_NOTE),
                      path=path, machine=machine)
        print(f'wrote {path}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
