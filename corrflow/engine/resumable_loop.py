"""Iteration-based training that resumes exactly, without replaying the data."""
from __future__ import annotations

import itertools
import logging

from mmengine.dataset import InfiniteSampler
from mmengine.dist import get_rank
from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.runner import IterBasedTrainLoop
from mmengine.runner.loops import _InfiniteDataloaderIterator
from torch.utils.data import DataLoader

from corrflow.engine.random_state import (PositionSeededDataset, capture_random_state,
                                          random_state_preserved, restore_random_state)
from corrflow.registry import DATA_SAMPLERS, HOOKS, LOOPS
from corrflow.errors import ConfigError

RANDOM_STATE_KEY = 'random_state'


@DATA_SAMPLERS.register_module()
class ResumableInfiniteSampler(InfiniteSampler):
    """:class:`mmengine.dataset.InfiniteSampler` that can jump ahead.

    :meth:`skip` restarts the index stream of this rank at a given position
    without producing the skipped samples, so a resumed run sees exactly the
    samples an uninterrupted run would have seen.

    With ``with_positions`` set (:class:`ResumableIterBasedTrainLoop` sets it)
    it yields ``(index, position)`` pairs, the position counting this rank's
    samples from the start of the run, for a :class:`PositionSeededDataset`.
    """

    def __init__(self, dataset, shuffle: bool = True, seed: int | None = None) -> None:
        if len(dataset) == 0:
            raise ConfigError(f'the training dataset ({type(dataset).__name__}) has no samples; '
                             'check its data_root (tools/train.py --data-root DIR) and lists')
        super().__init__(dataset, shuffle=shuffle, seed=seed)
        self.with_positions = False
        self._start = 0

    def __iter__(self):
        if not self.with_positions:
            yield from self.indices
            return
        for position, index in enumerate(self.indices, start=self._start):
            yield index, position

    def skip(self, num_samples: int) -> None:
        """Restart the stream of this rank's indices at position ``num_samples``."""
        self.indices = itertools.islice(self._indices_of_rank(), num_samples, None)
        self._start = num_samples


class _SkipBatches:
    """Iterator whose first ``n`` items are placeholders, then those of ``inner``."""

    def __init__(self, inner, n: int) -> None:
        self.inner = inner
        self.remaining = n

    def __iter__(self):
        return self

    def __next__(self):
        if self.remaining > 0:
            self.remaining -= 1
            return None
        return next(self.inner)


@HOOKS.register_module()
class RandomStateHook(Hook):
    """Store the main process's random state in checkpoints and hand it back on resume.

    :class:`ResumableIterBasedTrainLoop` registers it; it need not be listed in
    a config. The state is saved under ``checkpoint['random_state']`` and
    restored by the loop just before the first resumed iteration.
    """

    priority = 'VERY_LOW'

    def __init__(self) -> None:
        self.loaded = None
        self.resumed_without_state = False

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        checkpoint[RANDOM_STATE_KEY] = capture_random_state()

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        self.loaded = checkpoint.get(RANDOM_STATE_KEY)
        self.resumed_without_state = self.loaded is None


@LOOPS.register_module()
class ResumableIterBasedTrainLoop(IterBasedTrainLoop):
    """:class:`mmengine.runner.IterBasedTrainLoop` that resumes bit-exactly.

    With a :class:`ResumableInfiniteSampler`:

    - resuming at iteration N moves the sampler to sample N x batch instead of
      loading and discarding every batch already trained on;
    - every sample is loaded under generators seeded by its position
      (:class:`~corrflow.engine.random_state.PositionSeededDataset`), so the
      data of an iteration does not depend on the number of workers or on
      where the run was interrupted;
    - checkpoints carry the main process's random state (:class:`RandomStateHook`),
      restored before the first resumed iteration; validation runs leave it
      untouched.

    A run resumed from one of its checkpoints then computes the same losses,
    iteration by iteration, as the uninterrupted run. With any other sampler the
    loop behaves as the parent class.
    """

    def __init__(self, runner, dataloader, max_iters: int, val_begin: int = 1,
                 val_interval: int = 1000, dynamic_intervals=None) -> None:
        if isinstance(dataloader, dict):
            dataloader = runner.build_dataloader(
                dataloader, seed=runner.seed,
                diff_rank_seed=runner._randomness_cfg.get('diff_rank_seed', False))
        self.seeded = isinstance(getattr(dataloader, 'sampler', None), ResumableInfiniteSampler)
        if self.seeded:
            dataloader = _position_seeded(dataloader, runner.seed, get_rank())
        super().__init__(runner, dataloader, max_iters, val_begin=val_begin,
                         val_interval=val_interval, dynamic_intervals=dynamic_intervals)
        self.random_state_hook = None
        if self.seeded:
            self.random_state_hook = RandomStateHook()
            runner.register_hook(self.random_state_hook)

    def run(self):
        self.resumed_from = self._iter  # 0 for a fresh run
        sampler = getattr(self.dataloader, 'sampler', None)
        if self._iter > 0 and isinstance(sampler, ResumableInfiniteSampler):
            sampler.skip(self._iter * self.dataloader.batch_size)
            self.dataloader_iterator = _SkipBatches(
                _InfiniteDataloaderIterator(self.dataloader), self._iter)
        self.runner.call_hook('before_train')
        self.runner.call_hook('before_train_epoch')
        if self._iter > 0:
            for _ in range(self._iter):  # placeholders with a ResumableInfiniteSampler
                next(self.dataloader_iterator)
            self._restore_random_state()
        while self._iter < self._max_iters and not self.stop_training:
            self.runner.model.train()
            data_batch = next(self.dataloader_iterator)
            self.run_iter(data_batch)
            self._decide_current_val_interval()
            if (self.runner.val_loop is not None and self._iter >= self.val_begin
                    and (self._iter % self.val_interval == 0
                         or self._iter == self._max_iters)):
                with random_state_preserved():  # validation draws nothing from training's
                    self.runner.val_loop.run()
        self.runner.call_hook('after_train_epoch')
        self.runner.call_hook('after_train')
        return self.runner.model

    def _restore_random_state(self) -> None:
        hook = self.random_state_hook
        if hook is None:
            return
        if hook.loaded is not None:
            restore_random_state(hook.loaded)
            hook.loaded = None
        elif hook.resumed_without_state:
            print_log('the checkpoint holds no random state (saved by an older version): '
                      'the run continues, but not bit-exactly as it would have',
                      logger='current', level=logging.WARNING)


def _position_seeded(loader: DataLoader, seed: int, rank: int) -> DataLoader:
    """The same loader, over a :class:`PositionSeededDataset` fed with sample positions."""
    loader.sampler.with_positions = True
    kwargs = dict(num_workers=loader.num_workers, collate_fn=loader.collate_fn,
                  pin_memory=loader.pin_memory, timeout=loader.timeout,
                  worker_init_fn=loader.worker_init_fn,
                  multiprocessing_context=loader.multiprocessing_context,
                  generator=loader.generator, persistent_workers=loader.persistent_workers,
                  pin_memory_device=loader.pin_memory_device)
    if loader.num_workers > 0:
        kwargs['prefetch_factor'] = loader.prefetch_factor
    dataset = PositionSeededDataset(loader.dataset, seed, rank)
    if loader.batch_size is not None:  # keeps .sampler and .batch_size, which mmengine reads
        return DataLoader(dataset, sampler=loader.sampler, batch_size=loader.batch_size,
                          drop_last=loader.drop_last, **kwargs)
    return DataLoader(dataset, batch_sampler=loader.batch_sampler, **kwargs)
