"""Iteration-based training that resumes without replaying the data."""
from __future__ import annotations

import itertools

from mmengine.dataset import InfiniteSampler
from mmengine.runner import IterBasedTrainLoop
from mmengine.runner.loops import _InfiniteDataloaderIterator

from corrflow.registry import DATA_SAMPLERS, LOOPS


@DATA_SAMPLERS.register_module()
class ResumableInfiniteSampler(InfiniteSampler):
    """:class:`mmengine.dataset.InfiniteSampler` that can jump ahead.

    :meth:`skip` restarts the index stream of this rank at a given position
    without producing the skipped samples, so a resumed run sees exactly the
    samples an uninterrupted run would have seen.
    """

    def __init__(self, dataset, shuffle: bool = True, seed: int | None = None) -> None:
        if len(dataset) == 0:
            raise ValueError(f'the training dataset ({type(dataset).__name__}) has no samples; '
                             'check its data_root (tools/train.py --data-root DIR) and lists')
        super().__init__(dataset, shuffle=shuffle, seed=seed)

    def skip(self, num_samples: int) -> None:
        """Restart the stream of this rank's indices at position ``num_samples``."""
        self.indices = itertools.islice(self._indices_of_rank(), num_samples, None)


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


@LOOPS.register_module()
class ResumableIterBasedTrainLoop(IterBasedTrainLoop):
    """:class:`mmengine.runner.IterBasedTrainLoop` with a fast resume.

    mmengine resumes an iteration-based run by loading and discarding every
    batch already trained on; with a :class:`ResumableInfiniteSampler` this loop
    moves the sampler instead, so resuming at iteration N costs no data loading.
    With any other sampler it behaves as the parent class.
    """

    def run(self):
        sampler = getattr(self.dataloader, 'sampler', None)
        if self._iter > 0 and isinstance(sampler, ResumableInfiniteSampler):
            sampler.skip(self._iter * self.dataloader.batch_size)
            self.dataloader_iterator = _SkipBatches(
                _InfiniteDataloaderIterator(self.dataloader), self._iter)
        return super().run()
