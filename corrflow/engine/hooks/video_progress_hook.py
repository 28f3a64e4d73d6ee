"""A progress bar over the videos of an evaluation."""
from __future__ import annotations

from mmengine.dist import get_rank, get_world_size
from mmengine.hooks import Hook
from mmengine.utils import ProgressBar

from corrflow.registry import HOOKS


@HOOKS.register_module()
class VideoProgressHook(Hook):
    """Show a progress bar over the videos of test and validation runs (rank 0).

    With several ranks, rank 0 shows its own share of the videos.
    """

    priority = 'LOW'

    def __init__(self) -> None:
        self._bar: ProgressBar | None = None

    def _start(self, runner, loop) -> None:
        if get_rank() == 0:
            total = len(loop.dataloader)
            if get_world_size() > 1:
                runner.logger.info(f'{len(loop.dataloader.dataset)} videos over '
                                   f'{get_world_size()} ranks; rank 0 evaluates {total}')
            self._bar = ProgressBar(total)

    def _step(self) -> None:
        if self._bar is not None:
            self._bar.update()

    def _stop(self) -> None:
        if self._bar is not None:
            self._bar.file.write('\n')
            self._bar = None

    def before_test_epoch(self, runner) -> None:
        self._start(runner, runner.test_loop)

    def after_test_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        self._step()

    def after_test_epoch(self, runner, metrics=None) -> None:
        self._stop()

    def before_val_epoch(self, runner) -> None:
        self._start(runner, runner.val_loop)

    def after_val_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        self._step()

    def after_val_epoch(self, runner, metrics=None) -> None:
        self._stop()
