"""A progress bar over the videos of an evaluation, and its throughput."""
from __future__ import annotations

import resource
import sys
import time

import torch
from mmengine.dist import get_rank, get_world_size
from mmengine.hooks import Hook
from mmengine.utils import ProgressBar

from corrflow.registry import HOOKS


@HOOKS.register_module()
class VideoProgressHook(Hook):
    """Show a progress bar over the videos of test and validation runs (rank 0).

    With several ranks, rank 0 shows its own share of the videos. At the end,
    rank 0 logs its videos, frames, wall time, frames per second and peak
    memory (the process's peak RSS so far; on a GPU also the peak allocated CUDA
    memory of the run).
    """

    priority = 'LOW'

    def __init__(self) -> None:
        self._bar: ProgressBar | None = None
        self._videos = 0
        self._frames = 0
        self._start_time = 0.0

    def _start(self, runner, loop) -> None:
        if get_rank() == 0:
            total = len(loop.dataloader)
            if get_world_size() > 1:
                runner.logger.info(f'{len(loop.dataloader.dataset)} videos over '
                                   f'{get_world_size()} ranks; rank 0 evaluates {total}')
            self._bar = ProgressBar(total)
            self._videos = self._frames = 0
            self._start_time = time.perf_counter()
            if torch.cuda.is_available():
                torch.cuda.reset_peak_memory_stats()

    def _step(self, data_batch) -> None:
        if self._bar is not None:
            self._bar.update()
            for video in (data_batch or {}).get('inputs', []):
                self._videos += 1
                self._frames += len(video)

    def _stop(self, runner) -> None:
        if self._bar is None:
            return
        self._bar.file.write('\n')
        self._bar = None
        seconds = time.perf_counter() - self._start_time
        # ru_maxrss is in KiB on Linux, bytes on macOS
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        rss_mib = rss / 2**20 if sys.platform == 'darwin' else rss / 2**10
        memory = f'process peak RSS {rss_mib:.0f} MiB'
        if torch.cuda.is_available():
            memory += f', peak CUDA memory {torch.cuda.max_memory_allocated() / 2**20:.0f} MiB'
        fps = self._frames / seconds if seconds > 0 else float('nan')
        runner.logger.info(f'{self._videos} videos, {self._frames} frames in {seconds:.1f} s: '
                           f'{fps:.2f} frames/s; {memory}')

    def before_test_epoch(self, runner) -> None:
        self._start(runner, runner.test_loop)

    def after_test_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        self._step(data_batch)

    def after_test_epoch(self, runner, metrics=None) -> None:
        self._stop(runner)

    def before_val_epoch(self, runner) -> None:
        self._start(runner, runner.val_loop)

    def after_val_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        self._step(data_batch)

    def after_val_epoch(self, runner, metrics=None) -> None:
        self._stop(runner)
